"""结案 in the demo's history, as the incident workflow allows it: a report with a reporter to ask
(a resident, a phone number) is closed by the reporter's 已解决 through the SMS link after the
centre asks; one nobody can answer for (a grid worker's, a camera's) is closed by the centre."""

from __future__ import annotations

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.cases.services.confirmation import confirmation_token, incident_answer
from yiwang.org.selectors import Viewer


def close_incident(*, viewer: Viewer, case_id: int) -> Case:
    """Close a verified incident as the operator ``viewer``, asking its reporter when there is one."""
    case = Case.objects.get(pk=case_id)
    if not case.reporter_reachable:
        return case_act(viewer=viewer, case_id=case.pk, action="close", version=case.version)
    case = case_act(viewer=viewer, case_id=case.pk, action="ask_confirmation", version=case.version)
    return incident_answer(case_id=case.pk, answer="yes", token=confirmation_token(case))
