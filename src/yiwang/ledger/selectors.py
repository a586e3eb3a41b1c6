"""Reads of the ledger, every one scoped to the viewer through org.selectors.scope_q.

A staff member sees the topics, batches and lists of their regions' subtrees, and the rectification
items their units hold wherever they lie (and the batch and list such an item belongs to).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.cases.deadlines import is_overdue, overdue_q
from yiwang.cases.models import Case, Kind
from yiwang.cases.workflows import workflow
from yiwang.catalog.models import Matter
from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.pagination import Page, paginate
from yiwang.ledger.models import Batch, Field, ProblemList, RectificationItem, ResearchTopic, ResearchVisit
from yiwang.org.models import Level, Role
from yiwang.org.selectors import Viewer, hierarchy, scope_q

OPEN_STATES = ("open", "in_progress", "submitted")


# --- who may do what (the services refuse on these; pages offer forms on them) ------------------


def leads(viewer: Viewer, region_path: str) -> bool:
    """A leader whose region contains ``region_path`` (or a superuser)."""
    return viewer.is_superuser or any(
        m.role == Role.LEADER and region_path.startswith(m.region_path) for m in viewer.memberships)


def may_edit_topic(viewer: Viewer, topic: ResearchTopic) -> bool:
    return (viewer.is_superuser or topic.unit_id in viewer.unit_ids or topic.leader_id == viewer.user_id
            or leads(viewer, topic.region_path))


def may_add_items(viewer: Viewer, plist: ProblemList) -> bool:
    if plist.topic_id is not None:
        return may_edit_topic(viewer, plist.topic)
    if plist.batch_id is not None and viewer.roles_in(plist.batch.supervisor_unit_id) & {Role.LEADER, Role.OPERATOR}:
        return True
    return leads(viewer, plist.region_path)


def may_accept_batch(viewer: Viewer, batch: Batch) -> bool:
    return bool(viewer.roles_in(batch.supervisor_unit_id) & {Role.LEADER, Role.OPERATOR}) or leads(
        viewer, batch.region_path)


def may_create_batch(viewer: Viewer) -> bool:
    return viewer.is_superuser or Role.LEADER in viewer.roles


# --- research topics -------------------------------------------------------------------------


def topic_queryset(viewer: Viewer) -> QuerySet[ResearchTopic]:
    return ResearchTopic.objects.filter(scope_q(viewer, holder_field="unit_id", resident_field=None))


@dataclass
class TopicFilters:
    field: str = ""
    level: str = ""
    leader_id: int | None = None
    region_code: str = ""


def topic_list(*, viewer: Viewer, filters: TopicFilters, cursor: str | None = None, limit: int = 50) -> Page:
    qs = _filtered_topics(viewer, filters).select_related("unit").annotate(visit_count=Count("visits"))
    return paginate(qs, order="-created_at", cursor=cursor, limit=limit)


def _filtered_topics(viewer: Viewer, filters: TopicFilters) -> QuerySet[ResearchTopic]:
    qs = topic_queryset(viewer)
    if filters.field:
        if filters.field not in Field.values:
            raise ValidationFailed(_("未知的课题领域 %(f)s。") % {"f": filters.field}, field="field")
        qs = qs.filter(field=filters.field)
    if filters.level:
        if filters.level not in Level.values:
            raise ValidationFailed(_("未知的层级 %(l)s。") % {"l": filters.level}, field="level")
        qs = qs.filter(level=filters.level)
    if filters.leader_id:
        qs = qs.filter(leader_id=filters.leader_id)
    if filters.region_code:
        qs = qs.filter(region_path__startswith=hierarchy().region(filters.region_code).path)
    return qs


def topic_get(*, viewer: Viewer, topic_id: int) -> ResearchTopic:
    topic = topic_queryset(viewer).select_related("unit", "region", "leader").filter(pk=topic_id).first()
    if topic is None:
        raise NotFound(_("没有找到该调研课题，或您无权查看。"), field="topic")
    return topic


def topic_problem_list(topic: ResearchTopic) -> ProblemList | None:
    return ProblemList.objects.filter(topic=topic).select_related("region").first()


def visits_of(topic: ResearchTopic) -> list[ResearchVisit]:
    return list(topic.visits.annotate(item_count=Count("items")).order_by("-visited_on", "-id"))


def visit_get(*, viewer: Viewer, visit_id: int) -> ResearchVisit:
    visit = (ResearchVisit.objects.filter(scope_q(viewer, holder_field="topic__unit_id", resident_field=None))
             .select_related("topic__unit", "topic__region").filter(pk=visit_id).first())
    if visit is None:
        raise NotFound(_("没有找到该调研记录，或您无权查看。"), field="visit")
    return visit


@dataclass
class CountRow:
    key: str
    label: str
    topics: int = 0
    visits: int = 0


@dataclass
class TopicCounts:
    topics: int
    visits: int
    by_level: list[CountRow]
    by_leader: list[CountRow]
    by_field: list[CountRow]


def topic_counts(*, viewer: Viewer, filters: TopicFilters | None = None) -> TopicCounts:
    """调研课题 and 调研 counted by level, leader and field, as the 2019 report counts them
    (新区、新城、街镇三级领导班子确定调研课题827个，开展调研2500余次)."""
    db = stale_ok()  # counts may lag the primary by seconds: a replica answers
    qs = _filtered_topics(viewer, filters or TopicFilters()).using(db)
    visits = ResearchVisit.objects.using(db).filter(topic__in=qs.values("pk"))
    labels = {"level": dict(Level.choices), "field": dict(Field.choices)}

    def rows(dimension: str, topic_key: str, visit_key: str, label_of) -> list[CountRow]:
        out: dict[str, CountRow] = {}
        for key, n in qs.values_list(topic_key).annotate(n=Count("id")).values_list(topic_key, "n"):
            out[str(key)] = CountRow(str(key), label_of(key), topics=n)
        for key, n in visits.values_list(visit_key).annotate(n=Count("id")).values_list(visit_key, "n"):
            out.setdefault(str(key), CountRow(str(key), label_of(key))).visits = n
        return list(out.values())

    by_level = rows("level", "level", "topic__level", lambda k: str(labels["level"].get(k, k)))
    rank = {level: i for i, (level, _label) in enumerate(Level.choices)}
    by_level.sort(key=lambda r: rank.get(r.key, 99))
    by_field = rows("field", "field", "topic__field", lambda k: str(labels["field"].get(k, k)))
    order = {f: i for i, (f, _label) in enumerate(Field.choices)}
    by_field.sort(key=lambda r: order.get(r.key, 99))
    names = dict(qs.values_list("leader_id", "leader_name").distinct())
    by_leader = rows("leader", "leader_id", "topic__leader_id", lambda k: names.get(k) or "—")
    units = dict(qs.values_list("leader_id", "unit__name").distinct())
    for row in by_leader:
        unit = units.get(int(row.key)) if row.key.isdigit() else None
        if unit:
            row.label = f"{row.label}（{unit}）"
    by_leader.sort(key=lambda r: (-r.topics, -r.visits, r.label))
    return TopicCounts(topics=qs.count(), visits=visits.count(), by_level=by_level, by_leader=by_leader,
                       by_field=by_field)


def leader_choices(viewer: Viewer) -> list[tuple[str, str, str]]:
    """(unit code, username, name) of the leaders of the viewer's own units, for the topic form."""
    from yiwang.org.models import Staff

    units = None if viewer.is_superuser else sorted(viewer.unit_ids)
    qs = Staff.objects.filter(role=Role.LEADER, user__is_active=True).select_related("user", "unit")
    if units is not None:
        qs = qs.filter(unit_id__in=units)
    return [(s.unit.code, s.user.username, s.user.get_full_name() or s.user.username)
            for s in qs.order_by("unit__region_path", "user__username")[:200]]


