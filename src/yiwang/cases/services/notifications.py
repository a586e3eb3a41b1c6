"""Who is told of a case's step: the staff notifications an action declares (workflows.Action.notify)
and the applicant's message (Action.tells, by SMS and in-app through yiwang.messages' outbox), all
written in the transaction of the event that causes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.cases.models import Case, Notification
from yiwang.cases.services.timeline import stored
from yiwang.cases.workflows import FROM_UNIT, HOLDER, SUPERVISOR_UNIT, THE_APPLICANT, Action
from yiwang.core import clock
from yiwang.messages import services as messages
from yiwang.org.models import Resident
from yiwang.org.selectors import Viewer, hierarchy


def _due(case: Case) -> str:
    return timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M") if case.due_at else ""


def _step(case: Case, kind: str, payload: dict) -> str:
    comment = payload.get("comment") or ""
    return _("%(action)s：%(number)s %(title)s%(comment)s") % {
        "action": Notification.Kind(kind).label, "number": case.number, "title": case.title[:60],
        "comment": _("（%(c)s）") % {"c": comment[:100]} if comment else "",
    }


# The message of each kind, in the site's language (stored() around the call), from the case after
# the step and the step's payload.
MESSAGES: dict[str, Callable[[Case, str, dict], str]] = {
    Notification.Kind.DISPATCHED: _step,
    Notification.Kind.REWORK: _step,
    Notification.Kind.SUPERVISE: _step,
    Notification.Kind.WARN: lambda case, kind, payload: _("即将到期：%(number)s %(title)s，期限 %(due)s") % {
        "number": case.number, "title": case.title[:60], "due": _due(case)},
    Notification.Kind.OVERDUE: lambda case, kind, payload: _("已超期：%(number)s %(title)s，期限 %(due)s") % {
        "number": case.number, "title": case.title[:60], "due": _due(case)},
    Notification.Kind.ESCALATED: lambda case, kind, payload: _("超期未办结，已按规则“%(rule)s”上报：%(number)s %(title)s") % {
        "rule": payload.get("rule_name", ""), "number": case.number, "title": case.title[:60]},
    Notification.Kind.MERGED: lambda case, kind, payload: _(
        "您反映的问题（%(number)s）已并入案件 %(parent)s 一并处理，可在办件页查看进度。") % {
        "number": case.number, "parent": payload.get("parent", "")},
}


def notify_step(case: Case, act: Action, *, from_unit_id: int | None, payload: dict) -> None:
    """Write the notifications ``act`` declares about ``case``'s latest event; call inside its transaction."""
    if act.notify is None:
        return
    kind, audiences = act.notify
    message = stored(MESSAGES[kind], case, kind, payload)
    units = {HOLDER: case.holder_unit_id, SUPERVISOR_UNIT: case.supervisor_unit_id, FROM_UNIT: from_unit_id}
    unit_ids = {units[a] for a in audiences if a in units}
    # The person holding the case hears of it too, wherever they look (their own queue).
    notify(case, kind=kind, message=message, unit_ids=unit_ids,
           user_id=case.assignee_id if HOLDER in audiences else None)
    if THE_APPLICANT in audiences and case.applicant_id:
        tell_resident(case, kind=kind, message=message)


def notify(case: Case, *, kind: str, message: str, unit_ids: set[int | None], user_id: int | None = None) -> None:
    """Write one notification per unit about ``case``'s latest event; call inside its transaction."""
    now = clock.now()
    Notification.objects.bulk_create([
        Notification(unit_id=u, user_id=user_id, case=case, event_seq=case.event_count, kind=kind,
                     message=message[:300], created_at=now, region_path=case.region_path)
        for u in sorted(u for u in unit_ids if u is not None)
    ])


def tell_resident(case: Case, *, kind: str, message: str) -> None:
    """The applicant's in-app message about ``case``'s latest event; call inside its transaction."""
    Notification.objects.create(resident_id=case.applicant_id, case=case, event_seq=case.event_count, kind=kind,
                                message=message[:300], created_at=clock.now(), region_path=case.region_path)


