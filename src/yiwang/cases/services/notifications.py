"""Who is told of a case's step: the notifications an action declares (workflows.Action.notify),
written in the transaction of the event that causes them."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.models import Case, Notification
from yiwang.cases.services.timeline import stored
from yiwang.cases.workflows import FROM_UNIT, HOLDER, SUPERVISOR_UNIT, THE_APPLICANT, Action
from yiwang.core import clock
from yiwang.org.selectors import Viewer


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
