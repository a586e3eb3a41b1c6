"""Staff-internal text never reaches a resident-facing answer.

A leader's 督办 remark showed on /lookup/ to an anonymous visitor. Each action declares which of its
texts residents may read (cases.workflows.Action.public); the resident's case page, /lookup/, the API
answering the applicant and Open311 show only those, while staff see everything on the workbench.
"""

from __future__ import annotations

import json

import pytest

from yiwang.cases.services import case_act, case_create
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK

INTERNAL = ("内部转办理由-甲", "领导督办批示-乙", "上报理由-丙", "返工要求-丁")
PUBLIC = ("请补交户口本复印件", "路口车辆已清理完毕")


def _act(world, who, case, action, **inputs):
    case.refresh_from_db()
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


@pytest.fixture
def application(world):
    """王大爷's application: escalated, supervised, transferred inside the town, then a supplement asked."""
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    _act(world, "clerk_xfl", case, "escalate", comment=INTERNAL[2])
    _act(world, "leader_kg", case, "supervise", comment=INTERNAL[1])
    case.refresh_from_db()
    holder = world.viewer("handler_dz")  # escalated to the town's hall
    case = case_act(viewer=holder, case_id=case.pk, action="transfer", version=case.version, unit_code="KG-DZ-XFL-SH",
                    comment=INTERNAL[0])
    _act(world, "clerk_xfl", case, "accept")
    _act(world, "clerk_xfl", case, "request_supplement", comment=PUBLIC[0])
    case.refresh_from_db()
    return case


@pytest.fixture
def incident(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       description="路口乱停车").case
    for who, action, inputs in (("operator_kg", "register", {}), ("operator_kg", "dispatch", {"unit_code": "KG-DZ-EN"}),
                                ("handler_en", "acknowledge", {}), ("handler_en", "handle", {"result": "初步处理"}),
                                ("operator_kg", "rework", {"comment": INTERNAL[3]}),
                                ("handler_en", "acknowledge", {}), ("handler_en", "handle", {"result": PUBLIC[1]})):
        _act(world, who, case, action, **inputs)
    case.refresh_from_db()
    return case


def _none_internal(text: str) -> list[str]:
    return [t for t in INTERNAL if t in text]


def test_the_residents_case_page_shows_public_replies_only(client, world, application):
    client.force_login(world.users["resident_wang"])
    page = client.get(f"/cases/{application.number}/").content.decode()
    assert PUBLIC[0] in page and _none_internal(page) == []


def test_lookup_shows_public_replies_only(client, world, application):
    page = client.get("/lookup/", {"number": application.number, "phone": "13800000001"}).content.decode()
    assert application.number in page and PUBLIC[0] in page
    assert _none_internal(page) == []


def test_the_api_answers_the_applicant_without_internal_text_and_staff_with_it(client, world, application):
    def read(username: str) -> str:
        token = token_create(username=username)
        response = client.get(f"/api/v1/cases/{application.number}", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200
        return json.dumps(response.json(), ensure_ascii=False)

    mine = read("resident_wang")
    assert PUBLIC[0] in mine and _none_internal(mine) == []
    staff = read("clerk_xfl")
    assert all(t in staff for t in (*INTERNAL[:3], PUBLIC[0]))


def test_the_workbench_shows_staff_everything(client, world, application):
    client.force_login(world.users["clerk_xfl"])
    panel = client.get(f"/work/cases/{application.number}/").content.decode()
    assert all(t in panel for t in (*INTERNAL[:3], PUBLIC[0]))


def test_open311_and_the_reporters_page_show_the_result_not_the_rework_order(client, world, incident):
    public = json.dumps(client.get(f"/open311/v2/requests/{incident.number}.json").json(), ensure_ascii=False)
    assert PUBLIC[1] in public and _none_internal(public) == []
    client.force_login(world.users["resident_wang"])
    page = client.get(f"/cases/{incident.number}/").content.decode()
    assert PUBLIC[1] in page and _none_internal(page) == []


def test_every_action_that_writes_text_declares_whether_residents_may_read_it():
    """A new action with a comment or result must decide: public texts are listed, the rest stay staff-only.
    This pins today's decisions so that changing one is deliberate. (A staff member's reply is public and
    their note internal on every action, whatever is listed: cases/tests/test_replies_and_notes.py.)"""
    from yiwang.cases.workflows import WORKFLOWS

    public = {(wf.kind, a.name): a.public for wf in WORKFLOWS.values() for a in wf.actions.values() if a.public}
    assert public == {
        ("application", "reject"): ("comment",), ("application", "request_supplement"): ("comment", "missing"),
        ("application", "resubmit"): ("comment", "resubmitted"), ("application", "decide"): ("decision", "result"),
        ("application", "close"): ("delivery",),
        ("application", "withdraw"): ("comment",), ("application", "schedule_visit"): ("slot",),
        ("application", "record_visit"): ("result",), ("consultation", "answer"): ("result",),
        ("consultation", "close"): ("comment",), ("incident", "dismiss"): ("comment",),
        # The handling's after photos are the reporter's to judge "已解决吗？" by; the reporter's own words
        # (已解决, 未解决, reopening) are theirs to read back.
        ("incident", "handle"): ("result", "photos"), ("incident", "merge"): ("parent",),
        ("incident", "confirm"): ("comment",), ("incident", "not_resolved"): ("comment",),
        ("incident", "reopen"): ("comment",),
        ("follow_up", "report_back"): ("result",),
    }
