"""Reads of cases, every one scoped to the viewer through org.selectors.scope_q."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import deadlines, search
from yiwang.cases.models import Case, CaseEvent, Notification
from yiwang.cases.workflows import APPLICANT, LEADER, Action, applies, public_payload, workflow
from yiwang.catalog.selectors import matter_cache
from yiwang.core import clock
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.pagination import Page, check_limit, page_of, paginate, rows_in_order
from yiwang.org.selectors import Viewer, hierarchy, scope_q

ORDERS = {"-created": "-created_at", "created": "created_at", "due": "due_at", "-id": "-id"}


@dataclass
class CaseFilters:
    state: list[str] | None = None
    kind: str | None = None
    matter_code: str | None = None
    region_code: str | None = None
    holder_unit_code: str | None = None
    overdue: bool | None = None
    open: bool | None = None
    due_before: dt.datetime | None = None
    due_after: dt.datetime | None = None
    applicant_phone: str | None = None
    text: str | None = None  # words in the title, description or address (cases.search)
    created_after: dt.datetime | None = None


MAX_SEARCH = 100


def case_queryset(viewer: Viewer) -> QuerySet[Case]:
    return Case.objects.filter(scope_q(viewer))


def case_get(*, viewer: Viewer, number: str) -> Case:
    """A case by its number, or NotFound when it does not exist or the viewer may not see it."""
    parsed = Case.parse_number(number)
    if parsed is None:
        raise NotFound(_("案件编号 %(n)s 格式不正确。") % {"n": number}, field="number")
    _day, pk = parsed
    rows = list(case_queryset(viewer).select_related("matter", "holder_unit", "parent", "region").filter(pk=pk)[:1])
    case = rows[0] if rows else None
    if case is None or case.number != number.strip().upper():
        raise NotFound(_("没有找到该案件，或您无权查看。"), field="number")
    return case


def case_lookup(*, number: str, phone: str) -> Case | None:
    """A case by number and the applicant's phone, for people without an account (查件)."""
    parsed = Case.parse_number(number)
    if parsed is None or not phone:
        return None
    rows = list(Case.objects.select_related("matter", "holder_unit").filter(pk=parsed[1], applicant_phone=phone)[:1])
    if not rows or rows[0].number != number.strip().upper():
        return None
    return rows[0]


def case_list(*, viewer: Viewer, filters: CaseFilters, order: str = "-created", cursor: str | None = None,
              limit: int = 50) -> Page:
    if order not in ORDERS:
        raise ValidationFailed(_("排序只能是 %(o)s 之一。") % {"o": ", ".join(ORDERS)}, field="order")
    h = hierarchy()
    conditions = scope_q(viewer)
    if filters.state:
        conditions &= Q(state__in=filters.state)
    if filters.kind:
        conditions &= Q(kind=filters.kind)
    if filters.matter_code:
        matter = matter_cache.get().by_code.get(filters.matter_code)
        conditions &= Q(matter_id=matter.id) if matter else Q(pk__in=[])
    if filters.region_code:
        conditions &= Q(region_path__startswith=h.region(filters.region_code).path)
    if filters.holder_unit_code:
        conditions &= Q(holder_unit_id=h.unit(filters.holder_unit_code).id)
    if filters.open is not None:
        conditions &= Q(closed_at__isnull=filters.open)
    if filters.overdue:
        conditions &= deadlines.overdue_q(clock.now())
    if filters.due_before:
        conditions &= Q(due_at__lt=filters.due_before)
    if filters.due_after:
        conditions &= Q(due_at__gte=filters.due_after)
    if filters.applicant_phone:
        conditions &= Q(applicant_phone=filters.applicant_phone)
    if filters.created_after is not None:
        conditions &= Q(created_at__gte=filters.created_after)
    qs = Case.objects.filter(conditions).select_related("matter", "holder_unit")
    if not filters.text:
        return paginate(qs, order=ORDERS[order], cursor=cursor, limit=limit)
    if len(filters.text) > MAX_SEARCH:
        raise ValidationFailed(_("搜索词不能超过 %(n)s 个字。") % {"n": MAX_SEARCH}, field="q")
    matched = search.text_filter(filters.text)
    if matched is None:
        raise ValidationFailed(_("请输入要搜索的文字（汉字、字母或数字）。"), field="q")
    if order == "-created" and connection.vendor == "postgresql":
        check_limit(limit)
        streams = search.scope_streams(
            viewer, region_path=h.region(filters.region_code).path if filters.region_code else None,
            holder_unit_id=h.unit(filters.holder_unit_code).id if filters.holder_unit_code else None)
        ids = search.newest_matching(conditions, filters.text, cursor=cursor, n=limit + 1, streams=streams)
        return page_of(rows_in_order(qs, ids), order=ORDERS[order], limit=limit)
    # The page's ids first, then their rows: PostgreSQL expects a phrase to match one row, and
    # would otherwise join every match to its matter and unit before sorting them.
    return paginate(qs.filter(matched), order=ORDERS[order], cursor=cursor, limit=limit, ids_first=True)


