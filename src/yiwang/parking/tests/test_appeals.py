"""Paying a fine, appealing it, and deciding the appeal (维持/撤销) by someone else."""

import datetime as dt

import pytest

from yiwang.core import clock
from yiwang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yiwang.parking import services
from yiwang.parking.tests.conftest import NOW, XFL_G1, XFL_G2

pytestmark = pytest.mark.django_db


def fined(world, plate="陕A12345"):
    v = services.violation_record(viewer=world.viewer("operator_kg"), plate=plate, source="camera",
                                  lat=XFL_G1[0], lng=XFL_G1[1])
    return services.penalty_decide(viewer=world.viewer("handler_en"), violation_id=v.pk)


def test_a_fine_is_paid_once(world, parking):
    p = fined(world)
    assert p.state == "unpaid"
    p = services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk, reference="ZF20260603001")
    assert p.state == "paid" and p.paid_at == NOW and p.payment_reference == "ZF20260603001"
    with pytest.raises(Conflict):
        services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk)


def test_a_payment_cannot_predate_the_decision(world, parking):
    p = fined(world)
    with pytest.raises(ValidationFailed) as err:
        services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk, paid_at=NOW - dt.timedelta(days=1))
    assert err.value.field == "paid_at"


def test_a_warning_has_nothing_to_pay(world, parking):
    v = services.violation_record(viewer=world.viewer("operator_kg"), plate="陕A12345", source="camera",
                                  lat=XFL_G2[0], lng=XFL_G2[1])
    p = services.penalty_decide(viewer=world.viewer("handler_en"), violation_id=v.pk)
    with pytest.raises(Conflict):
        services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk)


def test_staff_of_another_city_cannot_see_the_penalty(world, parking):
    p = fined(world)
    with pytest.raises(NotFound):
        services.penalty_pay(viewer=world.viewer("clerk_spd"), penalty_id=p.pk)
    with pytest.raises(PermissionDenied):
        services.penalty_pay(viewer=world.viewer("resident_wang"), penalty_id=p.pk)


def test_an_appeal_overturned_waives_the_fine_and_it_stops_counting(world, parking):
    p = fined(world)
    appeal = services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=p.pk, reason="车辆当时在等待救护车让行")
    with pytest.raises(Conflict):  # payment waits for the appeal
        services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk)
    with pytest.raises(PermissionDenied):  # 回避: who fined does not judge the appeal
        services.appeal_decide(viewer=world.viewer("handler_en"), appeal_id=appeal.pk, outcome="overturned",
                               note="情况属实")
    appeal = services.appeal_decide(viewer=world.viewer("leader_kg"), appeal_id=appeal.pk, outcome="overturned",
                                    note="经核实属紧急避让")
    p.refresh_from_db()
    assert appeal.state == "overturned" and appeal.decided_by.username == "leader_kg" and p.state == "waived"
    # The overturned penalty is no repeat: a new violation near the school is a first one again.
    assert fined(world).repeat_count == 0


def test_an_appeal_upheld_leaves_the_fine_to_pay(world, parking):
    p = fined(world)
    appeal = services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=p.pk, reason="不服")
    services.appeal_decide(viewer=world.viewer("operator_kg"), appeal_id=appeal.pk, outcome="upheld", note="证据确凿")
    with clock.frozen_at(NOW + dt.timedelta(days=2)):
        assert services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=p.pk).state == "paid"
    with pytest.raises(Conflict):
        services.appeal_decide(viewer=world.viewer("leader_kg"), appeal_id=appeal.pk, outcome="overturned", note="x")


def test_one_appeal_per_penalty_and_none_after_paying(world, parking):
    p = fined(world)
    services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=p.pk, reason="不服")
    with pytest.raises(Conflict):
        services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=p.pk, reason="再次申诉")
    paid = fined(world, plate="陕B11111")
    services.penalty_pay(viewer=world.viewer("handler_en"), penalty_id=paid.pk)
    with pytest.raises(Conflict):
        services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=paid.pk, reason="不服")


@pytest.mark.parametrize("who,outcome,note,error", [
    ("handler_xfl", "upheld", "x", PermissionDenied),  # neither leader nor operator
    ("leader_kg", "maybe", "x", ValidationFailed),
    ("leader_kg", "upheld", " ", ValidationFailed),
])
def test_bad_appeal_decisions_are_refused(world, parking, who, outcome, note, error):
    p = fined(world)
    appeal = services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=p.pk, reason="不服")
    with pytest.raises(error):
        services.appeal_decide(viewer=world.viewer(who), appeal_id=appeal.pk, outcome=outcome, note=note)
    appeal.refresh_from_db()
    assert appeal.state == "pending"


def test_an_empty_reason_is_refused(world, parking):
    with pytest.raises(ValidationFailed) as err:
        services.appeal_file(viewer=world.viewer("handler_en"), penalty_id=fined(world).pk, reason="  ")
    assert err.value.field == "reason"