def topic_units(viewer: Viewer) -> list:
    """Units the viewer may register a topic for: their own, those they lead over (not grids)."""
    h = hierarchy()
    out = []
    for unit in h.units.values():
        level = h.regions[unit.region_id].level
        if level == Level.GRID:
            continue
        if viewer.is_superuser or unit.id in viewer.unit_ids or (
                unit.kind == "office" and leads(viewer, unit.region_path)):
            out.append(unit)
    return sorted(out, key=lambda u: (u.region_path, u.code))[:300]


# --- batches, lists and items ----------------------------------------------------------------


def _held_items(viewer: Viewer) -> QuerySet[RectificationItem]:
    return RectificationItem.objects.filter(case__holder_unit_id__in=sorted(viewer.unit_ids))


def batch_queryset(viewer: Viewer) -> QuerySet[Batch]:
    q = scope_q(viewer, holder_field="supervisor_unit_id", resident_field=None)
    if not viewer.is_superuser and viewer.unit_ids:
        q |= Q(pk__in=_held_items(viewer).values("batch_id"))
    return Batch.objects.filter(q)


def batch_get(*, viewer: Viewer, batch_id: int) -> Batch:
    batch = batch_queryset(viewer).select_related("region", "supervisor_unit", "matter").filter(pk=batch_id).first()
    if batch is None:
        raise NotFound(_("没有找到该整改批次，或您无权查看。"), field="batch")
    return batch