def case_timeline(case: Case) -> list[CaseEvent]:
    """The timeline as staff see it (API, workbench, CLI): each event a copy without its seal's salt."""
    out = []
    for event in case.events.select_related("from_unit", "to_unit").order_by("seq"):
        if any(k.endswith("_salt") for k in event.payload or {}):
            event = copy.copy(event)  # never saved: a view of the row
            event.payload = staff_payload(event.payload)
        out.append(event)
    return out


def staff_payload(payload: dict) -> dict:
    """An event's payload as any page or answer shows it: without a key ending in ``_salt``. The salt
    of a sealed value (chain.seal) is what stops a guess of a phone or ID number from being checked
    against the sealed digest after erasure (docs/retention.md); it is never shown, to anyone."""
    return {k: v for k, v in (payload or {}).items() if not k.endswith("_salt")}


def public_timeline(case: Case) -> list[CaseEvent]:
    """The timeline as residents see it (case page, /lookup/, the API answering the applicant): every
    step, but of staff text only what each action declares public (workflows.Action.public)."""
    out = []
    for event in case_timeline(case):
        shown = copy.copy(event)  # never saved: a view of the row
        shown.payload = public_payload(case.kind, event.action, event.payload)
        out.append(shown)
    return out


def supplement_asked(case: Case) -> list[dict]:
    """The materials ({code, name}) the latest 补正 request of ``case`` asked for: what a resubmission
    must bring, no more, no less. Empty when it asked for none (a supplement of words only)."""
    payload = (CaseEvent.objects.filter(case_id=case.pk, action="request_supplement").order_by("-seq")
               .values_list("payload", flat=True).first()) or {}
    return [m for m in payload.get("missing") or [] if isinstance(m, dict) and m.get("code")]


@dataclass(frozen=True)
class Outcome:
    """What a finished application came to, read from its timeline: the decision (准予/不予) with its
    reason, and how the result is delivered (workflows.DELIVERY)."""

    decision: str = ""
    reason: str = ""
    delivery: dict | None = None

    @property
    def decision_label(self) -> str:
        return {"approved": _("准予"), "denied": _("不予")}.get(self.decision, "")

    @property
    def delivery_label(self) -> str:
        from yiwang.cases.workflows import DELIVERY

        return str(DELIVERY.get((self.delivery or {}).get("method"), ""))


def case_outcome(events: list[CaseEvent]) -> Outcome | None:
    """The decision and delivery of a case from its (public or full) timeline; None before 作出决定."""
    decide = next((e for e in reversed(events) if e.action == "decide"), None)
    if decide is None:
        return None
    close = next((e for e in reversed(events) if e.action == "close" and e.seq > decide.seq), None)
    return Outcome(decision=decide.payload.get("decision", ""),
                   reason=decide.payload.get("reply") or decide.payload.get("result") or "",
                   delivery=close.payload.get("delivery") if close is not None else None)


def latest_resubmission(case: Case, events: list[CaseEvent]) -> CaseEvent | None:
    """The applicant's latest 补正提交, while the clerk has not yet acted on it: what changed."""
    last = next((e for e in reversed(events) if e.action == "resubmit"), None)
    if last is None or case.state != "accepted":
        return None
    later = [e for e in events if e.seq > last.seq and e.action not in ("claim", "reveal_id", "warn")]
    return None if later else last


