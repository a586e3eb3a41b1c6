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