def problem_list_queryset(viewer: Viewer) -> QuerySet[ProblemList]:
    q = scope_q(viewer, holder_field=None, resident_field=None)
    if not viewer.is_superuser and viewer.unit_ids:
        q |= Q(pk__in=_held_items(viewer).values("problem_list_id")) | Q(topic__unit_id__in=sorted(viewer.unit_ids))
    return ProblemList.objects.filter(q)


def problem_list_get(*, viewer: Viewer, list_id: int) -> ProblemList:
    plist = (problem_list_queryset(viewer).select_related("batch__supervisor_unit", "batch__matter", "topic__unit",
                                                          "region").filter(pk=list_id).first())
    if plist is None:
        raise NotFound(_("没有找到该问题清单，或您无权查看。"), field="problem_list")
    return plist


def lists_of(viewer: Viewer, batch: Batch) -> list[ProblemList]:
    return list(problem_list_queryset(viewer).filter(batch=batch).select_related("region").order_by("id"))


def item_queryset(viewer: Viewer) -> QuerySet[RectificationItem]:
    return RectificationItem.objects.filter(scope_q(viewer, holder_field="case__holder_unit_id", resident_field=None))


def item_get(*, viewer: Viewer, item_id: int) -> RectificationItem:
    item = (item_queryset(viewer).select_related("case__holder_unit", "case__assignee", "problem_list", "batch",
                                                 "visit__topic").filter(pk=item_id).first())
    if item is None:
        raise NotFound(_("没有找到该整改事项，或您无权查看。"), field="item")
    return item


def items_of(viewer: Viewer, *, batch: Batch | None = None, problem_list: ProblemList | None = None,
             state: str = "") -> list[RectificationItem]:
    qs = item_queryset(viewer).select_related("case__holder_unit", "case__assignee", "problem_list")
    if batch is not None:
        qs = qs.filter(batch=batch)
    if problem_list is not None:
        qs = qs.filter(problem_list=problem_list)
    if state:
        if state not in workflow(Kind.RECTIFICATION).states:
            raise ValidationFailed(_("未知的状态 %(s)s。") % {"s": state}, field="state")
        qs = qs.filter(case__state=state)
    return list(qs.order_by("problem_list_id", "number")[:2000])


@dataclass
class Progress:
    """How far a batch (or list) has come: items by state, and where the batch stands as a whole."""

    total: int = 0
    by_state: Counter = field(default_factory=Counter)
    overdue: int = 0
    accepted_at: dt.datetime | None = None

    @property
    def accepted(self) -> int:
        return self.by_state["accepted"]

    @property
    def cancelled(self) -> int:
        return self.by_state["cancelled"]

    @property
    def counted(self) -> int:
        """Items that must pass: a cancelled (撤销) item no longer counts."""
        return self.total - self.cancelled

    @property
    def percent(self) -> int:
        return round(100 * self.accepted / self.counted) if self.counted else 0

    @property
    def submitted_percent(self) -> int:
        return round(100 * self.by_state["submitted"] / self.counted) if self.counted else 0

    @property
    def all_accepted(self) -> bool:
        return self.counted > 0 and self.accepted == self.counted

    @property
    def stage(self) -> str:
        if self.accepted_at is not None:
            return "passed"
        if self.all_accepted:
            return "ready"
        if self.counted and self.by_state["submitted"] + self.accepted == self.counted:
            return "acceptance"
        return "rectifying" if self.total else "empty"

    @property
    def stage_label(self) -> str:
        return str(STAGES[self.stage])