def canned_replies(case: Case, actions: list[str]) -> dict[str, list]:
    """常用回复 offered for each of ``actions`` on ``case``: its matter's own, then those for every matter."""
    from yiwang.cases.models import CannedReply

    out: dict[str, list] = {}
    rows = CannedReply.objects.filter(Q(matter_id=case.matter_id) | Q(matter__isnull=True), action__in=actions,
                                      active=True).order_by("matter_id", "title")
    for row in rows:
        out.setdefault(row.action, []).append(row)
    for replies in out.values():
        replies.sort(key=lambda r: (r.matter_id is None, r.title))
    return out


def canned_reply_text(case: Case, action: str, reply_id: int) -> str:
    """The text of a canned reply chosen for ``action`` on ``case``; refused when it is another matter's
    or another action's (a guessed id)."""
    from yiwang.cases.models import CannedReply

    row = CannedReply.objects.filter(Q(matter_id=case.matter_id) | Q(matter__isnull=True), pk=reply_id,
                                     action=action, active=True).first()
    if row is None:
        raise ValidationFailed(_("没有这条常用回复。"), field="canned")
    return row.text


def capacity(viewer: Viewer, case: Case, act: Action) -> str | None:
    """In which capacity ``viewer`` may take ``act`` on ``case`` (whatever its state), or None.

    The holder's staff act on a case; 督办 (``by_supervisor``) comes from the supervising unit's
    staff or from a leader whose region contains the case.
    """
    if APPLICANT in act.actors and viewer.resident_id is not None and viewer.resident_id == case.applicant_id:
        return APPLICANT
    unit_id = case.supervisor_unit_id if act.by_supervisor else case.holder_unit_id
    roles = viewer.roles_in(unit_id) & act.actors
    if roles:
        return sorted(roles)[0]
    if act.by_supervisor and LEADER in act.actors and any(
        m.role == LEADER and case.region_path.startswith(m.region_path) for m in viewer.memberships
    ):
        return LEADER
    if viewer.is_superuser:
        return "superuser"
    return None


def allowed_actions(viewer: Viewer, case: Case) -> list[Action]:
    """The actions this viewer may take on this case now (what pages and the API offer)."""
    wf = workflow(case.kind)
    out = []
    for act in wf.actions.values():
        if case.state not in act.sources or not applies(act, case) or act.system:
            continue
        if act.name == "claim" and case.assignee_id == viewer.user_id:
            continue
        if capacity(viewer, case, act) is not None:
            out.append(act)
    return out


def open_cases_due_from(day: dt.date) -> QuerySet[Case]:
    """Open cases whose deadline falls on or after ``day`` (candidates after a calendar change)."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return Case.objects.filter(closed_at__isnull=True, due_at__gte=start).select_related("matter_version")


def notifications_for(viewer: Viewer, *, unread_only: bool = False, limit: int = 100) -> list:
    """Notifications addressed to the viewer's units, newest first."""
    qs = Notification.objects.filter(unit_id__in=sorted(viewer.unit_ids)).select_related("case", "unit")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return list(qs.order_by("-created_at", "-id")[:limit])


def unread_count(viewer: Viewer) -> int:
    if not viewer.unit_ids:
        return 0
    return Notification.objects.filter(unit_id__in=sorted(viewer.unit_ids), read_at__isnull=True).count()


def resident_notifications(viewer: Viewer, *, limit: int = 10) -> list[Notification]:
    """The newest messages to the viewer as a resident (免申即享, a report merged into another)."""
    if viewer.resident_id is None:
        return []
    return list(Notification.objects.filter(resident_id=viewer.resident_id).select_related("case")
                .order_by("-created_at", "-id")[:limit])


@dataclass(frozen=True)
class ParentProgress:
    number: str
    state_label: object
    closed: bool
    result: str


def parent_progress(case: Case) -> ParentProgress | None:
    """How the case a duplicate was merged into is going: its reporter follows it from their own
    case page, without seeing the parent's reporter or details."""
    if case.parent_id is None:
        return None
    parent = Case.objects.only("id", "created_at", "kind", "state", "closed_at", "result").get(pk=case.parent_id)
    wf = workflow(parent.kind)
    return ParentProgress(parent.number, wf.states.get(parent.state, parent.state), parent.closed_at is not None,
                          parent.result if parent.closed_at else "")
