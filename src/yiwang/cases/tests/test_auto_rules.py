"""免申即享: rules as data, validated; evaluated when a resident's data changes and on the daily
sweep; the case opened and closed by the system with the rule on its timeline; once per resident."""

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, Notification
from yiwang.cases.tasks import apply_auto_rules
from yiwang.catalog.autorules import age_on, validate_rule
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create, matter_publish
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.org.models import Level
from yiwang.org.services import region_create, resident_create, resident_update

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
SENIOR_RULE = {"conditions": [{"field": "age", "op": ">=", "value": 60}, {"field": "region", "op": "within", "value": "XX"}],
               "note": "年满60周岁的新区户籍居民"}


def at(day: dt.date):
    return clock.frozen_at(dt.datetime.combine(day, dt.time(3, 0), tzinfo=TZ))


@pytest.fixture
def senior_rule(world):
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter.auto_rule = SENIOR_RULE
    matter_publish(matter=matter)
    return matter


# --- the rule language ----------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [{}, SENIOR_RULE, {"conditions": [{"field": "poverty", "op": "is", "value": True}]}])
def test_good_rules_pass(rule):
    assert validate_rule(rule) == []


@pytest.mark.parametrize("rule", [
    {"conditions": []}, {"when": []}, [1], {"conditions": [{"field": "salary", "op": ">=", "value": 1}]},
    {"conditions": [{"field": "age", "op": "is", "value": 60}]},
    {"conditions": [{"field": "age", "op": ">=", "value": "sixty"}]},
    {"conditions": [{"field": "age", "op": ">=", "value": True}]},
    {"conditions": [{"field": "region", "op": "within", "value": "/XX/"}]},
    {"conditions": [{"field": "poverty", "op": "is", "value": 1}]},
    {"conditions": [{"field": "age", "op": ">="}]},
    {"conditions": [{"field": "age", "op": ">=", "value": 60}], "then": "approve"},
])
def test_bad_rules_are_explained(rule):
    assert validate_rule(rule)


def test_a_matter_with_a_bad_rule_is_not_published(world):
    with pytest.raises(ValidationFailed) as err:
        matter_create(code="X1", name="x", kind="application", handling_levels=["community"],
                      responsible_unit_kind="service_hall", auto_rule={"conditions": [{"field": "age", "op": "~", "value": 1}]})
    assert "auto_rule" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        matter_create(code="X2", name="x", kind="incident", handling_levels=["town"],
                      responsible_unit_kind="command_centre", auto_rule=SENIOR_RULE)
    assert err.value.field == "auto_rule"


def test_age_counts_full_years_and_a_leap_day_birthday_moves_to_1_march():
    leap = dt.date(1964, 2, 29)
    assert age_on(leap, dt.date(2024, 2, 28)) == 59
    assert age_on(leap, dt.date(2024, 2, 29)) == 60
    assert age_on(leap, dt.date(2025, 2, 28)) == 60
    assert age_on(leap, dt.date(2025, 3, 1)) == 61


@given(birth=st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)), years=st.integers(0, 100))
def test_age_rises_by_exactly_one_each_year(birth, years):
    day = birth + dt.timedelta(days=int(years * 365.25))
    assert age_on(birth, day + dt.timedelta(days=366)) - age_on(birth, day) in (1, 2) or years == 0
    assert age_on(birth, birth) == 0 and age_on(birth, day) >= 0


# --- issuing ---------------------------------------------------------------------------------------

def test_the_sweep_issues_the_card_to_those_it_applies_to_once(senior_rule, world):
    young = resident_create(name="小张", phone="13900000003", region=world.regions["xfl"], birth_date=dt.date(1990, 1, 1))
    counts = apply_auto_rules()
    assert counts["issued"] == 1  # 王大爷 (b. 1950, no birth date stored for 李阿姨)
    case = Case.objects.get(channel="system")
    assert case.applicant == world.residents["wang"] or case.applicant_id == world.residents["wang"].pk
    assert (case.state, case.decision, case.holder_unit_id) == ("closed", "approved", world.units["xfl_sh"].id)
    events = list(case.events.order_by("seq"))
    assert [e.action for e in events] == ["submit", "accept", "decide", "close"]
    assert all(e.actor_id is None for e in events)
    assert events[0].payload["auto_rule"] == SENIOR_RULE and events[0].payload["reasons"][0].startswith("周岁 >= 60: ✓")
    assert verify_events(events, case.last_hash) is None
    note = Notification.objects.get(resident=world.residents["wang"])
    assert note.kind == "auto_issued" and case.number in note.message
    assert apply_auto_rules()["issued"] == 0
    assert not Case.objects.filter(applicant=young).exists()


def test_a_birthday_on_29_february_is_honoured(senior_rule, world):
    resident = resident_create(name="闰日", phone="13900000004", region=world.regions["xfl"],
                               birth_date=dt.date(1965, 2, 28))
    resident_update(resident=resident, birth_date=dt.date(1964, 2, 29))
    with at(dt.date(2024, 2, 28)):
        apply_auto_rules(resident_ids=[resident.pk])
    assert not Case.objects.filter(applicant=resident).exists()
    with at(dt.date(2024, 2, 29)):
        assert apply_auto_rules(resident_ids=[resident.pk])["issued"] == 1


def test_someone_who_moved_out_of_the_district_gets_nothing(senior_rule, world):
    elsewhere = region_create(code="YY", name="外区", level=Level.AREA)
    resident = resident_create(name="迁出", phone="13900000005", region=world.regions["xfl"],
                               birth_date=dt.date(1966, 6, 1))
    with at(dt.date(2026, 5, 1)):
        resident_update(resident=resident, region=elsewhere)
    assert resident.region_path == "/YY/"
    with at(dt.date(2026, 6, 2)):  # 60 now, but registered elsewhere
        apply_auto_rules()
    assert not Case.objects.filter(applicant=resident).exists()


def test_a_change_of_data_is_evaluated_at_once(senior_rule, world, django_capture_on_commit_callbacks):
    resident = resident_create(name="补录", phone="13900000006", region=world.regions["xfl"])
    with django_capture_on_commit_callbacks(execute=True):
        resident_update(resident=resident, birth_date=dt.date(1940, 5, 5))
    case = Case.objects.get(applicant=resident)
    assert case.state == "closed" and case.channel == "system"
