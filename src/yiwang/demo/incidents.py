"""结案 in the demo's history, as the incident workflow allows it: a report with a reporter to ask
(a resident, a phone number) is closed by the reporter's 已解决 through the SMS link after the
centre asks; one nobody can answer for (a grid worker's, a camera's) is closed by the centre.

Two more endings a district sees, each through the engine's own services so the chain verifies: a
reporter who never answers (closed unconfirmed by the sweep after CONFIRMATION_WORKING_DAYS, never
counted as satisfied), and a reporter who says within REOPEN_DAYS that the problem came back (重办,
back to the handling unit)."""

from __future__ import annotations

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.cases.services.confirmation import confirmation_token, incident_answer, incident_close_unconfirmed
from yiwang.org.selectors import Viewer

# What a reporter writes when the problem is back (the reopening needs a comment).
REOPEN_COMMENTS = ("车又停回来了，问题没有解决。", "清理后第二天又堆满了垃圾。", "路灯修好两天又不亮了。",
                   "噪音晚上又开始了，请再来看看。")


def close_incident(*, viewer: Viewer, case_id: int) -> Case:
    """Close a verified incident as the operator ``viewer``, asking its reporter when there is one."""
    case = Case.objects.get(pk=case_id)
    if not case.reporter_reachable:
        return case_act(viewer=viewer, case_id=case.pk, action="close", version=case.version)
    case = case_act(viewer=viewer, case_id=case.pk, action="ask_confirmation", version=case.version)
    return incident_answer(case_id=case.pk, answer="yes", token=confirmation_token(case))


def ask_reporter(*, viewer: Viewer, case_id: int) -> Case:
    """结案前请群众确认 on a verified incident whose reporter can be asked; the answer never comes."""
    case = Case.objects.get(pk=case_id)
    return case_act(viewer=viewer, case_id=case.pk, action="ask_confirmation", version=case.version)


def close_unanswered(*, case_id: int) -> Case:
    """The worker's sweep closing an incident whose reporter did not answer in time (call it with the
    clock past the reporter's time); the case as it then is."""
    case = Case.objects.get(pk=case_id)
    incident_close_unconfirmed(case=case)
    return Case.objects.get(pk=case_id)


def reopen(*, case_id: int, comment: str) -> Case:
    """The reporter's 问题未解决，申请重办 through the SMS link, within REOPEN_DAYS of closing."""
    case = Case.objects.get(pk=case_id)
    return incident_answer(case_id=case.pk, answer="reopen", comment=comment, token=confirmation_token(case))