STAGES = {
    "empty": _("尚无整改事项"), "rectifying": _("整改中"), "acceptance": _("验收阶段"),
    "ready": _("事项均已验收，待批次验收"), "passed": _("已通过验收"),
}


def progress_of(items: list[RectificationItem], *, accepted_at: dt.datetime | None = None,
                now: dt.datetime | None = None) -> Progress:
    now = now or clock.now()
    out = Progress(accepted_at=accepted_at)
    for item in items:
        out.total += 1
        out.by_state[item.case.state] += 1
        if is_overdue(item.case, now):
            out.overdue += 1
    return out


def batch_list(*, viewer: Viewer) -> list[tuple[Batch, Progress]]:
    """Every batch the viewer sees, newest first, with its progress counted from its items' cases."""
    batches = list(batch_queryset(viewer).select_related("region", "supervisor_unit").order_by("-created_at", "-id")[:200])
    now = clock.now()
    counts: dict[int, Progress] = {b.pk: Progress(accepted_at=b.accepted_at) for b in batches}
    rows = (item_queryset(viewer).filter(batch_id__in=list(counts)).values_list("batch_id", "case__state")
            .annotate(n=Count("id")))
    for batch_id, state, n in rows:
        counts[batch_id].total += n
        counts[batch_id].by_state[state] += n
    overdue = (item_queryset(viewer).filter(overdue_q(now, prefix="case__"), batch_id__in=list(counts))
               .values_list("batch_id").annotate(n=Count("id")))
    for batch_id, n in overdue:
        counts[batch_id].overdue = n
    return [(b, counts[b.pk]) for b in batches]


def topic_lists(viewer: Viewer) -> list[tuple[ProblemList, Progress]]:
    """Problem lists opened from research visits, with their progress."""
    lists = list(problem_list_queryset(viewer).filter(topic__isnull=False).select_related("topic")
                 .order_by("-created_at")[:100])
    out = []
    for plist in lists:
        out.append((plist, progress_of(items_of(viewer, problem_list=plist))))
    return out


@dataclass
class LedgerRow:
    """One numbered row of the 台账."""

    seq: int
    item: RectificationItem
    state_label: str
    overdue: bool
    accepted_on: dt.date | None

    @property
    def case(self) -> Case:
        return self.item.case


def ledger_rows(items: list[RectificationItem], *, now: dt.datetime | None = None) -> list[LedgerRow]:
    from django.utils import timezone

    now = now or clock.now()
    states = workflow(Kind.RECTIFICATION).states
    rows = []
    for seq, item in enumerate(items, start=1):
        case = item.case
        accepted_on = timezone.localdate(case.closed_at) if case.state == "accepted" and case.closed_at else None
        rows.append(LedgerRow(seq, item, str(states.get(case.state, case.state)), is_overdue(case, now), accepted_on))
    return rows


def rectification_matters() -> list[Matter]:
    return list(Matter.objects.filter(kind=Kind.RECTIFICATION, active=True).order_by("code"))


def default_rectification_matter() -> str:
    matter = Matter.objects.filter(kind=Kind.RECTIFICATION, active=True).order_by("code").first()
    return matter.code if matter else ""


def responsible_units(viewer: Viewer, region_path: str) -> list:
    """Units an item of a list in ``region_path`` may be given to: those within reach on its chain."""
    from yiwang.org.selectors import units_reachable

    return [u for u in units_reachable(viewer)
            if u.region_path.startswith(region_path) or region_path.startswith(u.region_path)]
