"""Staff text is a reply (the resident reads it: case page, /lookup/, the API as the applicant, Open311,
messages) or a note (staff only). Old events keep the rule they were written under: the timeline is
hash-chained and never rewritten."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiwang.cases.models import CannedReply, Case, CaseEvent
from yiwang.cases.selectors import canned_replies, canned_reply_text, case_timeline, public_timeline
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.actions import take
from yiwang.cases.services.timeline import rules_for
from yiwang.cases.workflows import Inputs, workflow
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.messages.models import Message
from yiwang.testing import SENIOR_OK

MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NOTE = "内部：申请人曾有纠纷 =1+1 61040219500101123X"


@pytest.fixture(autouse=True)
def at_monday():
    with clock.frozen_at(MONDAY):
        yield


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


@pytest.fixture
def case(world) -> Case:
    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case


def test_a_reply_reaches_the_resident_and_a_note_stays_with_staff(world, case, api):
    case = act(world, "clerk_xfl", case, "accept", reply="已受理，请留意短信", note=NOTE)
    case = act(world, "clerk_xfl", case, "request_supplement", reply="请补交一寸照片", note=NOTE)

    staff = [e.payload for e in case_timeline(case)]
    assert staff[1]["reply"] == "已受理，请留意短信" and staff[1]["note"] == NOTE and staff[2]["note"] == NOTE
    public = [e.payload for e in public_timeline(case)]
    assert [p.get("reply") for p in public[1:]] == ["已受理，请留意短信", "请补交一寸照片"]
    assert all("note" not in p for p in public[1:])

    as_applicant = api("get", f"/cases/{case.number}", "resident_wang").json()
    assert "申请人曾有纠纷" not in str(as_applicant) and "请补交一寸照片" in str(as_applicant)
    as_staff = api("get", f"/cases/{case.number}", "clerk_xfl").json()
    assert "申请人曾有纠纷" in str(as_staff)
    assert "61040219500101123X" not in str(as_staff)  # a note is staff's, still masked

    texts = list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:").values_list("text", flat=True))
    assert texts and any("请补交一寸照片" in t for t in texts)
    assert not any("纠纷" in t for t in texts)


def test_the_older_comment_becomes_a_reply_or_a_note_as_the_action_declared_it(world, case):
    case = act(world, "clerk_xfl", case, "accept")
    case = act(world, "clerk_xfl", case, "request_supplement", comment="缺照片")  # public before the split
    case = act(world, "resident_wang", case, "resubmit", comment="已补")  # the applicant's own words
    case = act(world, "clerk_xfl", case, "transfer", unit_code="KG-DZ-SH", comment="街道办理")  # internal
    supplement, resubmit, transfer = (e.payload for e in case_timeline(case)[2:5])
    assert supplement.get("reply") == "缺照片" and "comment" not in supplement
    assert resubmit.get("comment") == "已补" and "reply" not in resubmit
    assert transfer.get("note") == "街道办理" and "reply" not in transfer
    public = public_timeline(case)
    assert "街道办理" not in str([e.payload for e in public]) and "已补" in str([e.payload for e in public])


def test_an_old_event_keeps_the_rule_it_was_written_under(world, case):
    # Written before replies and notes: a supplement's comment was public, a transfer's was not.
    case = act(world, "clerk_xfl", case, "accept")
    wf = workflow(case.kind)
    case = take(case, wf.actions["request_supplement"], Inputs(comment="旧：缺照片"), viewer=world.viewer("clerk_xfl"),
                capacity="clerk", at=clock.now(), rules=rules_for(case))
    case = take(case, wf.actions["transfer"], Inputs(comment="旧：转街道", unit_id=world.units["dz_sh"].id),
                viewer=world.viewer("clerk_xfl"), capacity="clerk", at=clock.now(), rules=rules_for(case))
    public = [e.payload for e in public_timeline(case)]
    assert public[2] == {"comment": "旧：缺照片"} and "旧：转街道" not in str(public)


@pytest.mark.parametrize(("who", "action", "inputs", "field"), [
    ("clerk_xfl", "reject", {"note": "只有备注"}, "reply"),
    ("clerk_xfl", "transfer", {"unit_code": "KG-DZ-SH", "reply": "只有答复"}, "note"),
    ("leader_kg", "supervise", {}, "note"),
])
def test_an_action_that_must_explain_itself_refuses_without_its_text(world, case, who, action, inputs, field):
    with pytest.raises(ValidationFailed) as refused:
        act(world, who, case, action, **inputs)
    assert refused.value.field == field
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_a_refusal_decision_needs_its_reason_and_a_grant_does_not(world, case):
    case = act(world, "handler_xfl", case, "accept")
    with pytest.raises(ValidationFailed) as refused:
        act(world, "handler_xfl", case, "decide", decision="denied", note="内部讨论")
    assert refused.value.field == "reply"
    granted = act(world, "handler_xfl", case, "decide", decision="approved")
    assert granted.decision == "approved"


def test_a_reply_or_note_too_long_is_refused_by_name(world, case):
    with pytest.raises(ValidationFailed) as refused:
        act(world, "clerk_xfl", case, "accept", note="长" * 2001)
    assert refused.value.field == "note"


def test_canned_replies_are_offered_for_the_matter_and_action_and_a_guessed_one_is_refused(world, case):
    own = CannedReply.objects.create(matter=world.matters["senior"], action="request_supplement", title="缺照片",
                                     text="请补交近期一寸免冠照片。")
    everywhere = CannedReply.objects.create(action="request_supplement", title="通用", text="请补交材料。")
    other = CannedReply.objects.create(matter=world.matters["fund"], action="request_supplement", title="公积金",
                                       text="请补交公积金卡。")
    CannedReply.objects.create(action="request_supplement", title="停用", text="x", active=False)
    offered = canned_replies(case, ["request_supplement", "accept"])
    assert offered == {"request_supplement": [own, everywhere]}
    assert canned_reply_text(case, "request_supplement", own.pk) == "请补交近期一寸免冠照片。"
    for guessed, action in ((other.pk, "request_supplement"), (own.pk, "reject"), (999999, "request_supplement")):
        with pytest.raises(ValidationFailed) as refused:
            canned_reply_text(case, action, guessed)
        assert refused.value.field == "canned"


def test_a_canned_reply_for_an_unknown_action_is_refused_by_the_admin_form(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        CannedReply(matter=world.matters["senior"], action="dispatch", title="x", text="y").clean()
    CannedReply(matter=world.matters["senior"], action="reject", title="x", text="y").clean()


@pytest.mark.parametrize("field", ["comment", "reply", "note", "result"])
def test_a_control_character_in_any_staff_text_is_refused_by_the_service(world, case, field):
    """The pages' middleware refuses it first; the API, the CLI and code reach the service with it, and
    PostgreSQL refuses a NUL in text outright (a 500, and on SQLite a stored invisible character)."""
    case = act(world, "clerk_xfl", case, "accept")
    action = {"comment": "transfer", "reply": "request_supplement", "note": "transfer", "result": "decide"}[field]
    inputs = {"comment": {"comment": "转\x00办", "unit_code": "KG-DZ-SH"},
              "reply": {"reply": "请补\x00充", "missing": ["photo"]},
              "note": {"note": "内部\x1b备注", "unit_code": "KG-DZ-SH"},
              "result": {"decision": "approved", "result": "准\x00予"}}[field]
    who = "handler_xfl" if field == "result" else "clerk_xfl"
    with pytest.raises(ValidationFailed) as refused:
        act(world, who, case, action, **inputs)
    assert refused.value.field.startswith(field) or field in str(refused.value.errors or refused.value.field)
    assert Case.objects.get(pk=case.pk).version == case.version


# --- incidents, follow-ups, rectification and assistance (issue 18 item 3, the other kinds) ----------

HOSTILE_REPLY = "已转交交警 =HYPERLINK(\"http://x\") <b>粗</b> 61040219500101123X"
HOSTILE_NOTE = "内部：报事人与车主有纠纷 =1+1 <script>x</script> 61040219500101123X"


@pytest.fixture
def report(world) -> Case:
    """A problem reported online by resident_wang (phone 13800000001)."""
    return case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="楼下乱停车", channel="online", region_code="KG-DZ-XFL").case


def resident_reads(client, world, case: Case, api) -> str:
    """Everything the resident may read of ``case``: their case page, /lookup/, the API as the
    applicant, Open311 (an incident's request) and their messages, as one text."""
    client.login(username="resident_wang", password="pw-wang")
    parts = [client.get(f"/cases/{case.number}/").content.decode()]
    client.logout()
    parts.append(client.get("/lookup/", {"number": case.number, "phone": "13800000001"}).content.decode())
    parts.append(str(api("get", f"/cases/{case.number}", "resident_wang").json()))
    if case.kind == "incident":
        parts.append(client.get(f"/open311/v2/requests/{case.number}.json").content.decode())
    parts += list(Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:").values_list("text", flat=True))
    return "\n".join(parts)


def test_a_dismissal_tells_the_reporter_its_reply_and_keeps_its_note(client, world, report, api):
    case = act(world, "operator_kg", report, "dismiss", reply=HOSTILE_REPLY, note=HOSTILE_NOTE)
    seen = resident_reads(client, world, case, api)
    assert "已转交交警" in seen and "纠纷" not in seen and "<script>x" not in seen
    for part in seen.split("\n"):
        assert "61040219500101123X" not in part, part[:3000]
    client.login(username="resident_wang", password="pw-wang")
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "&lt;b&gt;粗&lt;/b&gt;" in page and "<b>粗</b>" not in page  # escaped where it is HTML
    status = client.get(f"/open311/v2/requests/{case.number}.json").json()[0]["status_notes"]
    assert status.startswith("不予立案：已转交交警") and "纠纷" not in status
    sms = Message.objects.get(dedupe_key=f"case:{case.pk}:2:applicant:sms").text
    assert "已转交交警" in sms and "纠纷" not in sms
    staff = client.get(f"/api/v1/cases/{case.number}", HTTP_AUTHORIZATION=_bearer("operator_kg")).json()
    assert "纠纷" in str(staff) and "61040219500101123X" not in str(staff)


def _bearer(username: str) -> str:
    from yiwang.org.services import token_create

    return f"Bearer {token_create(username=username)}"


def test_every_note_of_an_incidents_handling_stays_with_staff(client, world, report, api):
    case = act(world, "operator_kg", report, "register", reply="已立案，将派单位处置", note=HOSTILE_NOTE)
    case = act(world, "operator_kg", case, "supervise", note="督办：" + HOSTILE_NOTE)
    case = act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN", note=HOSTILE_NOTE)
    case = act(world, "handler_en", case, "acknowledge")
    case = act(world, "handler_en", case, "escalate", note="上报理由" + HOSTILE_NOTE)
    seen = resident_reads(client, world, case, api)
    assert "已立案，将派单位处置" in seen
    assert "纠纷" not in seen and "上报理由" not in seen and "<script>x" not in seen
    notes = [e.payload.get("note") for e in case_timeline(case) if e.action in ("supervise", "dispatch", "escalate")]
    assert all(n and "纠纷" in n for n in notes)


def test_rework_is_a_note_and_the_reporter_sees_only_the_state(client, world, report, api):
    case = act(world, "operator_kg", report, "register")
    case = act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    case = act(world, "handler_en", case, "acknowledge")
    case = act(world, "handler_en", case, "handle", result="已劝离车辆")
    with pytest.raises(ValidationFailed) as refused:
        act(world, "operator_kg", case, "rework")
    assert refused.value.field == "note"
    case = act(world, "operator_kg", case, "rework", note="返工：照片看车仍在 " + HOSTILE_NOTE)
    seen = resident_reads(client, world, case, api)
    assert "已劝离车辆" in seen and "车仍在" not in seen and "纠纷" not in seen


@pytest.mark.parametrize(("action", "inputs", "field"), [
    ("dismiss", {"note": "只有备注"}, "reply"),
    ("transfer", {"unit_code": "KG-DZ-EN", "reply": "只有答复"}, "note"),
    ("escalate", {}, "note"),
])
def test_an_incident_action_that_must_explain_itself_names_the_missing_text(world, report, action, inputs, field):
    with pytest.raises(ValidationFailed) as refused:
        act(world, "operator_kg", report, action, **inputs)
    assert refused.value.field == field
    assert CaseEvent.objects.filter(case=report).count() == 1


def test_an_older_caller_s_comment_is_the_dismissals_reply_and_the_reworks_note(world, report):
    case = act(world, "operator_kg", report, "dismiss", comment="不属于受理范围")
    dismiss = case_timeline(case)[-1].payload
    assert dismiss.get("reply") == "不属于受理范围" and "comment" not in dismiss


def test_an_old_dismissal_keeps_its_public_comment_in_status_notes_and_on_the_page(client, world, report):
    # Written before the split: 不予立案's comment was public (the reporter was owed the reason).
    wf = workflow("incident")
    case = take(report, wf.actions["dismiss"], Inputs(comment="旧：不属于城管范围"), viewer=world.viewer("operator_kg"),
                capacity="operator", at=clock.now(), rules=rules_for(report))
    status = client.get(f"/open311/v2/requests/{case.number}.json").json()[0]["status_notes"]
    assert status == "不予立案：旧：不属于城管范围"
    assert public_timeline(case)[-1].payload == {"comment": "旧：不属于城管范围"}


def test_a_call_back_is_the_units_note_and_the_rater_reads_the_result(client, world, api):
    from yiwang.feedback.services import evaluation_create

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "clerk_xfl", case, "accept")
    case = act(world, "handler_xfl", case, "decide", decision="approved")
    case = act(world, "clerk_xfl", case, "close", delivery={"method": "post", "tracking": "SF1234567890"})
    follow_up = evaluation_create(viewer=world.viewer("resident_wang"), case_id=case.pk, rating=1,
                                  comment="太慢").follow_up_case
    follow_up = act(world, "handler_xfl", follow_up, "call_back", note="回访：" + HOSTILE_NOTE)
    follow_up = act(world, "handler_xfl", follow_up, "report_back", result="已改进窗口排队叫号")
    assert [e.payload for e in public_timeline(follow_up)][-2:] == [{}, {"result": "已改进窗口排队叫号"}]
    texts = list(Message.objects.filter(dedupe_key__startswith=f"case:{follow_up.pk}:").values_list("text", flat=True))
    assert any("已改进窗口排队叫号" in t for t in texts) and not any("纠纷" in t for t in texts)
    as_rater = str(api("get", f"/cases/{follow_up.number}", "resident_wang").json())
    assert "纠纷" not in as_rater


@pytest.mark.parametrize(("matter", "action"), [("RECT_GRASSROOTS", "start"), ("ASSIST_POVERTY", "log_visit")])
def test_an_internal_kind_takes_no_reply_and_shows_nothing_to_residents(world, matter, action):
    case = case_create(viewer=world.viewer("admin"), matter_code=matter, region_code="KG-DZ-XFL").case
    with pytest.raises(ValidationFailed) as refused:
        act(world, "admin", case, action, reply="给群众的话", note="内部")
    assert refused.value.field == "reply"
    case = act(world, "admin", case, action, note=HOSTILE_NOTE)
    # Even an event that somehow holds a reply (a script, an old row) is not read as public.
    forged = take(case, workflow(case.kind).actions["claim"], Inputs(reply="不该公开"), viewer=world.viewer("admin"),
                  capacity="handler", at=clock.now(), rules=rules_for(case))
    assert [e.payload for e in public_timeline(forged)] == [{} for _e in public_timeline(forged)]


def test_an_application_cannot_be_closed_without_a_delivery_by_the_engine_or_the_api(world, case, api):
    case = act(world, "clerk_xfl", case, "accept")
    case = act(world, "handler_xfl", case, "decide", decision="approved")
    with pytest.raises(ValidationFailed) as refused:
        act(world, "clerk_xfl", case, "close", reply="已办结")
    assert refused.value.field == "delivery.method"
    answer = api("post", f"/cases/{case.number}/actions/close", "clerk_xfl", {"version": case.version})
    assert answer.status_code == 422 and "delivery.method" in answer.json()["errors"]
    assert Case.objects.get(pk=case.pk).state == "decided"
    closed = api("post", f"/cases/{case.number}/actions/close", "clerk_xfl",
                 {"version": case.version, "delivery": {"method": "post", "tracking": "SF1234567890"}})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"


def test_a_second_faq_click_is_refused_by_name_with_a_link_to_the_draft(client, world):
    from yiwang.catalog.models import MatterFAQ
    from yiwang.core.errors import IllegalTransition

    ask = case_create(viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL", description="合疗怎么报销？").case
    ask = act(world, "clerk_xfl", ask, "answer", result="持社保卡到定点医院直接结算。")
    stale = ask.version
    ask = act(world, "clerk_xfl", ask, "publish_faq")
    faq = MatterFAQ.objects.get(source_case_id=ask.pk)
    with pytest.raises(IllegalTransition) as refused:
        act(world, "handler_xfl", ask, "publish_faq")
    assert "已转为常见问题" in refused.value.message
    client.login(username="clerk_xfl", password="pw-clerk_xfl")
    # A second click from a page opened before the first (its version is stale, the button still there).
    page = client.post(f"/work/cases/{ask.number}/act/publish_faq/", {"version": stale}, HTTP_HX_REQUEST="true")
    body = page.content.decode()
    assert f'href="/work/faq/{faq.pk}/"' in body and "已转为常见问题" in body
    assert MatterFAQ.objects.filter(source_case_id=ask.pk).count() == 1


def test_the_workbench_offers_reply_note_and_canned_replies_by_kind(client, world, report):
    CannedReply.objects.create(action="dismiss", title="非本辖区", text="该问题不属于本辖区，请向属地反映。")
    CannedReply(action="dismiss", title="x", text="y").clean()  # the admin takes an incident's action
    client.login(username="operator_kg", password="pw-operator_kg")
    page = client.get(f"/work/cases/{report.number}/").content.decode()
    assert 'id="reply-dismiss"' in page and 'id="note-dismiss"' in page and "非本辖区" in page
    assert 'name="comment"' not in page
    rect = case_create(viewer=world.viewer("admin"), matter_code="RECT_GRASSROOTS", region_code="KG-DZ-XFL").case
    client.login(username="admin", password="pw-admin")
    page = client.get(f"/work/cases/{rect.number}/").content.decode()
    assert 'id="note-cancel"' in page and 'name="reply"' not in page


def test_the_admin_offers_every_action_that_takes_a_reply_and_none_that_does_not(client, world):
    client.login(username="admin", password="pw-admin")
    page = client.get("/admin/cases/cannedreply/add/").content.decode()
    for offered in ('value="dismiss"', 'value="request_supplement"', 'value="close"'):
        assert offered in page
    for internal in ('value="log_visit"', 'value="report_progress"', 'value="reopen"', 'value="warn"'):
        assert internal not in page
    saved = client.post("/admin/cases/cannedreply/add/", {"action": "dismiss", "title": "非本辖区",
                                                          "text": "请向属地反映。", "active": "on"})
    assert saved.status_code == 302 and CannedReply.objects.get().action == "dismiss"
    refused = client.post("/admin/cases/cannedreply/add/", {"action": "log_visit", "title": "x", "text": "y"})
    assert refused.status_code == 200 and CannedReply.objects.count() == 1