def notifications_mark_read(*, viewer: Viewer, ids: list[int] | None = None) -> int:
    """Mark the given notifications of the viewer's units (or all of them) read; returns how many."""
    qs = Notification.objects.filter(unit_id__in=sorted(viewer.unit_ids), read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


# --- the applicant's messages --------------------------------------------------------------------

DECISIONS = {"approved": gettext_noop("准予"), "denied": gettext_noop("不予")}


def _facts(case: Case, payload: dict) -> dict:
    unit = hierarchy().units.get(case.holder_unit_id)
    return {
        "number": case.number, "matter": case.title[:40], "unit": unit.name if unit else "",
        "due": timezone.localtime(case.due_at).strftime("%Y-%m-%d") if case.due_at else "",
        "reason": (payload.get("comment") or "")[:200], "result": (payload.get("result") or case.result or "")[:200],
        "decision": _(DECISIONS[case.decision]) if case.decision in DECISIONS else "",
        "link": f"{settings.YIWANG_SITE_URL}/cases/{case.number}/",
        # The result as a sentence of its own, whatever punctuation the clerk ended it with.
        "result_sentence": (result.rstrip("。.！!") + "。") if (result := (payload.get("result") or case.result or "")[:200])
        else "",
        "slot": timezone.localtime(dt.datetime.fromisoformat(payload["slot"])).strftime("%m-%d %H:%M")
        if payload.get("slot") else "",
    }


# Each message says what happened, what it means for the resident and what to do next; a staff
# member's remark goes out only where the action declares it public (the reason of a refusal, the
# list of what is missing, the result).
APPLICANT_MESSAGES: dict[str, Callable[[dict], str]] = {
    "accepted": lambda f: _("您的“%(matter)s”已受理，编号%(number)s，由%(unit)s办理，承诺%(due)s前办结。") % f,
    "rejected": lambda f: _("您的“%(matter)s”（%(number)s）不予受理：%(reason)s") % f,
    "supplement": lambda f: _("您的“%(matter)s”（%(number)s）需要补正：%(reason)s。请在“我的办件”中补正后提交，期间办理时限暂停。") % f,
    "visit": lambda f: _("您的“%(matter)s”（%(number)s）已安排上门服务，时间 %(slot)s。") % f,
    "closed": lambda f: _("您的“%(matter)s”（%(number)s）已办结，决定：%(decision)s。%(result_sentence)s欢迎评价：%(link)s") % f,
    "answered": lambda f: _("您的咨询（%(number)s）已答复：%(result)s") % f,
    "dismissed": lambda f: _("您反映的问题（%(number)s）不予立案：%(reason)s") % f,
    "dispatched": lambda f: _("您反映的问题（%(number)s）已派%(unit)s处置。") % f,
    "handled": lambda f: _("您反映的问题（%(number)s）已处置：%(result)s") % f,
    "closed_report": lambda f: _("您反映的问题（%(number)s）已结案，欢迎评价处理结果：%(link)s") % f,
    "follow_up_result": lambda f: _("您的差评（%(number)s）已回访整改，结果：%(result)s") % f,
}


def tell_applicant(case: Case, act: Action, *, payload: dict) -> None:
    """The applicant's message about ``case``'s latest event, as ``act.tells`` names it: an SMS to the
    case's phone and an in-app message to the resident, queued in the event's transaction (once per
    event, person and channel, whatever retries the request)."""
    if not act.tells or not (case.applicant_phone or case.applicant_id):
        return
    text = stored(lambda: APPLICANT_MESSAGES[act.tells](_facts(case, payload)))
    key = f"case:{case.pk}:{case.event_count}:applicant"
    if case.applicant_phone:
        messages.enqueue(channel="sms", to=case.applicant_phone, text=text, dedupe_key=f"{key}:sms")
    if case.applicant_id:
        messages.enqueue(channel="inapp", resident=Resident(pk=case.applicant_id), text=text,
                         subject=case.number, dedupe_key=f"{key}:inapp")
