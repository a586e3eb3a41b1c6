"""ID numbers (GB 11643) in free text are masked as a registered one is; nothing else is touched."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.core.idnumber import check_digit, find_in_text, is_valid, mask, mask_data, mask_text

VALID = "61040219500101123X"


def test_the_checksum_is_gb_11643s():
    assert is_valid(VALID) and is_valid(VALID.lower())
    assert not is_valid("610402195001011231") and not is_valid("6104021950010112") and not is_valid("")


@pytest.mark.parametrize(("text", "shown"), [
    ("身份证 61040219500101123X 请核对", "身份证 6104************3X 请核对"),
    ("身份证号61040219500101123x。", "身份证号6104************3x。"),
    ("校验位错了也遮：610402195001011231", "校验位错了也遮：6104************31"),  # a typo is still personal
    ("sfz61040219500101123X", "sfz6104************3X"),  # glued to letters is still a number
    ("电话13800000001", "电话138****0001"),
])
def test_id_and_mobile_numbers_in_text_are_masked(text, shown):
    assert mask_text(text) == shown


@pytest.mark.parametrize("text", [
    "YW202611260000000012",  # a case number, even once its id has ten digits
    "6104021950010112310",  # 19 digits (a bank card)
    "第 3 批 12 项，2026-11-26 · 91610000MA6TG1XX0Q",
])
def test_other_numbers_are_left_alone(text):
    assert mask_text(text) == text


def test_staff_pages_keep_a_call_back_number():
    assert mask_text(f"{VALID} 13800000001", phones=False) == "6104************3X 13800000001"


def test_json_data_is_masked_string_by_string():
    data = {"a": [VALID, 1, None, {"b": f"id={VALID}"}], "n": 610402}
    assert mask_data(data) == {"a": [mask(VALID), 1, None, {"b": "id=" + mask(VALID)}], "n": 610402}


def test_the_numbers_in_a_text_are_found_once_each():
    assert find_in_text(f"{VALID.lower()}、{VALID}；610402195001011231") == [VALID, "610402195001011231"]


@given(st.text(alphabet="0123456789 号码：Xx-", max_size=60),
       st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_no_id_number_survives_and_masking_twice_changes_nothing(prefix, first17):
    number = first17 + check_digit(first17)
    shown = mask_text(f"{prefix} {number} 请回电")
    assert number not in shown and mask_text(shown) == shown
