"""Indicators for a region subtree, as leaders and the 好差评 rules read them.

Computed with aggregate queries over the scoped case table. `yiwang verify` recomputes the same
figures from the timelines alone and fails when the two disagree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum

from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.feedback.selectors import evaluation_counts
from yiwang.org.models import Level
from yiwang.org.selectors import Viewer, hierarchy, scope_q


def percent(part: int, whole: int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def indicators(*, viewer: Viewer, region_code: str | None = None) -> dict:
    h = hierarchy()
    qs = Case.objects.filter(scope_q(viewer, resident_field=None))
    region = h.region(region_code) if region_code else None
    if region is not None:
        qs = qs.filter(region_path__startswith=region.path)

    by_state: Counter[str] = Counter()
    open_by_unit: Counter[int] = Counter()
    rows = qs.values("holder_unit_id", "state").annotate(n=Count("id"), open=Count("id", filter=Q(closed_at__isnull=True)))
    for row in rows:
        by_state[row["state"]] += row["n"]
        if row["open"]:
            open_by_unit[row["holder_unit_id"]] += row["open"]

    closed_rows = (
        qs.filter(closed_at__isnull=False)
        .values("handling_unit_id", "holder_unit_id")
        .annotate(
            n=Count("id"),
            with_due=Count("id", filter=Q(due_at__isnull=False)),
            on_time=Count("id", filter=Q(due_at__isnull=False, closed_at__lte=F("due_at"))),
            seconds=Sum(ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())),
        )
    )
    closed_by_unit: dict[int, dict] = defaultdict(lambda: {"closed": 0, "with_due": 0, "on_time": 0})
    closed_by_level: Counter[str] = Counter()
    total_closed = total_with_due = total_on_time = 0
    total_duration = None
    for row in closed_rows:
        unit_id = row["handling_unit_id"] or row["holder_unit_id"]
        agg = closed_by_unit[unit_id]
        agg["closed"] += row["n"]
        agg["with_due"] += row["with_due"]
        agg["on_time"] += row["on_time"]
        unit = h.units.get(unit_id)
        level = h.regions[unit.region_id].level if unit else "unknown"
        closed_by_level[level] += row["n"]
        total_closed += row["n"]
        total_with_due += row["with_due"]
        total_on_time += row["on_time"]
        if row["seconds"] is not None:
            total_duration = row["seconds"] if total_duration is None else total_duration + row["seconds"]

    overdue_open = qs.filter(closed_at__isnull=True, suspended_at__isnull=True, due_at__lt=clock.now()).count()
    ratings = evaluation_counts(viewer=viewer, region_path=region.path if region else None)
    units = []
    for unit_id in sorted(set(open_by_unit) | set(closed_by_unit)):
        unit = h.units.get(unit_id)
        agg = closed_by_unit.get(unit_id, {"closed": 0, "with_due": 0, "on_time": 0})
        units.append({
            "unit": unit.code if unit else str(unit_id), "name": unit.name if unit else "",
            "level": h.regions[unit.region_id].level if unit else "", "open": open_by_unit.get(unit_id, 0),
            "closed": agg["closed"], "on_time_rate": percent(agg["on_time"], agg["with_due"]),
        })
    return {
        "region": {"code": region.code, "name": region.name} if region else None,
        "cases": sum(by_state.values()),
        "open": sum(open_by_unit.values()),
        "closed": total_closed,
        "overdue_open": overdue_open,
        "by_state": dict(sorted(by_state.items())),
        "closed_by_level": {lv: closed_by_level.get(lv, 0) for lv in Level.values if lv != Level.GRID},
        "community_share": percent(closed_by_level.get(Level.COMMUNITY, 0), total_closed),
        "on_time_rate": percent(total_on_time, total_with_due),
        "average_handling_hours": (
            round(total_duration.total_seconds() / 3600 / total_closed, 2) if total_duration and total_closed else None
        ),
        "ratings": ratings["ratings"],
        "bad_reviews": ratings["bad_reviews"],
        "satisfaction_rate": ratings["satisfaction_rate"],
        "by_unit": units,
    }
