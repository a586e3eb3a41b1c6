"""Staff hear of their work by SMS and e-mail as they chose (/work/preferences/), not only in the
workbench: dispatches and transfers in, 督办, yellow and red warnings; non-urgent SMS wait out the
quiet hours in the outbox."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from yiwang.cases.models import Case, EscalationRule, Notification
from yiwang.cases.services import (
    case_act,
    case_auto_escalate,
    case_create,
    case_mark_warning,
    register_and_dispatch,
)
from yiwang.cases.services.notifications import tell_staff
from yiwang.cases.workflows import HOLDER
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.messages import services as messages
from yiwang.messages.models import ChannelPreference, Message, Status
from yiwang.org.models import Role
from yiwang.org.services import staff_grant, user_create
from yiwang.testing import SENIOR_OK

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday (a working day) at 23:00, inside the quiet hours 22:00–07:00.
NIGHT = dt.datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI)
MORNING = dt.datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI)
PHONE_EN, PHONE_KG_EN, PHONE_OP = "13900000011", "13900000012", "13900000013"


@pytest.fixture(autouse=True)
def _quiet_hours_and_sms_file(settings, tmp_path):
    settings.YIWANG_QUIET_HOURS = "22:00-07:00"
    settings.YIWANG_SMS_BACKEND = "file"
    settings.YIWANG_SMS_FILE = str(tmp_path / "sms.jsonl")


def prefer(world, username: str, *, phone: str = "", email: str = "", **channels: list[str]) -> None:
    messages.preference_save(user_id=world.users[username].pk, phone=phone, email=email, channels=channels)


def report(world) -> Case:
    return case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="路口乱停车", channel="online").case


def sms_lines(settings) -> list[dict]:
    with open(settings.YIWANG_SMS_FILE, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def staff_sms(to: str | None = None) -> list[Message]:
    rows = Message.objects.filter(dedupe_key__contains=":staff:", channel="sms").order_by("pk")
    return list(rows.filter(to=to) if to else rows)


def test_a_dispatch_at_23_00_queues_an_sms_that_waits_until_07_00(world, settings):
    prefer(world, "handler_en", phone=PHONE_EN, dispatched=["sms"])
    with clock.frozen_at(NIGHT):
        case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    assert case.holder_unit_id == world.units["dz_en"].pk
    [sms] = staff_sms(PHONE_EN)
    assert case.number in sms.text and "路口乱停车" in sms.text
    assert sms.next_attempt_at == MORNING and sms.status == Status.PENDING
    with clock.frozen_at(NIGHT + dt.timedelta(hours=7, minutes=59)):  # 06:59
        messages.deliver_due()
    sms.refresh_from_db()
    assert sms.status == Status.PENDING and sms.attempts == 0
    with clock.frozen_at(MORNING):
        messages.deliver_due()
        assert messages.deliver_due()["claimed"] == 0  # sent once, never again
    sms.refresh_from_db()
    assert sms.status == Status.SENT and sms.sent_at == MORNING and sms.attempts == 1
    assert [(line["id"], line["at"]) for line in sms_lines(settings) if line["to"] == PHONE_EN] == [
        (sms.idempotency_id, MORNING.isoformat())]
    # The unit's list in the workbench has it too, as always.
    assert Notification.objects.filter(case=case, unit=world.units["dz_en"], kind="dispatched").exists()


def test_a_red_warning_goes_at_once_in_the_night_and_a_yellow_one_waits(world):
    prefer(world, "handler_en", phone=PHONE_EN, warn=["sms"], overdue=["sms"])
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    due = timezone_local(case.due_at)  # the end of a working day, 23:59:59
    with clock.frozen_at(due - dt.timedelta(hours=1)):  # 22:59: due soon, and quiet
        assert case_mark_warning(case=case, level=1)
    yellow = staff_sms(PHONE_EN)[-1]
    morning = (due + dt.timedelta(days=1)).replace(hour=7, minute=0, second=0)
    assert "即将到期" in yellow.text and yellow.next_attempt_at == morning
    after = due + dt.timedelta(hours=1)  # 00:59 the next night: overdue
    with clock.frozen_at(after):
        assert case_mark_warning(case=Case.objects.get(pk=case.pk), level=2)
        red = staff_sms(PHONE_EN)[-1]
        assert "已超期" in red.text and red.next_attempt_at == after
        messages.deliver_due()
    red.refresh_from_db(), yellow.refresh_from_db()
    assert red.status == Status.SENT and yellow.status == Status.PENDING
    with clock.frozen_at(morning):
        messages.deliver_due()
    yellow.refresh_from_db()
    assert yellow.status == Status.SENT


def test_the_supervising_centre_hears_of_red_warnings_and_escalation_at_once_by_default(world):
    prefer(world, "handler_en", phone=PHONE_EN)  # numbers only: the defaults (超期, 超期上报 by SMS)
    prefer(world, "operator_kg", phone=PHONE_OP)
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    due = timezone_local(case.due_at)
    with clock.frozen_at(due + dt.timedelta(minutes=30)):  # 00:29, quiet hours
        assert case_mark_warning(case=case, level=2)
    assert {(m.to, m.next_attempt_at) for m in staff_sms()} == {
        (PHONE_EN, due + dt.timedelta(minutes=30)), (PHONE_OP, due + dt.timedelta(minutes=30))}
    rule = EscalationRule.objects.create(name="超期一小时上报", after_hours=1)
    at = due + dt.timedelta(hours=2)  # 01:59
    with clock.frozen_at(at):
        assert case_auto_escalate(case=Case.objects.get(pk=case.pk), rule=rule)
    escalated = [m for m in staff_sms() if "上报" in m.text]
    # The unit it left and the supervising centre; both at once, in the night.
    assert {m.to for m in escalated} == {PHONE_EN, PHONE_OP} and {m.next_attempt_at for m in escalated} == {at}


def test_a_transferred_application_tells_the_receiving_hall(world):
    prefer(world, "clerk_dz", phone="13900000017", dispatched=["sms"])
    prefer(world, "clerk_xfl", phone="13900000018", dispatched=["sms"])
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    assert case.holder_unit_id == world.units["xfl_sh"].pk
    with clock.frozen_at(NIGHT):
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="transfer", version=case.version,
                 unit_code="KG-DZ-SH", comment="应由街道办理")
    [sms] = staff_sms()
    assert sms.to == "13900000017" and sms.text.startswith("转入") and sms.next_attempt_at == MORNING


def timezone_local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(SHANGHAI)


def test_supervision_comes_by_sms_by_default_and_a_dispatch_only_in_the_workbench(world):
    prefer(world, "handler_en", phone=PHONE_EN)  # a number, no choices: the defaults
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    assert staff_sms() == []  # 新派遣: in the workbench only, by default
    case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="supervise", version=case.version,
             comment="请今天处理")
    [sms] = staff_sms(PHONE_EN)
    assert "督办" in sms.text and "请今天处理" in sms.text


def test_preferences_are_respected_per_kind_and_channel(world):
    prefer(world, "handler_en", phone=PHONE_EN, email="en@example.cn", dispatched=["email"], supervise=[])
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="supervise", version=case.version + 0,
             comment="请今天处理")
    assert staff_sms() == []  # 督办 turned off for SMS
    [mail] = Message.objects.filter(channel="email", dedupe_key__contains=":staff:")
    assert mail.to == "en@example.cn" and case.number in mail.subject and f"/work/cases/{case.number}/" in mail.text


def test_a_retried_step_queues_one_message_per_person_and_channel(world):
    prefer(world, "handler_en", phone=PHONE_EN, email="en@example.cn", dispatched=["sms", "email"])
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    with transaction.atomic():  # the same event told again: a replayed request, a retried job
        tell_staff(case, kind="dispatched", message="派遣：重复", units={HOLDER: case.holder_unit_id})
    assert len(staff_sms(PHONE_EN)) == 1
    assert Message.objects.filter(channel="email", dedupe_key__contains=":staff:").count() == 1


def test_a_retried_api_request_queues_the_sms_once(world, api):
    prefer(world, "handler_en", phone=PHONE_EN, supervise=["sms"])
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    body = {"version": case.version, "comment": "请今天处理"}
    for _attempt in range(2):
        response = api("post", f"/cases/{case.number}/actions/supervise", "operator_kg", body,
                       HTTP_IDEMPOTENCY_KEY="supervise-1")
        assert response.status_code == 200, response.content
    assert len(staff_sms(PHONE_EN)) == 1


def test_staff_of_a_neighbouring_unit_hear_nothing(world):
    prefer(world, "handler_en", phone=PHONE_EN, dispatched=["sms"], supervise=["sms"])
    # 空港新城综合执法局 is the same kind of unit one level up; 底张街道便民服务中心 is next door.
    prefer(world, "handler_kg_en", phone=PHONE_KG_EN, dispatched=["sms"], supervise=["sms"], overdue=["sms"])
    prefer(world, "handler_dz", phone="13900000014", dispatched=["sms"], supervise=["sms"], overdue=["sms"])
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="supervise", version=case.version,
             comment="请今天处理")
    assert {m.to for m in staff_sms()} == {PHONE_EN}


def test_a_transfer_in_tells_the_new_unit_and_not_the_old_one(world):
    prefer(world, "operator_kg", phone=PHONE_OP, dispatched=["sms"])
    prefer(world, "operator_area", phone="13900000015", dispatched=["sms"])
    case = report(world)
    case = case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="transfer", version=case.version,
                    unit_code="XX-CC", comment="属新区统筹事项")
    [sms] = staff_sms()
    assert sms.to == "13900000015" and sms.text.startswith("转入") and case.number in sms.text
    assert Notification.objects.filter(case=case, unit=world.units["area_cc"], kind="dispatched").exists()


def test_with_an_assignee_only_the_assignee_is_told(world):
    prefer(world, "handler_en", phone=PHONE_EN, supervise=["sms"])
    colleague = user_create(username="handler_en2", password="pw-handler_en2")
    staff_grant(user=colleague, unit=world.units["dz_en"], role=Role.HANDLER)
    world.users["handler_en2"] = colleague
    messages.preference_save(user_id=colleague.pk, phone="13900000016", email="", channels={"supervise": ["sms"]})
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    case = case_act(viewer=world.viewer("handler_en2"), case_id=case.pk, action="claim", version=case.version)
    case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="supervise", version=case.version,
             comment="请今天处理")
    assert [m.to for m in staff_sms()] == ["13900000016"]


def test_no_more_than_the_cap_of_one_unit_are_texted_leaders_first(world, settings):
    settings.YIWANG_STAFF_MESSAGE_CAP = 2
    unit = world.units["dz_en"]
    prefer(world, "handler_en", phone=PHONE_EN, supervise=["sms"])
    for n in range(3):
        user = user_create(username=f"extra_{n}", password="pw")
        staff_grant(user=user, unit=unit, role=Role.HANDLER)
        messages.preference_save(user_id=user.pk, phone=f"1390000002{n}", email="", channels={"supervise": ["sms"]})
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report(world).pk)
    case_act(viewer=world.viewer("operator_kg"), case_id=case.pk, action="supervise", version=case.version,
             comment="请今天处理")
    assert [m.to for m in staff_sms()] == [PHONE_EN, "13900000020"]  # the longest-standing accounts


def test_a_residents_text_leaves_masked_and_without_control_characters(world):
    prefer(world, "handler_en", phone=PHONE_EN, dispatched=["sms"])
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="=1+1 车主 61040219500101123X 电话 13812345678", channel="online").case
    register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk)
    [sms] = staff_sms(PHONE_EN)
    assert "61040219500101123X" not in sms.text and "13812345678" not in sms.text and "=1+1" in sms.text


def test_an_address_chosen_without_its_number_is_refused_by_field(world):
    user_id = world.users["handler_en"].pk
    with pytest.raises(ValidationFailed) as refused:
        messages.preference_save(user_id=user_id, phone="", email="", channels={"overdue": ["sms"]})
    assert refused.value.field == "phone"
    with pytest.raises(ValidationFailed) as refused:
        messages.preference_save(user_id=user_id, phone="=1+1", email="", channels={})
    assert refused.value.field == "phone"
    with pytest.raises(ValidationFailed) as refused:
        messages.preference_save(user_id=user_id, phone="", email="a@b\x00.cn", channels={})
    assert refused.value.field == "email"
    assert not ChannelPreference.objects.exists()


# --- the quiet hours themselves ------------------------------------------------------------------


@pytest.mark.parametrize(("local", "until"), [
    ((21, 59), None), ((22, 0), (3, 7, 0)), ((23, 30), (3, 7, 0)), ((0, 10), (2, 7, 0)), ((6, 59), (2, 7, 0)),
    ((7, 0), None),
])
def test_quiet_hours_span_midnight(local, until):
    at = dt.datetime(2026, 3, 2, *local, tzinfo=SHANGHAI)
    expected = dt.datetime(2026, 3, until[0], until[1], until[2], tzinfo=SHANGHAI) if until else None
    assert messages.quiet_until(at) == expected


def test_without_quiet_hours_nothing_waits_and_a_login_code_never_does(db, settings):
    with clock.frozen_at(NIGHT):
        code = messages.enqueue(channel="sms", to=PHONE_EN, text="验证码 123456", dedupe_key="login:1")
        assert code.next_attempt_at == NIGHT  # urgent unless the caller says otherwise
        settings.YIWANG_QUIET_HOURS = ""
        routine = messages.enqueue(channel="sms", to=PHONE_EN, text="x", dedupe_key="k", urgent=False)
        assert routine.next_attempt_at == NIGHT


def test_an_email_is_not_held_by_the_quiet_hours(db):
    with clock.frozen_at(NIGHT):
        mail = messages.enqueue(channel="email", to="en@example.cn", subject="s", text="t", dedupe_key="k",
                                urgent=False)
    assert mail.next_attempt_at == NIGHT


# --- the page: /work/preferences/ ----------------------------------------------------------------

PAGE = "/work/preferences/"


def test_the_page_saves_a_staff_members_choices(world, client):
    client.force_login(world.users["handler_en"])
    page = client.get(PAGE)
    assert page.status_code == 200 and "督办" in page.text and "超期" in page.text
    answer = client.post(PAGE, {"phone": "139 0000 0011", "email": "en@example.cn", "supervise.sms": "1",
                                "dispatched.email": "1", "dispatched.sms": "0"})
    assert answer.status_code == 303
    saved = ChannelPreference.objects.get(user=world.users["handler_en"])
    assert saved.phone == PHONE_EN and saved.email == "en@example.cn"
    assert saved.channels == {"dispatched": ["email"], "supervise": ["sms"], "warn": [], "overdue": [],
                              "escalated": [], "rework": []}
    shown = client.get(PAGE).text
    assert 'name="supervise.sms" value="1" checked' in shown and 'name="overdue.sms" value="1" checked' not in shown


@pytest.mark.parametrize(("posted", "field"), [
    ({"phone": "=1+1"}, "phone"),
    ({"phone": "", "overdue.sms": "1"}, "phone"),
    ({"email": "=HYPERLINK(\"http://x\")"}, "email"),
    ({"email": "", "warn.email": "1"}, "email"),
])
def test_the_page_refuses_bad_input_beside_the_field(world, client, posted, field):
    client.force_login(world.users["handler_en"])
    answer = client.post(PAGE, {"phone": "", "email": "", **posted})
    assert answer.status_code == 422
    assert f'id="{field}-error"' in answer.text and 'class="field-error"' in answer.text
    assert not ChannelPreference.objects.exists()


def test_a_control_character_is_refused_naming_the_field(world, client):
    client.force_login(world.users["handler_en"])
    answer = client.post(PAGE, {"phone": "1380000\x00001", "email": ""})
    # Refused before the page by the site's rule for control characters, which names the field.
    assert answer.status_code == 422 and "phone" in answer.text and "\x00" not in answer.text
    assert not ChannelPreference.objects.exists()


def test_a_resident_and_a_visitor_cannot_reach_the_page(world, client):
    assert client.get(PAGE).status_code == 302  # to the login page
    client.force_login(world.users["resident_wang"])
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"phone": "13800000001", "overdue.sms": "1"}).status_code == 403
    assert not ChannelPreference.objects.exists()


def test_the_admin_lists_who_asked_for_what_with_the_number_masked(world, client):
    prefer(world, "handler_en", phone=PHONE_EN, overdue=["sms"])
    client.force_login(world.users["admin"])
    page = client.get("/admin/messaging/channelpreference/")
    assert page.status_code == 200 and "handler_en" in page.text and PHONE_EN not in page.text
