"""已解决吗？ Before 结案 the reporter is asked: yes closes, no sends it back to the handling unit,
silence for 3 working days closes it unconfirmed; a closed incident may be reopened for 7 days, and
every return counts in the rework rate. Staff-entered reports skip the question."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases.models import Case, Notification
from yiwang.cases.selectors import allowed_actions
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.confirmation import (
    case_id_from_token,
    confirmation_token,
    incident_answer,
    sweep_confirmations,
)
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.messages.models import Message
from yiwang.records import rollups as all_rollups
from yiwang.records.verification import verify
from yiwang.stats.incidents import incident_indicators

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a working Monday


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def verified(world, who="resident_wang"):
    """A report walked to 已核查: by a resident online, or by the grid worker (nobody to ask)."""
    channel = "online" if who.startswith("resident_") else "grid"
    case = case_create(viewer=world.viewer(who), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="楼下乱停车", channel=channel, region_code="KG-DZ-XFL").case
    act(world, "operator_kg", case, "register")
    act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result="已劝离车辆")
    return act(world, "operator_kg", case, "verify")


def names(world, who, case):
    return {a.name for a in allowed_actions(world.viewer(who), Case.objects.get(pk=case.pk))}


def test_the_centre_must_ask_a_reachable_reporter_before_closing(world):
    with clock.frozen_at(MONDAY):
        case = verified(world)
        assert {"ask_confirmation"} <= names(world, "operator_kg", case)
        assert "close" not in names(world, "operator_kg", case)
        with pytest.raises(IllegalTransition):
            act(world, "operator_kg", case, "close")
        case = act(world, "operator_kg", case, "ask_confirmation")
    assert case.state == "confirming" and case.suspended_at == MONDAY
    sms = Message.objects.get(channel="sms", to="13800000001", text__contains="已解决吗")
    token = sms.text.rsplit("/answer/", 1)[1].rstrip("/")
    assert case_id_from_token(token) == case.pk
    assert {"confirm", "not_resolved"} == names(world, "resident_wang", case)


def test_a_grid_workers_report_is_closed_without_asking(world):
    with clock.frozen_at(MONDAY):
        case = verified(world, who="gridder_xfl")
        assert "ask_confirmation" not in names(world, "operator_kg", case)
        case = act(world, "operator_kg", case, "close")
    assert case.state == "closed"


def test_yes_closes_it_and_the_wait_does_not_count_against_the_unit(world):
    with clock.frozen_at(MONDAY):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
        due = case.due_at
    with clock.frozen_at(MONDAY + dt.timedelta(days=2)):
        case = incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
    assert case.state == "closed" and case.closed_at == MONDAY + dt.timedelta(days=2)
    assert case.due_at > due and case.suspended_at is None  # moved by the two days waited
    last = case.events.order_by("-seq").first()
    assert (last.action, last.actor_name, last.payload["capacity"]) == ("confirm", "resident_wang", "applicant")
    figures = incident_indicators(viewer=world.viewer("operator_kg"), start=MONDAY - dt.timedelta(days=1),
                                  end=MONDAY + dt.timedelta(days=1))["total"]
    assert (figures["closed"], figures["confirmed"], figures["unconfirmed"], figures["on_time_rate"]) == (
        1, 1, 0, "100.000")


def test_no_sends_it_back_to_the_handling_unit_as_rework(world):
    with clock.frozen_at(MONDAY):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
        case = incident_answer(case_id=case.pk, answer="no", comment="车又停回来了", token=confirmation_token(case))
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    assert case.closed_at is None and case.suspended_at is None
    last = case.events.order_by("-seq").first()
    assert (last.action, last.payload["comment"], last.payload["via"]) == ("not_resolved", "车又停回来了", "link")
    assert last.actor_name == "反映人（短信链接）"
    assert Notification.objects.filter(case=case, kind="rework", unit=world.units["dz_en"]).exists()
    assert Notification.objects.filter(case=case, kind="rework", unit=world.units["kg_cc"]).exists()
    figures = incident_indicators(viewer=world.viewer("operator_kg"), start=MONDAY - dt.timedelta(days=1),
                                  end=MONDAY + dt.timedelta(days=1))["total"]
    assert figures["rework_rate"] == "100.000"


def test_nobody_but_the_reporter_may_answer(world, client):
    with clock.frozen_at(MONDAY):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
        other = act(world, "operator_kg", verified(world), "ask_confirmation")
        for viewer, token in [(world.viewer("resident_li"), None), (world.viewer("operator_kg"), None),
                              (world.viewer("admin"), None), (None, confirmation_token(other)),
                              (None, confirmation_token(case)[:-2] + "xx"), (None, "")]:
            with pytest.raises(NotFound):
                incident_answer(case_id=case.pk, answer="yes", viewer=viewer, token=token)
        with pytest.raises(PermissionDenied):  # staff cannot take the reporter's step either
            act(world, "operator_kg", case, "confirm")
        with pytest.raises(IllegalTransition):  # nor the sweep's
            act(world, "admin", case, "close_unconfirmed")
        with pytest.raises(ValidationFailed) as refused:
            incident_answer(case_id=case.pk, answer="=1+1", viewer=world.viewer("resident_wang"))
        assert refused.value.field == "answer"
        with pytest.raises(ValidationFailed) as refused:
            incident_answer(case_id=case.pk, answer="no", comment="没\x0b解决", viewer=world.viewer("resident_wang"))
        assert refused.value.field == "comment"
    assert Case.objects.get(pk=case.pk).state == "confirming"


def test_silence_for_three_working_days_closes_it_unconfirmed(world, client):
    friday = MONDAY + dt.timedelta(days=4)
    with clock.frozen_at(friday):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
    # Friday, then Monday and Tuesday: the third working day ends on Wednesday's evening.
    with clock.frozen_at(friday + dt.timedelta(days=5)):
        assert sweep_confirmations() == 0
    with clock.frozen_at(friday + dt.timedelta(days=6)):
        assert sweep_confirmations() == 1
        assert sweep_confirmations() == 0  # twice: nothing more
    case.refresh_from_db()
    last = case.events.order_by("-seq").first()
    assert (case.state, last.action, last.payload["unconfirmed"], last.actor_name) == (
        "closed", "close_unconfirmed", True, "system")
    assert Message.objects.filter(to="13800000001", text__contains="未收到答复").exists()
    figures = incident_indicators(viewer=world.viewer("operator_kg"), start=friday - dt.timedelta(days=1),
                                  end=friday + dt.timedelta(days=1))["total"]
    assert (figures["closed"], figures["confirmed"], figures["unconfirmed"]) == (1, 0, 1)
    client.force_login(world.users["operator_kg"])
    with clock.frozen_at(friday + dt.timedelta(days=6)):
        page = client.get("/dashboard/incidents/?days=30").content.decode()
    assert '<span data-figure="unconfirmed"><b>1</b>逾期未确认结案' in page
    from yiwang.feedback.models import Evaluation

    assert not Evaluation.objects.filter(case=case).exists()  # silence is no rating, least of all a good one


def test_the_reporter_may_reopen_within_seven_days_and_it_counts_as_rework(world):
    with clock.frozen_at(MONDAY):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
        case = incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
        with pytest.raises(ValidationFailed) as refused:
            incident_answer(case_id=case.pk, answer="reopen", viewer=world.viewer("resident_wang"))
        assert refused.value.field == "comment"
        with pytest.raises(NotFound):
            incident_answer(case_id=case.pk, answer="reopen", comment="又堵了", viewer=world.viewer("resident_li"))
    with clock.frozen_at(MONDAY + dt.timedelta(days=6)):
        assert "reopen" in names(world, "resident_wang", case)
        case = incident_answer(case_id=case.pk, answer="reopen", comment="又堵了", viewer=world.viewer("resident_wang"))
    assert (case.state, case.closed_at, case.holder_unit_id) == ("dispatched", None, world.units["dz_en"].id)
    assert case.due_at > MONDAY + dt.timedelta(days=6)  # a new time limit for the rework
    assert verify().ok and not all_rollups.differences()
    figures = incident_indicators(viewer=world.viewer("operator_kg"), start=MONDAY - dt.timedelta(days=1),
                                  end=MONDAY + dt.timedelta(days=1))["total"]
    assert (figures["rework_rate"], figures["closed"]) == ("100.000", 0)
    # Closed again, the timeline and the tallies agree on the last closing.
    with clock.frozen_at(MONDAY + dt.timedelta(days=7)):
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result="已安装隔离桩")
        act(world, "operator_kg", case, "verify")
        case = act(world, "operator_kg", case, "ask_confirmation")
        case = incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
    assert case.closed_at == MONDAY + dt.timedelta(days=7)
    assert verify().ok and not all_rollups.differences()


def test_reopening_after_seven_days_is_refused(world):
    with clock.frozen_at(MONDAY):
        case = act(world, "operator_kg", verified(world), "ask_confirmation")
        case = incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
    with clock.frozen_at(MONDAY + dt.timedelta(days=7, minutes=1)):
        assert "reopen" not in names(world, "resident_wang", case)
        with pytest.raises(ValidationFailed) as refused:
            incident_answer(case_id=case.pk, answer="reopen", comment="又堵了", viewer=world.viewer("resident_wang"))
    assert "7 天" in refused.value.message
    assert Case.objects.get(pk=case.pk).state == "closed"
