"""The catalogue: publishing versions, validation, and cases keeping their snapshot."""

import pytest

from yiwang.cases.services import case_act, case_create
from yiwang.catalog.formschema import compile_checker
from yiwang.catalog.models import Matter
from yiwang.catalog.selectors import matter_info
from yiwang.catalog.services import matter_publish
from yiwang.core.errors import ValidationFailed
from yiwang.testing import SENIOR_CARD_FORM, SENIOR_OK


def test_editing_a_matter_never_changes_an_opened_case(world):
    case = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter.time_limit = 20
    matter.name = "老年优待证办理"
    matter_publish(matter=matter)
    assert matter_info("SENIOR_CARD").time_limit == 20
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=1)
    assert case.matter_version.snapshot["time_limit"] == 5
    new = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                      **SENIOR_OK).case
    assert new.matter_version_id != case.matter_version_id


def test_each_publication_is_a_new_version(world):
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter_publish(matter=matter)
    assert list(matter.versions.values_list("number", flat=True).order_by("number")) == [1, 2]


@pytest.mark.parametrize("field, value", [
    ("handling_levels", ["village"]),
    ("responsible_unit_kind", "bakery"),
    ("materials", [{"name": "no code"}]),
    ("form_schema", {"type": "object", "properties": {"x": {"type": "file"}}}),
    ("form_schema", {"type": "object", "properties": {"x": {"type": "string", "oneOf": []}}}),
    ("form_schema", {"type": "object", "properties": {}, "required": ["ghost"]}),
])
def test_a_bad_matter_is_refused_naming_the_field(world, field, value):
    matter = Matter.objects.get(code="SENIOR_CARD")
    setattr(matter, field, value)
    with pytest.raises(ValidationFailed) as err:
        matter_publish(matter=matter)
    assert err.value.field == field


@pytest.mark.parametrize("form, field", [
    ({}, "form.birth_date"),
    ({"birth_date": "1950-02-30"}, "form.birth_date"),
    ({"birth_date": 1950}, "form.birth_date"),
    ({"birth_date": "1950-01-01", "reason": "x" * 101}, "form.reason"),
    ({"birth_date": "1950-01-01", "shoe_size": 42}, "form.shoe_size"),
])
def test_the_form_checker_names_each_bad_field(form, field):
    assert field in compile_checker(SENIOR_CARD_FORM)(form)


def test_a_good_form_has_no_errors():
    assert compile_checker(SENIOR_CARD_FORM)({"birth_date": "1950-01-01", "reason": "满60岁"}) == {}


def test_numbers_booleans_enums_and_patterns_are_checked():
    check = compile_checker({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 3}, "b": {"type": "boolean"},
        "e": {"type": "string", "enum": ["a", "b"]}, "p": {"type": "string", "pattern": "[0-9]{3}"},
    }})
    assert set(check({"n": 4, "b": "yes", "e": "c", "p": "12"})) == {"form.n", "form.b", "form.e", "form.p"}
    assert check({"n": True}) == {"form.n": ["须为整数。"]}
    assert check({"n": 2, "b": False, "e": "a", "p": "123"}) == {}
