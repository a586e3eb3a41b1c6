"""A form's fields keep the order their author wrote, on PostgreSQL too (jsonb reorders keys)."""

import pytest

from yiwang.catalog.formschema import ordered_fields, validate_schema
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create
from yiwang.core.errors import ValidationFailed

SCHEMA = {"type": "object", "properties": {"zeta_long_name": {"type": "string"}, "a": {"type": "integer"},
                                           "mid": {"type": "boolean"}}}


@pytest.mark.django_db
def test_the_written_order_survives_the_database(world):
    matter_create(code="ORDERED", name="顺序", kind="application", handling_levels=["community"],
                  responsible_unit_kind="service_hall", form_schema=SCHEMA)
    stored = Matter.objects.get(code="ORDERED")
    assert [name for name, _spec in ordered_fields(stored.form_schema)] == ["zeta_long_name", "a", "mid"]
    snapshot = stored.current_version.snapshot["form_schema"]
    assert [name for name, _spec in ordered_fields(snapshot)] == ["zeta_long_name", "a", "mid"]


@pytest.mark.parametrize("order", [["a"], ["a", "mid", "zeta_long_name", "x"], "a,mid"])
def test_an_order_that_does_not_list_every_field_once_is_refused(order):
    with pytest.raises(ValidationFailed):
        validate_schema({**SCHEMA, "x-order": order})
