"""Penalty decisions: chosen by place and repeat, taken by the enforcement unit holding the case,
recorded as the case's 处置 step."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.parking import penalties, services
from yiwang.parking.models import Penalty, PenaltyRule
from yiwang.parking.tests.conftest import NOW, XFL_G1, XFL_G2

pytestmark = pytest.mark.django_db


def dispatched(world, plate="陕A12345", where=XFL_G2, at=None):
    """A violation recorded by the command centre, so its case is already with 底张街道综合执法队."""
    with clock.frozen_at(at or clock.now()):
        return services.violation_record(viewer=world.viewer("operator_kg"), plate=plate, source="camera",
                                         lat=where[0], lng=where[1])


def decide(world, violation, who="handler_en", **kw):
    return services.penalty_decide(viewer=world.viewer(who), violation_id=violation.pk, **kw)


def test_a_first_violation_earns_a_warning_recorded_on_the_case(world, parking):
    v = dispatched(world)
    p = decide(world, v, note="驾驶人不在现场")
    assert (p.decision, p.amount, p.state, p.repeat_count) == ("warning", Decimal("0.00"), "none", 0)
    assert p.unit_id == world.units["dz_en"].id and p.decided_by.username == "handler_en"
    v.case.refresh_from_db()
    assert v.case.state == "handled" and v.case.result.startswith("警告(首次警告)")
    actions = list(CaseEvent.objects.filter(case=v.case).order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["acknowledge", "handle"]
    handle = CaseEvent.objects.get(case=v.case, action="handle")
    assert handle.payload["penalty"] == {"decision": "warning", "amount": "0.00", "rule": parking["rules"]["warn"].pk,
                                         "repeat": 0, "plate": "陕A12345"}


def test_repeats_and_places_raise_the_penalty(world, parking):
    amounts = []
    for day in range(5):
        v = dispatched(world, at=NOW - dt.timedelta(days=10 - day))
        with clock.frozen_at(NOW - dt.timedelta(days=10 - day, hours=-1)):
            penalty = decide(world, v)
        amounts.append((penalty.decision, penalty.amount))
    assert amounts == [("warning", 0), ("fine", 50), ("fine", 50), ("fine", 200), ("fine", 200)]
    near_school = decide(world, dispatched(world, plate="陕AD54321", where=XFL_G1))
    assert (near_school.decision, near_school.amount) == ("fine", Decimal("100.00"))


def test_penalties_older_than_a_year_do_not_count(world, parking):
    old = dispatched(world, at=NOW - dt.timedelta(days=400))
    with clock.frozen_at(NOW - dt.timedelta(days=399)):
        decide(world, old)
    assert decide(world, dispatched(world)).decision == "warning"


def test_only_the_enforcement_unit_holding_the_case_decides(world, parking):
    v = dispatched(world)
    with pytest.raises(PermissionDenied):
        decide(world, v, who="handler_kg_en")
    assert not Penalty.objects.exists()


def test_a_case_not_yet_dispatched_cannot_be_decided(world, parking):
    v = services.violation_record(viewer=world.viewer("gridder_xfl"), plate="陕A12345", source="patrol",
                                  lat=XFL_G2[0], lng=XFL_G2[1])
    with pytest.raises(IllegalTransition) as err:
        decide(world, v, who="operator_kg")
    assert err.value.field == "violation"


def test_a_violation_is_decided_once(world, parking):
    v = dispatched(world)
    decide(world, v)
    with pytest.raises(Conflict):
        decide(world, v)


def test_no_matching_rule_is_a_field_error_and_changes_nothing(world, parking):
    PenaltyRule.objects.update(active=False)
    v = dispatched(world)
    with pytest.raises(ValidationFailed) as err:
        decide(world, v)
    assert err.value.field == "rule"
    v.case.refresh_from_db()
    assert v.case.state == "dispatched"  # the acknowledge was rolled back with the rest


@pytest.mark.parametrize("fields,field", [
    ({"decision": "fine", "amount": "10"}, "amount"),
    ({"decision": "fine", "amount": "200.01"}, "amount"),
    ({"decision": "fine", "amount": "50.005"}, "amount"),
    ({"decision": "warning", "amount": "20"}, "amount"),
    ({"decision": "jail"}, "decision"),
    ({"decision": "fine", "amount": "50", "place_kind": "zoo"}, "place_kind"),
])
def test_unlawful_rules_are_refused(world, fields, field):
    with pytest.raises(ValidationFailed) as err:
        services.penalty_rule_create(viewer=world.viewer("admin"), name="r", **fields)
    assert err.value.field == field


def test_only_an_administrator_makes_rules(world):
    with pytest.raises(PermissionDenied):
        services.penalty_rule_create(viewer=world.viewer("leader_kg"), name="r", decision="warning")


rules = st.lists(st.builds(
    lambda zone, place, repeat, fine, amount: PenaltyRule(
        zone_kind=zone, place_kind=place, min_repeat=repeat, decision="fine" if fine else "warning",
        amount=Decimal(amount) if fine else Decimal(0), active=True),
    st.sampled_from(["", "on_street", "lot"]), st.sampled_from(["", "school", "mall"]), st.integers(0, 4),
    st.booleans(), st.integers(20, 200)), max_size=8)
facts = st.builds(penalties.Facts, zone_kind=st.sampled_from(["", "on_street", "lot"]),
                  place_kinds=st.frozensets(st.sampled_from(["school", "mall", "hospital"])), repeat=st.integers(0, 5))


@given(rules=rules, facts=facts)
def test_the_chosen_rule_matches_and_none_matching_outranks_it(rules, facts):
    chosen = penalties.choose_rule(rules, facts)
    matching = [r for r in rules if penalties.matches(r, facts)]
    if not matching:
        assert chosen is None
        return
    assert penalties.matches(chosen, facts)
    best = (chosen.min_repeat, penalties.specificity(chosen))
    assert all((r.min_repeat, penalties.specificity(r)) <= best for r in matching)
