"""A precompiled INSERT writes exactly what Django's own compiler would, for every row after the first."""

import datetime as dt

import pytest
from django.db.models import Value
from django.db.models.functions import Now
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from yiwang.cases.models import Case, CaseEvent
from yiwang.core import inserts
from yiwang.core.inserts import compile_insert


def _django(obj):
    model = type(obj)
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    return inserts._compile(obj, model, "default", fields)


def _values(compiled) -> list:
    """The parameters, comparable: PostgreSQL's JSON adapter (psycopg's Jsonb) has no equality of its own."""
    return [(type(p).__name__, p.obj) if hasattr(p, "obj") and hasattr(p, "dumps") else (type(p).__name__, p)
            for p in compiled.params]


def _case(world, **overrides):
    unit = world.units["xfl_sh"]
    matter = world.matters["senior"]
    values = dict(
        kind="application", matter_id=matter.id, matter_version_id=matter.current_version_id, title="老年优待证",
        form_data={"birth_date": "1950-01-01", "名": ["甲", 1, None]}, materials=[{"code": "id_card"}],
        applicant_name="王大爷", applicant_phone="13800000001", channel="hall", region_id=unit.region_id,
        region_path=unit.region.path, state="submitted", holder_unit_id=unit.id,
        created_at=dt.datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=dt.UTC), version=1, last_hash="a" * 64,
        idempotency_key=None, due_at=dt.datetime(2026, 12, 3, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    )
    return Case(**{**values, **overrides})


@pytest.mark.django_db
def test_a_row_after_the_first_gets_the_sql_and_parameters_of_djangos_compiler(world):
    inserts._plans.clear()
    compile_insert(_case(world))  # the first builds the plan
    for case in (_case(world, lat=34.5, lng=108.7, home_visit=True, description="描述"),
                 _case(world, form_data={}, materials=[], due_at=None, applicant_phone=""),
                 _case(world, title=gettext_lazy("老年证办理"), applicant_name=SafeString("王"), lat=None)):
        fast, django = compile_insert(case), _django(case)
        assert (fast.sql, _values(fast), fast.returning_params) == (django.sql, _values(django), django.returning_params)
    event = CaseEvent(case_id=1, seq=1, at=dt.datetime(2026, 11, 26, tzinfo=dt.UTC), actor_id=None, action="submit",
                      to_state="submitted", payload={"note": "按就近就低原则"}, hash="b" * 64, region_path="KG")
    compile_insert(event)
    fast, django = compile_insert(event), _django(event)
    assert (fast.sql, _values(fast)) == (django.sql, _values(django))


@pytest.mark.django_db
def test_an_expression_value_goes_through_djangos_compiler(world):
    inserts._plans.clear()
    compile_insert(_case(world))
    case = _case(world, title=Value("x"))
    compiled, django = compile_insert(case), _django(case)
    assert (compiled.sql, _values(compiled)) == (django.sql, _values(django))
    # As before the plans: an expression that is not one parameter cannot be precompiled.
    with pytest.raises(ValueError, match="several parameters"):
        compile_insert(_case(world, created_at=Now()))


@pytest.mark.django_db
@pytest.mark.tampers  # rows written behind the services' back: the tallies are not this test's concern
def test_the_precompiled_insert_writes_the_row(world):
    inserts._plans.clear()
    for title in ("一", "二"):
        case = _case(world, title=title)
        insert = compile_insert(case)
        case.pk = insert.execute()
        stored = Case.objects.get(pk=case.pk)
        assert (stored.title, stored.form_data, stored.due_at) == (title, case.form_data, case.due_at)
