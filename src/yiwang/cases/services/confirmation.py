"""已解决吗？ The reporter's answer before an incident is closed (是: closed; 否: back to the
handling unit), the sweep that closes unanswered ones as unconfirmed, and the reporter's reopening
of a closed incident. Each function is one transaction through the engine's ``take``.

The reporter answers on their case page when signed in, or through the link in the SMS: a reporter
who gave only a phone number has no account, and the signed link (bound to the case, expiring) is
what proves the message reached them.
"""

from __future__ import annotations

import datetime as dt

from django.core import signing
from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.cases import workdays
from yiwang.cases.models import Case, Kind
from yiwang.cases.services.actions import _check_state, take
from yiwang.cases.services.timeline import rules_for, stored
from yiwang.cases.workflows import APPLICANT, CONFIRMATION_WORKING_DAYS, REOPEN_DAYS, Inputs, workflow
from yiwang.core import clock
from yiwang.core.errors import Conflict, NotFound, ValidationFailed
from yiwang.core.text import check_text
from yiwang.org.selectors import Viewer

# What the reporter may say, and the workflow action each answer takes.
ANSWERS = {"yes": "confirm", "no": "not_resolved", "reopen": "reopen"}
MAX_COMMENT = 500
_SALT = "yiwang.cases.confirmation"
# The link serves the answer (3 working days, a holiday week at most) and the reopening window after.
TOKEN_MAX_AGE = dt.timedelta(days=30)


def confirmation_token(case: Case) -> str:
    """The signed part of the SMS link that lets the case's reporter answer without signing in."""
    return signing.dumps({"c": case.pk}, salt=_SALT, compress=True)


def case_id_from_token(token: str) -> int | None:
    """The case a link was made for, or None for a forged, altered or expired one."""
    try:
        data = signing.loads(token or "", salt=_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("c") if isinstance(data, dict) and isinstance(data.get("c"), int) else None


def confirmation_due(asked_at: dt.datetime) -> dt.datetime:
    """The end of the reporter's time to answer: CONFIRMATION_WORKING_DAYS working days after asking."""
    return workdays.due_after(asked_at, CONFIRMATION_WORKING_DAYS, "days")


def is_reporter(case: Case, *, viewer: Viewer | None, token: str | None) -> bool:
    """The reporter: the resident account the case belongs to, or whoever holds its SMS link."""
    if viewer is not None and viewer.resident_id is not None and viewer.resident_id == case.applicant_id:
        return True
    return token is not None and case_id_from_token(token) == case.pk


def incident_answer(*, case_id: int, answer: str, comment: str = "", viewer: Viewer | None = None,
                    token: str | None = None) -> Case:
    """The reporter's answer: "yes" (已解决, closes it), "no" (未解决, rework by the handling unit) or
    "reopen" (a closed incident within REOPEN_DAYS, with what is still wrong). Anyone else is refused,
    staff and superusers included: the answer is the reporter's to give."""
    action = ANSWERS.get(answer or "")
    if action is None:
        raise ValidationFailed(_("请选择“已解决”或“未解决”。"), field="answer")
    comment = (comment or "").strip()
    check_text(comment, field="comment")
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(_("说明不能超过 %(n)s 个字。") % {"n": MAX_COMMENT}, field="comment")
    with transaction.atomic():
        case = (Case.objects.select_for_update().select_related("matter_version")
                .filter(pk=case_id, kind=Kind.INCIDENT).first())
        if case is None or not is_reporter(case, viewer=viewer, token=token):
            # The same answer for a case that does not exist and one that is not theirs.
            raise NotFound(_("没有找到该案件，或您不是它的反映人。"), field="number")
        wf = workflow(case.kind)
        act = wf.actions[action]
        if action == "reopen" and case.state == "closed" and not case.reporter_may_reopen:
            raise ValidationFailed(_("结案已超过 %(n)s 天，不能再申请重办；如问题仍在，请重新反映。")
                                   % {"n": REOPEN_DAYS}, field="answer")
        _check_state(case, wf, act)
        if "comment" in act.needs and not comment:
            raise ValidationFailed(_("请说明问题哪里仍未解决。"), field="comment")
        signed_in = viewer is not None and viewer.resident_id == case.applicant_id
        # Through the link nobody is signed in: the timeline names the reporter, not "system".
        actor = viewer if signed_in else Viewer(user_id=None, username=stored(_, "反映人（短信链接）"))
        payload = {} if signed_in else {"via": "link"}
        return take(case, act, Inputs(comment=comment), viewer=actor, capacity=APPLICANT, at=clock.now(),
                    rules=rules_for(case), payload=payload)


def incident_close_unconfirmed(*, case: Case) -> bool:
    """Sweep: close an incident whose reporter has not answered within CONFIRMATION_WORKING_DAYS,
    marked unconfirmed (never counted as satisfied). True only for the call that closed it."""
    with transaction.atomic():
        fresh = Case.objects.select_related("matter_version").filter(pk=case.pk, state="confirming").first()
        now = clock.now()
        if fresh is None or fresh.suspended_at is None or now < confirmation_due(fresh.suspended_at):
            return False
        act = workflow(fresh.kind).actions["close_unconfirmed"]
        try:
            take(fresh, act, Inputs(), viewer=None, capacity=None, at=now, rules=rules_for(fresh),
                 payload={"unconfirmed": True, "asked_at": fresh.suspended_at.isoformat()})
        except Conflict:
            return False  # the reporter answered meanwhile
        return True


def sweep_confirmations() -> int:
    """Close every incident left unanswered past its time (run by ``yiwang worker``); how many."""
    # No answer is due before three calendar days have passed, whatever the calendar says.
    asked_before = clock.now() - dt.timedelta(days=CONFIRMATION_WORKING_DAYS)
    waiting = Case.objects.filter(kind=Kind.INCIDENT, state="confirming", suspended_at__lte=asked_before)
    return sum(incident_close_unconfirmed(case=c) for c in waiting.only("pk").iterator(chunk_size=500))
