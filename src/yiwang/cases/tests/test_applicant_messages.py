"""The applicant hears back: each step an action declares (Action.tells) queues one SMS to the case's
phone and one in-app message to the resident, in the step's transaction; staff remarks never go out."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create, register_and_dispatch
from yiwang.cases.services.confirmation import incident_answer
from yiwang.cases.workflows import WORKFLOWS
from yiwang.core import clock
from yiwang.core.errors import DomainError
from yiwang.messages import services as messages
from yiwang.messages.models import Message
from yiwang.testing import SENIOR_OK

MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def at_monday():
    with clock.frozen_at(MONDAY):
        yield


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


def sms(case: Case) -> list[str]:
    return list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:", channel="sms")
                .order_by("id").values_list("text", flat=True))


def application(world) -> Case:
    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case


def test_an_applicant_is_told_of_acceptance_a_supplement_and_the_decision_by_sms_and_in_app(world):
    wang = world.residents["wang"]
    case = application(world)
    assert sms(case) == []  # submitting is answered on the page; the first message is the acceptance

    case = act(world, "clerk_xfl", case, "accept")
    case = act(world, "clerk_xfl", case, "request_supplement", comment="缺少户口簿首页复印件")
    case = act(world, "resident_wang", case, "resubmit")
    case = act(world, "handler_xfl", case, "decide", decision="approved")
    act(world, "clerk_xfl", case, "close", result="老年证已制好，请到便民服务站领取",
        delivery={"method": "pickup", "hall": "KG-DZ-XFL-SH"})

    accepted, supplement, closed = sms(case)
    assert case.number in accepted and "2026-03-" in accepted  # the promised date, in working days
    assert "缺少户口簿首页复印件" in supplement and "补正" in supplement
    assert "准予" in closed and "请到便民服务站领取" in closed and f"/cases/{case.number}/" in closed
    to = set(Message.objects.filter(channel="sms", dedupe_key__startswith=f"case:{case.pk}:").values_list("to", flat=True))
    assert to == {wang.phone}
    inbox = Message.objects.filter(channel="inapp", resident=wang).order_by("id")
    assert [m.text for m in inbox] == [accepted, supplement, closed]
    assert all(m.status == "sent" for m in inbox) and all(m.status == "pending" for m in
                                                           Message.objects.filter(channel="sms"))


def test_staff_remarks_and_staff_only_steps_send_nothing(world):
    case = application(world)
    act(world, "clerk_xfl", case, "claim")
    act(world, "clerk_xfl", case, "escalate", comment="内部：需请示上级")
    assert not Message.objects.exists()


def test_a_refused_step_queues_nothing(world):
    case = application(world)
    with pytest.raises(DomainError):
        act(world, "clerk_xfl", case, "request_supplement", comment="")  # before acceptance: refused
    with pytest.raises(DomainError):
        act(world, "resident_wang", case, "accept")  # not the applicant's to take
    assert not Message.objects.exists()


def test_a_reporter_is_told_of_dispatch_handling_and_closing(world):
    report = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                         title="路口乱停车", channel="online").case
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report.pk, version=report.version)
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result="已劝离车辆")
    act(world, "operator_kg", case, "verify")
    act(world, "operator_kg", case, "ask_confirmation")  # 结案 asks the reporter first
    incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))

    dispatched, handled, asked, closed = sms(case)
    assert case.number in dispatched and world.units["dz_en"].name in dispatched
    assert "已劝离车辆" in handled and "已解决吗？" in asked and f"/cases/{case.number}/answer/" in asked
    assert f"/cases/{case.number}/" in closed


def test_history_written_quietly_tells_no_one(world):
    case = application(world)
    with messages.quiet():
        act(world, "clerk_xfl", case, "accept")
    assert not Message.objects.exists()


def test_every_message_an_action_declares_exists():
    from yiwang.cases.services.notifications import APPLICANT_MESSAGES

    declared = {a.tells for wf in WORKFLOWS.values() for a in wf.actions.values() if a.tells}
    assert declared <= set(APPLICANT_MESSAGES)
