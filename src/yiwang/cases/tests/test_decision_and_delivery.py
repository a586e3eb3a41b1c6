"""办结 with its result: 作出决定 records 准予/不予 (不予 with its reason), 办结 how the result reaches the
applicant — 自取 at a hall with its address and hours, 邮寄 with a tracking number, 电子证照 with its
reference — on the event, readable by the applicant and told them in the 办结 message's facts."""

from __future__ import annotations

import pytest

from yiwang.cases.models import Case
from yiwang.cases.selectors import case_outcome, case_timeline, public_timeline
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.notifications import _facts
from yiwang.core.errors import ValidationFailed
from yiwang.org.models import Unit
from yiwang.testing import SENIOR_OK

HOURS = "周一至周五 9:00-17:00"


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


@pytest.fixture
def decided(world) -> Case:
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(hours=HOURS, address="幸福里 1 号")
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "handler_xfl", case, "accept")
    return act(world, "handler_xfl", case, "decide", decision="denied", reply="年龄未满 60 周岁", note="内部复核")


def test_a_refusal_with_its_reason_and_a_pickup_at_a_hall_are_kept_and_public(world, decided):
    case = act(world, "clerk_xfl", decided, "close", delivery={"method": "pickup", "hall": "KG-DZ-XFL-SH"})
    outcome = case_outcome(public_timeline(case))
    assert (outcome.decision, outcome.reason, outcome.decision_label) == ("denied", "年龄未满 60 周岁", "不予")
    assert outcome.delivery == {"method": "pickup", "hall": "幸福里社区便民服务站", "hall_code": "KG-DZ-XFL-SH",
                                "address": "幸福里 1 号", "hours": HOURS, "phone": ""}
    assert outcome.delivery_label == "窗口自取"
    facts = _facts(case, case_timeline(case)[-1].payload)
    assert HOURS in facts["delivery"] and "幸福里社区便民服务站" in facts["delivery"]
    assert facts["decision_reason"] == "年龄未满 60 周岁"


@pytest.mark.parametrize(("delivery", "kept"), [
    ({"method": "post", "tracking": "SF1234567890", "carrier": "顺丰"},
     {"method": "post", "tracking": "SF1234567890", "carrier": "顺丰"}),
    ({"method": "electronic", "reference": "DZZZ-2026-000123"}, {"method": "electronic", "reference": "DZZZ-2026-000123"}),
])
def test_a_result_is_posted_with_its_tracking_number_or_issued_as_an_electronic_licence(world, decided, delivery,
                                                                                       kept):
    case = act(world, "clerk_xfl", decided, "close", delivery=delivery)
    assert case_outcome(public_timeline(case)).delivery == kept


@pytest.mark.parametrize(("delivery", "field"), [
    ({"method": "drone"}, "delivery.method"),
    ({"method": "post"}, "delivery.tracking"),
    ({"method": "post", "tracking": "=1+1"}, "delivery.tracking"),
    ({"method": "post", "tracking": "SF123\x01456"}, "delivery.tracking"),
    ({"method": "electronic", "reference": ""}, "delivery.reference"),
    ({"method": "pickup", "hall": "KG-CC"}, "delivery.hall"),  # the command centre is no service hall
    ({"method": "pickup", "hall": "NOPE"}, "delivery.hall"),
])
def test_a_delivery_without_what_it_must_name_is_refused_by_field(world, decided, delivery, field):
    with pytest.raises(ValidationFailed) as refused:
        act(world, "clerk_xfl", decided, "close", delivery=delivery)
    assert refused.value.field == field
    assert Case.objects.get(pk=decided.pk).state == "decided"


def test_only_the_closing_step_records_a_delivery(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    with pytest.raises(ValidationFailed) as refused:
        act(world, "clerk_xfl", case, "accept", delivery={"method": "post", "tracking": "SF1234567890"})
    assert refused.value.field == "delivery.method"


def test_before_a_decision_there_is_no_outcome_and_a_grant_may_go_without_reason(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "handler_xfl", case, "accept")
    assert case_outcome(public_timeline(case)) is None
    case = act(world, "handler_xfl", case, "decide", decision="approved")
    outcome = case_outcome(public_timeline(case))
    assert (outcome.decision_label, outcome.reason, outcome.delivery) == ("准予", "", None)


def test_a_refusal_may_give_its_reason_as_the_decisions_result(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "handler_xfl", case, "accept")
    case = act(world, "handler_xfl", case, "decide", decision="denied", result="经评定不符合条件，不予批准")
    assert case_outcome(public_timeline(case)).reason == "经评定不符合条件，不予批准"


def test_the_closing_message_tells_the_applicant_how_to_get_the_result_and_never_a_note(world, decided):
    from yiwang.messages.models import Message

    case = act(world, "clerk_xfl", decided, "close", delivery={"method": "post", "tracking": "SF1234567890"},
               note="内部：邮费已报销")
    texts = list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:{case.event_count}:")
                 .values_list("text", flat=True))
    assert texts and all("SF1234567890" in t and "不予" in t for t in texts), texts
    assert not any("邮费" in t or "内部复核" in t for t in Message.objects.values_list("text", flat=True))
