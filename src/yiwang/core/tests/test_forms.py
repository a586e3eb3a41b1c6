"""core.forms.integer: the one way pages read a number, refusing with a 400 that names the field."""

import pytest

from yiwang.core import forms
from yiwang.core.errors import BadParameter


@pytest.mark.parametrize(("raw", "value"), [("0", 0), ("42", 42), (" 7 ", 7), ("+3", 3), ("2147483647", 2**31 - 1)])
def test_it_reads_whole_numbers(raw, value):
    assert forms.integer(raw, "n") == value


@pytest.mark.parametrize("raw", ["2147483648", "99999999999999999999", "-1", "²", "١٢", "1e3", "1.0", "1_000",
                                 "0x10", "abc", "", None, " "])
def test_it_refuses_anything_else_naming_the_field(raw):
    with pytest.raises(BadParameter) as refused:
        forms.integer(raw, "due_days")
    assert refused.value.status == 400 and refused.value.field == "due_days"
    assert "due_days" in refused.value.message and refused.value.errors == {"due_days": [refused.value.message]}


def test_it_takes_the_bounds_of_the_use():
    assert forms.integer("-5", "offset", minimum=-10) == -5
    assert forms.integer(str(2**63 - 1), "id", maximum=forms.MAX_BIGINT) == 2**63 - 1
    with pytest.raises(BadParameter):
        forms.integer(str(2**63), "id", maximum=forms.MAX_BIGINT)
    with pytest.raises(BadParameter):
        forms.integer("31", "day", maximum=30)


def test_an_empty_value_is_the_default_or_none():
    assert forms.integer("", "days", default=30) == 30
    assert forms.integer(None, "days", default=30) == 30
    with pytest.raises(BadParameter):
        forms.integer("x", "days", default=30)  # a default stands for nothing sent, not for junk
    assert forms.optional_integer("", "leader") is None
    assert forms.optional_integer("5", "leader") == 5


def test_a_repeated_field_is_refused_whole_for_one_bad_value():
    assert forms.integers(["1", "2"], "ids") == [1, 2]
    with pytest.raises(BadParameter):
        forms.integers(["1", "99999999999999999999"], "ids", maximum=forms.MAX_BIGINT)
