"""What residents are told: admin-editable templates (checked when saved, chosen per matter and
channel), the SMS signature and its 70/67-character segments, and the one reminder to rate."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.notifications import applicant_variables, remind_to_rate
from yiwang.cases.tasks import sweep_deadlines
from yiwang.core import clock
from yiwang.messages import services, texts
from yiwang.messages.channels import SmsChannel
from yiwang.messages.models import Message, MessageTemplate
from yiwang.testing import SENIOR_OK

SIGN = "【西咸新区政务服务】"  # 10 characters
MONDAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _signature(settings):
    settings.YIWANG_SMS_SIGNATURE = SIGN
    settings.YIWANG_RATING_REMINDER_DAYS = 3


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


def told(case: Case, channel: str = "sms") -> list[str]:
    return list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:", channel=channel)
                .order_by("id").values_list("text", flat=True))


def closed_application(world, *, decision: str = "approved") -> Case:
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        case = act(world, "clerk_xfl", case, "accept")
        case = act(world, "handler_xfl", case, "decide", decision=decision)
        return act(world, "clerk_xfl", case, "close", result="老年证已制好", delivery={"method": "post", "tracking": "SF1234567890"})


# --- the render check ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "named"), [
    ("您的{matter}已受理，编号{case_nmber}", "{case_nmber}"),  # a typo names the unknown variable
    ("{case_number.__class__}", "{case_number.__class__}"),  # no attribute access
    ("{link[0]}", "{link[0]}"),  # no indexing
    ("{0}", "{0}"),  # no positional fields
    ("{}", "{}"),
])
def test_a_template_naming_an_unknown_variable_is_refused_with_its_name(text, named):
    with pytest.raises(ValidationError) as refused:
        texts.check(text)
    assert named in refused.value.message_dict["text"][0]


@pytest.mark.parametrize("text", ["编号{case_number", "编号 case_number}", "{case_number:>99999}",
                                  "{case_number!r}", "   ", "编号\x00{case_number}", "已受理\x1b[31m"])
def test_a_template_that_would_not_render_is_refused(text):
    with pytest.raises(ValidationError) as refused:
        texts.check(text)
    assert list(refused.value.message_dict) == ["text"]


def test_line_breaks_are_allowed_in_a_template():
    texts.check("已受理。\r\n编号：{case_number}")


def test_every_default_passes_its_own_check_and_renders_with_every_variable_empty():
    for event, (_label, default) in texts.DEFAULTS.items():
        texts.check(str(default))
        assert texts.fill(str(default), {}), event


def test_saving_a_broken_template_is_refused_outside_the_admin_too(db):
    with pytest.raises(ValidationError) as refused:
        MessageTemplate.objects.create(event="accepted", text="已受理 {case_no}")
    assert "{case_no}" in str(refused.value.message_dict["text"])
    with pytest.raises(ValidationError) as refused:
        MessageTemplate.objects.create(event="no_such_event", text="{case_number}")
    assert "event" in refused.value.message_dict
    assert not MessageTemplate.objects.exists()


def test_the_admin_refuses_an_unknown_variable_beside_the_text_field(world, client):
    client.force_login(world.users["admin"])
    page = client.post("/admin/messaging/messagetemplate/add/", {
        "event": "supplement", "language": "zh-hans", "channel": "sms", "text": "请补正：{missing_list}",
        "active": "on"})
    assert page.status_code == 200  # the form again, with the error
    assert "{missing_list}" in page.text and "errorlist" in page.text
    assert not MessageTemplate.objects.exists()
    saved = client.post("/admin/messaging/messagetemplate/add/", {
        "event": "supplement", "language": "zh-hans", "channel": "sms", "text": "请补正：{missing}（{case_number}）",
        "active": "on"})
    assert saved.status_code == 302
    row = MessageTemplate.objects.get()
    listing = client.get("/admin/messaging/messagetemplate/")
    assert listing.status_code == 200 and "supplement" in listing.text
    change = client.get(f"/admin/messaging/messagetemplate/{row.pk}/change/")
    assert "{case_number}" in change.text and SIGN in change.text  # the preview, signed


@pytest.mark.parametrize("who", ["clerk_xfl", "handler_xfl", "resident_wang"])
def test_only_an_administrator_reaches_the_templates(world, client, who):
    MessageTemplate.objects.create(event="accepted", text="已受理 {case_number}")
    client.force_login(world.users[who])
    for url in ("/admin/messaging/messagetemplate/", "/admin/messaging/messagetemplate/add/",
                f"/admin/messaging/messagetemplate/{MessageTemplate.objects.get().pk}/change/"):
        answer = client.get(url)
        assert answer.status_code in (302, 403), url
    answer = client.post("/admin/messaging/messagetemplate/add/", {"event": "accepted", "language": "zh-hans",
                                                                   "channel": "sms", "text": "x"})
    assert answer.status_code in (302, 403) and MessageTemplate.objects.count() == 1


def test_markup_in_a_template_is_shown_as_text_in_the_admin(world, client):
    row = MessageTemplate.objects.create(event="accepted", text="<script>alert(1)</script>{case_number} =1+1")
    client.force_login(world.users["admin"])
    page = client.get(f"/admin/messaging/messagetemplate/{row.pk}/change/").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


# --- which template applies ------------------------------------------------------------------------


def test_the_matters_own_template_beats_the_general_one_and_a_channels_beats_every_channels(world):
    senior, fund = world.matters["senior"], world.matters["fund"]
    values = {"case_number": "N1", "matter": "老年证办理"}
    assert texts.render("accepted", values, channel="sms", matter_id=senior.pk).startswith("您的“老年证办理”已受理")
    MessageTemplate.objects.create(event="accepted", text="通用：{case_number}")
    MessageTemplate.objects.create(event="accepted", matter=senior, text="老年证：{case_number}")
    MessageTemplate.objects.create(event="accepted", matter=senior, channel="inapp",
                                   text="老年证（站内，可以长一些）：{case_number}")
    MessageTemplate.objects.create(event="accepted", matter=fund, text="公积金：{case_number}", active=False)
    assert texts.render("accepted", values, channel="sms", matter_id=senior.pk) == "老年证：N1"
    assert texts.render("accepted", values, channel="inapp", matter_id=senior.pk) == "老年证（站内，可以长一些）：N1"
    assert texts.render("accepted", values, channel="sms", matter_id=fund.pk) == "通用：N1"  # its own is off
    assert texts.render("accepted", values, channel="sms") == "通用：N1"


def test_values_are_never_read_as_template_syntax():
    hostile = {"reason": "{case_number} {{x}} =1+1 \x07", "case_number": "N1"}
    assert texts.fill("理由：{reason}", hostile) == "理由：{case_number} {{x}} =1+1 \x07"


def test_a_case_is_told_with_the_admins_template_and_hostile_text_leaves_masked(world):
    MessageTemplate.objects.create(event="rejected", matter=world.matters["senior"],
                                   text="【老年证】{case_number}不予受理，原因：{reason}。咨询：{unit}")
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        # (Control characters are refused before they get here: the pages' middleware and the engine's
        # check of a step's texts, cases/tests/test_replies_and_notes.py.)
        act(world, "clerk_xfl", case, "reject", comment="=1+1 {link} 身份证号 110101195003079012 不符合条件")
    sms, = told(case)
    assert sms.startswith(f"【老年证】{case.number}不予受理，原因：=1+1 {{link}} 身份证号 ")
    assert "110101195003079012" not in sms
    assert told(case, "inapp") == [sms]


# --- 补正 and 办结 -----------------------------------------------------------------------------------


def test_a_supplement_lists_the_missing_materials_by_their_names_once(world):
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        case = act(world, "clerk_xfl", case, "accept")
        act(world, "clerk_xfl", case, "request_supplement", comment="photo 和 id_card 都不清晰；photo 请用白底")
    sms = told(case)[-1]
    assert "需要补正：身份证、一寸照片（一寸照片 和 身份证 都不清晰；一寸照片 请用白底）" in sms
    assert "id_card" not in sms and "photo" not in sms


def test_the_missing_list_takes_codes_or_names_the_supplement_step_recorded(world):
    case = Case.objects.get(pk=case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                                           **SENIOR_OK).case.pk)
    # In the matter's order, each once, by the name the matter gives the code.
    values = applicant_variables(case, {"missing": [{"code": "hukou", "name": "户口本"}, {"code": "id_card"},
                                                    {"code": "hukou", "name": "户口本"}]})
    assert values["missing"] == "身份证、户口本"
    values = applicant_variables(case, {"missing": [{"code": "photo", "name": "一寸照片"}],
                                        "comment": "照片须为近三个月内"})
    assert values["missing"] == "一寸照片（照片须为近三个月内）"
    assert applicant_variables(case, {"comment": "请补充户口簿首页。"})["missing"] == "请补充户口簿首页"


def test_closing_says_the_decision_how_to_get_the_result_and_invites_a_rating(world):
    case = closed_application(world)
    closed = told(case)[-1]
    assert "决定：准予。老年证已制好。" in closed and f"/cases/{case.number}/" in closed and "欢迎评价" in closed
    # A refusal with its reason, when the decision recorded one.
    values = applicant_variables(case, {}, facts={"decision": "不予", "decision_reason": "年龄未满60周岁。"})
    assert values["decision"] == "不予（理由：年龄未满60周岁）"


def test_how_to_get_the_result_falls_back_to_where_the_matter_is_handled(world):
    case = closed_application(world)
    snapshot = case.matter_version.snapshot
    case.matter_version.snapshot = {**snapshot, "where": "幸福里社区便民服务站"}
    assert applicant_variables(case, {})["how_to_get"] == "可到幸福里社区便民服务站领取结果。"
    assert applicant_variables(case, {}, facts={"delivery": "结果已邮寄，运单号SF123。"})["how_to_get"] == \
        "结果已邮寄，运单号SF123。"
    case.decision = "denied"
    assert applicant_variables(case, {})["how_to_get"] == ""


# --- signature and segments ----------------------------------------------------------------------


@pytest.mark.parametrize(("length", "expected"), [(60, 1), (61, 2), (124, 2), (125, 3), (191, 3), (192, 4)])
def test_an_sms_is_one_segment_up_to_70_characters_with_the_signature_then_67_a_part(length, expected):
    assert texts.segments("政" * length, SIGN) == expected  # 10 + 60 = 70; 10 + 124 = 134 = 2 × 67


def test_emoji_count_twice_and_a_latin_only_sms_holds_160():
    assert texts.segments("😀" * 30, SIGN) == 1 and texts.segments("😀" * 31, SIGN) == 2
    assert texts.segments("a" * 160, "") == 1 and texts.segments("a" * 161, "") == 2


def test_a_long_chinese_text_is_split_into_numbered_parts_that_each_fit_one_sms():
    text = "您的“城乡居民基本养老保险待遇领取资格认证”已办结，决定：准予。" * 6
    parts = texts.split(text, SIGN)
    assert len(parts) == texts.segments(text, SIGN) or len(parts) == texts.segments(text, SIGN) + 1
    assert all(len(SIGN + p) <= 70 for p in parts)
    assert [p[:5] for p in parts][:2] == [f"(1/{len(parts)})", f"(2/{len(parts)})"]
    assert "".join(p.split(")", 1)[1] for p in parts) == text
    assert texts.split("短消息", SIGN) == ["短消息"]


class PartsOnly:
    """A gateway that sends one SMS at a time, no long SMS."""

    idempotent = True
    concatenates = False

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send(self, to, text, *, idempotency_id):
        self.sent.append((idempotency_id, text))
        return idempotency_id


def test_a_gateway_without_long_sms_gets_the_parts_and_a_provider_gets_one_long_sms(settings, tmp_path, db):
    text = "政" * 150
    gateway = PartsOnly()
    SmsChannel(gateway).send(to="13800000000", subject="", text=text, idempotency_id="abc")
    assert [i for i, _t in gateway.sent] == ["abc-1", "abc-2", "abc-3"]
    gateway.concatenates = True
    gateway.sent.clear()
    SmsChannel(gateway).send(to="13800000000", subject="", text=text, idempotency_id="abc")
    assert gateway.sent == [("abc", text)]


def test_the_outbox_records_the_segments_and_the_file_channel_writes_the_signature(db, settings, tmp_path):
    settings.YIWANG_SMS_BACKEND = "file"
    settings.YIWANG_SMS_FILE = str(tmp_path / "sms.jsonl")
    long = services.enqueue(channel="sms", to="13800000000", text="政" * 125, dedupe_key="t:1:sms")
    short = services.enqueue(channel="sms", to="13800000000", text="短", dedupe_key="t:2:sms")
    assert (long.segments, short.segments) == (3, 1)
    services.deliver_due()
    lines = [json.loads(x) for x in (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted((x["text"][:12], x["segments"]) for x in lines) == [(SIGN + "政政", 3), (SIGN + "短", 1)]


def test_a_provider_signs_with_the_signature_unless_told_its_approved_name(settings, db):
    from yiwang.messages.sms._common import sign_name

    settings.YIWANG_SMS_SIGN_NAME = ""
    assert sign_name() == "西咸新区政务服务"
    settings.YIWANG_SMS_SIGN_NAME = "西咸新区"
    assert sign_name() == "西咸新区"


# --- the reminder to rate -------------------------------------------------------------------------


def reminders(case: Case) -> list[Message]:
    return list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:rating_reminder:").order_by("channel"))


def test_one_reminder_after_three_days_if_not_rated_never_twice(world):
    case = closed_application(world)
    with clock.frozen_at(MONDAY + dt.timedelta(days=2, hours=23)):
        assert remind_to_rate() == 0  # not yet
    with clock.frozen_at(MONDAY + dt.timedelta(days=3, hours=1)):
        sweep_deadlines()  # the worker's minute
        sweep_deadlines()
    sms, inapp = sorted(reminders(case), key=lambda m: m.channel != "sms")
    assert sms.to == world.residents["wang"].phone and "还没有评价" in sms.text
    assert f"/cases/{case.number}/" in sms.text and inapp.resident_id == world.residents["wang"].pk
    with clock.frozen_at(MONDAY + dt.timedelta(days=4, hours=1)):
        assert remind_to_rate() == 0
    assert len(reminders(case)) == 2


def test_no_reminder_for_a_rated_case_at_night_or_for_a_case_closed_quietly(world):
    from yiwang.feedback.services import evaluation_create

    rated = closed_application(world)
    with clock.frozen_at(MONDAY + dt.timedelta(hours=1)):
        evaluation_create(viewer=world.viewer("resident_wang"), case_id=rated.pk, rating=5)
    with services.quiet():
        quiet = closed_application(world)
    with clock.frozen_at(MONDAY.replace(hour=23) + dt.timedelta(days=3)):
        assert remind_to_rate() == 0  # night: not now
    with clock.frozen_at(MONDAY + dt.timedelta(days=3, hours=1)):
        assert remind_to_rate() == 0
    assert reminders(rated) == [] and reminders(quiet) == []


def test_a_template_can_reword_the_reminder(world):
    MessageTemplate.objects.create(event="rating_reminder", channel="sms", text="请为{case_number}打分：{link}")
    case = closed_application(world)
    with clock.frozen_at(MONDAY + dt.timedelta(days=3, hours=1)):
        assert remind_to_rate() == 1
    assert [m.text for m in reminders(case) if m.channel == "sms"] == \
        [f"请为{case.number}打分：http://127.0.0.1:8000/cases/{case.number}/"]


def test_a_step_taken_in_the_quiet_hours_reaches_the_phone_when_they_end(world, settings):
    settings.YIWANG_QUIET_HOURS = "22:00-07:00"
    night = MONDAY.replace(hour=23)
    with clock.frozen_at(night):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        act(world, "clerk_xfl", case, "accept")
    sms = Message.objects.get(dedupe_key__startswith=f"case:{case.pk}:", channel="sms")
    inapp = Message.objects.get(dedupe_key__startswith=f"case:{case.pk}:", channel="inapp")
    assert sms.next_attempt_at == (night + dt.timedelta(days=1)).replace(hour=7)
    assert inapp.status == "sent"  # in yiwang at once; only the phone waits


def test_a_step_after_the_closing_does_not_hide_that_it_invited_a_rating(world):
    from django.db.models import F

    first, second = closed_application(world), closed_application(world)
    # As if a step that tells nobody came after the closing: its message is no longer the last event's.
    Case.objects.filter(pk=second.pk).update(event_count=F("event_count") + 1)
    with clock.frozen_at(MONDAY + dt.timedelta(days=3, hours=1)):
        assert remind_to_rate(chunk=1) == 2
        assert remind_to_rate(chunk=1) == 0
    assert len(reminders(first)) == len(reminders(second)) == 2
