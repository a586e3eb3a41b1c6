"""Indicators for a region subtree, as leaders and the 好差评 rules read them.

Computed with aggregate queries over the scoped tallies (cases.rollups, feedback.rollups): over all
time, or for one local month (``month``, its first day) from the month tallies. `yiwang verify`
recomputes the same tallies from the cases and their timelines and fails when the two disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.deadlines import late_q, overdue_q
from yiwang.cases.models import Case, CaseDayTally, CaseMonthTally, CaseReceivedTally, CaseTally, Kind
from yiwang.cases.workflows import WORKFLOWS
from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.feedback.models import BAD_REVIEW_MAX
from yiwang.feedback.selectors import (
    evaluation_counts,
    rating_counts_by_region,
    rating_counts_by_unit,
    satisfaction_percent,
)
from yiwang.org.models import LEVEL_RANK, Level, Region
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy, scope_q


def percent(part: int, whole: int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


Kinds = Collection[str] | None  # the case kinds a figure counts; None: every kind

# The rework rate (返工率, GB/T 30428): of the incidents closed as 结案 in a month, those sent back at
# least once before (cases.rollups.REWORK_ACTIONS). Dismissed and merged reports were never handled.
REWORK_KIND, REWORK_STATE = Kind.INCIDENT, "closed"


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def _within(qs, region_path: str | None, kinds: Kinds):
    """``qs`` (cases or any tally keyed by region path and kind) narrowed to a region's subtree and kinds."""
    if region_path:
        qs = qs.filter(region_path__startswith=region_path)
    if kinds is not None:
        qs = qs.filter(kind__in=sorted(kinds))
    return qs


def _tallies(viewer: Viewer, region_path: str | None, kinds: Kinds = None):
    """The scoped case tallies (cases.rollups): the same rows scope_q lets the viewer read, counted."""
    qs = CaseTally.objects.using(stale_ok()).filter(scope_q(viewer, resident_field=None)).exclude(n=0)
    return _within(qs, region_path, kinds)


def _tally_sums(qs, *fields: str):
    return qs.values(*fields).annotate(
        cases=Sum("n"), with_due_n=Sum("with_due"), on_time_n=Sum("on_time"), seconds_n=Sum("seconds")
    ).order_by()


def _month_tallies(viewer: Viewer, region_path: str | None, month: dt.date, kinds: Kinds = None):
    """The scoped month tallies: the cases closed in ``month``, by the unit they count for."""
    qs = CaseMonthTally.objects.using(stale_ok()).filter(
        scope_q(viewer, holder_field="unit_id", resident_field=None), month=month).exclude(closed=0)
    return _within(qs, region_path, kinds)


def _closed_rows(viewer: Viewer, region_path: str | None, month: dt.date | None, kinds: Kinds,
                 *fields: str) -> list[dict]:
    """Tally sums grouped by ``fields`` (of "region_path", "state") and the unit each row counts for,
    as {..., closed, unit, cases, with_due_n, on_time_n, seconds_n, reworked_n, rework_base}: from the
    case tallies over all time (open rows too), else from the month tallies of ``month``."""
    if month is None:
        rows = _tally_sums(_tallies(viewer, region_path, kinds), *fields, "closed", "holder_unit_id",
                           "handling_unit_id")
        return [{**row, "unit": responsible_unit_id(row), "reworked_n": 0, "rework_base": 0} for row in rows]
    rework = Q(kind=REWORK_KIND, state=REWORK_STATE)
    rows = _month_tallies(viewer, region_path, month, kinds).values(*fields, "unit_id").annotate(
        cases=Sum("closed"), with_due_n=Sum("with_due"), on_time_n=Sum("on_time"), seconds_n=Sum("seconds"),
        reworked_n=Coalesce(Sum("reworked", filter=rework), 0), rework_base=Coalesce(Sum("closed", filter=rework), 0),
    ).order_by()
    return [{**row, "closed": True, "unit": row["unit_id"]} for row in rows]


def _day_tallies(viewer: Viewer, region_path: str | None, kinds: Kinds = None):
    qs = CaseDayTally.objects.using(stale_ok()).filter(scope_q(viewer, holder_field=None, resident_field=None))
    return _within(qs, region_path, kinds)


def _received_in(viewer: Viewer, region_path: str | None, month: dt.date, kinds: Kinds):
    """The day tallies of ``month``: cases submitted that month, by region path."""
    return (_day_tallies(viewer, region_path, kinds).filter(day__gte=month, day__lt=next_month(month))
            .values("region_path").annotate(cases=Sum("submitted")).order_by())


def received_by_unit(viewer: Viewer, region_path: str | None, month: dt.date, kinds: Kinds) -> dict[int, int]:
    """Cases submitted in ``month`` by the unit that first held them (cases.models.CaseReceivedTally)."""
    qs = CaseReceivedTally.objects.using(stale_ok()).filter(
        scope_q(viewer, holder_field="unit_id", resident_field=None), month=month).exclude(received=0)
    qs = _within(qs, region_path, kinds)
    return dict(qs.values_list("unit_id").annotate(n=Sum("received")).order_by())


def unit_month_counts(viewer: Viewer, unit_id: int, since: dt.date, until: dt.date,
                      kinds: Kinds) -> dict[dt.date, tuple[int, int]]:
    """{first of month: (received, closed)} for one unit, months ``since`` ≤ m < ``until``: received as
    received_by_unit counts it (the unit that held the case first), closed as the month tallies do (the
    unit the case counted for when it closed), so each equals the unit's figure of that month."""
    received = _within(CaseReceivedTally.objects.using(stale_ok()).filter(
        scope_q(viewer, holder_field="unit_id", resident_field=None), unit_id=unit_id,
        month__gte=since, month__lt=until), None, kinds)
    closed = _within(CaseMonthTally.objects.using(stale_ok()).filter(
        scope_q(viewer, holder_field="unit_id", resident_field=None), unit_id=unit_id,
        month__gte=since, month__lt=until), None, kinds)
    out: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for month, n in received.values_list("month").annotate(n=Sum("received")).order_by():
        out[_as_date(month)][0] += n
    for month, n in closed.values_list("month").annotate(n=Sum("closed")).order_by():
        out[_as_date(month)][1] += n
    return {month: (r, c) for month, (r, c) in out.items()}


def _as_date(value) -> dt.date:
    # SQLite hands a DateField back as a date through the ORM too; a string is a raw backend's answer.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def responsible_unit_id(row: dict) -> int:
    """The unit a tally row counts for: its holder while open, its handler (else holder) once closed."""
    if row["closed"]:
        return row["handling_unit_id"] or row["holder_unit_id"]
    return row["holder_unit_id"]


def indicators(*, viewer: Viewer, region_code: str | None = None, month: dt.date | None = None,
               kinds: Kinds = None) -> dict:
    """The leaders' figures for the viewer's scope (or one region in it), from the tallies: the cost
    follows the number of regions and units, not of cases.

    With ``month`` (its first day), the figures of that local month: ``cases`` submitted in it, the
    cases closed in it and their rates, its ratings and its rework rate; nothing is open in a month
    and ``overdue_open`` is None. ``kinds`` counts only those case kinds (ratings exist for the kinds
    residents bring alone, feedback.services.RATABLE_KINDS).
    """
    h = hierarchy()
    region = h.region(region_code) if region_code else None
    region_path = region.path if region else None

    by_state: Counter[str] = Counter()
    open_by_unit: Counter[int] = Counter()
    zero = {"closed": 0, "with_due": 0, "on_time": 0, "reworked": 0, "rework_base": 0}
    closed_by_unit: dict[int, dict] = defaultdict(lambda: dict(zero))
    closed_by_level: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in _closed_rows(viewer, region_path, month, kinds, "state"):
        by_state[row["state"]] += row["cases"]
        unit_id = row["unit"]
        if not row["closed"]:
            open_by_unit[unit_id] += row["cases"]
            continue
        sums = {"closed": row["cases"], "with_due": row["with_due_n"], "on_time": row["on_time_n"],
                "seconds": row["seconds_n"], "reworked": row["reworked_n"], "rework_base": row["rework_base"]}
        agg = closed_by_unit[unit_id]
        for name in zero:
            agg[name] += sums[name]
        unit = h.units.get(unit_id)
        closed_by_level[h.regions[unit.region_id].level if unit else "unknown"] += row["cases"]
        total.update(sums)

    if month is None:
        cases = _within(Case.objects.using(stale_ok()).filter(scope_q(viewer, resident_field=None)), region_path, kinds)
        overdue_open = cases.filter(overdue_q(clock.now())).count()
        received = sum(by_state.values())
        received_units: dict[int, int] = {}
    else:
        overdue_open = None
        received = sum(row["cases"] for row in _received_in(viewer, region_path, month, kinds))
        received_units = received_by_unit(viewer, region_path, month, kinds)
    ratings = evaluation_counts(viewer=viewer, region_path=region_path, month=month)
    rated = rating_counts_by_unit(viewer=viewer, region_path=region_path, month=month)
    no_ratings = {"ratings": 0, "bad_reviews": 0, "satisfaction_rate": None}
    units = []
    for unit_id in sorted(set(open_by_unit) | set(closed_by_unit) | set(rated) | set(received_units)):
        unit = h.units.get(unit_id)
        agg = closed_by_unit.get(unit_id, zero)
        units.append({
            "unit": unit.code if unit else str(unit_id), "name": unit.name if unit else "",
            "level": h.regions[unit.region_id].level if unit else "", "open": open_by_unit.get(unit_id, 0),
            # In a month: submitted then and first held by the unit; over all time None (held or handled).
            "received": received_units.get(unit_id, 0) if month else None,
            "closed": agg["closed"], "on_time_rate": percent(agg["on_time"], agg["with_due"]),
            "incidents_closed": agg["rework_base"], "incidents_reworked": agg["reworked"],
            "rework_rate": percent(agg["reworked"], agg["rework_base"]),
            **rated.get(unit_id, no_ratings),
        })
    total_closed = total["closed"]
    total_seconds = total["seconds"]
    return {
        "region": {"code": region.code, "name": region.name} if region else None,
        "month": month.strftime("%Y-%m") if month else None,
        "cases": received,
        "open": sum(open_by_unit.values()),
        "closed": total_closed,
        "overdue_open": overdue_open,
        "by_state": {state: n for state, n in sorted(by_state.items()) if n},
        "closed_by_level": {lv: closed_by_level.get(lv, 0) for lv in Level.values if lv != Level.GRID},
        "community_share": percent(closed_by_level.get(Level.COMMUNITY, 0), total_closed),
        "on_time_rate": percent(total["on_time"], total["with_due"]),
        "incidents_closed": total["rework_base"], "incidents_reworked": total["reworked"],
        "rework_rate": percent(total["reworked"], total["rework_base"]),
        "average_handling_hours": (
            round(total_seconds / 3600 / total_closed, 2) if total_closed else None
        ),
        "ratings": ratings["ratings"],
        "bad_reviews": ratings["bad_reviews"],
        "satisfaction_rate": ratings["satisfaction_rate"],
        "by_unit": units,
    }


# ---------------------------------------------------------------------------------------------
# The leaders' dashboard (领导驾驶舱): one region at a time, drillable down the hierarchy, and the
# list of cases behind every figure. Every figure here and its case list share one definition.
# ---------------------------------------------------------------------------------------------

OWN_LEVEL = ""  # breakdown key for cases located at the shown region itself, not in a child
ELSEWHERE = "*"  # cases the viewer's units hold outside their regions (only without a shown region)


@dataclass(frozen=True)
class DashboardRegion:
    """The region a dashboard page shows, the way back up to it, and the regions to drill into.

    ``region`` is None only for a viewer whose scope is several separate subtrees: the page then
    shows those subtrees side by side.
    """

    region: RegionInfo | None
    crumbs: list[RegionInfo]
    children: list[RegionInfo]
    several_homes: bool


def home_regions(viewer: Viewer) -> list[RegionInfo]:
    """The top regions of a viewer's scope: their units' regions, or the roots for a superuser."""
    h = hierarchy()
    if viewer.is_superuser:
        return sorted((r for r in h.regions.values() if r.parent_id is None), key=lambda r: r.code)
    by_path = {r.path: r for r in h.regions.values()}
    return sorted((by_path[p] for p in viewer.region_paths if p in by_path), key=lambda r: r.path)


def dashboard_region(*, viewer: Viewer, region_code: str | None) -> DashboardRegion:
    """Resolve ``?region=``; NotFound for an unknown code or one outside the viewer's scope."""
    h = hierarchy()
    homes = home_regions(viewer)
    if region_code:
        region = h.region(region_code)
        if not viewer.can_see_path(region.path):
            # The same answer as an unknown code: a leader learns nothing about other districts.
            raise NotFound(_("没有代码为 %(code)s 的区域。") % {"code": region_code}, field="region_code")
    else:
        region = homes[0] if len(homes) == 1 else None
    if region is None:
        return DashboardRegion(region=None, crumbs=[], children=homes, several_homes=True)
    crumbs = [r for r in reversed(h.chain(region.id)) if viewer.can_see_path(r.path)]
    children = sorted((r for r in h.regions.values() if r.parent_id == region.id), key=lambda r: r.code)
    return DashboardRegion(region=region, crumbs=crumbs, children=children, several_homes=len(homes) > 1)


def _scoped_cases(viewer: Viewer, region: RegionInfo | None):
    # Dashboard figures and the lists behind them may lag the primary by seconds: a replica answers.
    qs = Case.objects.using(stale_ok()).filter(scope_q(viewer, resident_field=None))
    if region is not None:
        qs = qs.filter(region_path__startswith=region.path)
    return qs


def handled_at_level_q(level: str) -> Q:
    """Closed by a unit of that level: the handling unit, or the holder when none was recorded."""
    h = hierarchy()
    unit_ids = sorted(u.id for u in h.units.values() if h.regions[u.region_id].level == level)
    return Q(closed_at__isnull=False) & (
        Q(handling_unit_id__in=unit_ids) | Q(handling_unit_id__isnull=True, holder_unit_id__in=unit_ids)
    )


def responsible_unit_q(unit_id: int) -> Q:
    """The unit a case counts for in indicators(): its holder while open, its handler once closed."""
    return Q(closed_at__isnull=True, holder_unit_id=unit_id) | Q(closed_at__isnull=False) & (
        Q(handling_unit_id=unit_id) | Q(handling_unit_id__isnull=True, holder_unit_id=unit_id)
    )


def _child_key(path: str, place: DashboardRegion) -> str:
    if place.region is not None:
        # Paths are codes joined by "/", so the first segment below the region is the child's code.
        return path[len(place.region.path):].split("/", 1)[0]
    for child in place.children:
        if path.startswith(child.path):
            return child.code
    return ELSEWHERE


def region_breakdown(*, viewer: Viewer, region_code: str | None, month: dt.date | None = None,
                     kinds: Kinds = None) -> dict:
    """The drill-down table: one row per child region (and one for cases at the region itself).

    One aggregate query grouped by the cases' region path, folded into the children in Python:
    a region has at most a few thousand distinct paths below it. With ``month`` (its first day), the
    figures of that local month, as ``indicators`` counts them; ``kinds`` counts only those kinds.
    """
    place = dashboard_region(viewer=viewer, region_code=region_code)
    h = hierarchy()
    community_units = {u.id for u in h.units.values() if h.regions[u.region_id].level == Level.COMMUNITY}
    region_path = place.region.path if place.region else None
    rows: list[dict] = []
    for row in _closed_rows(viewer, region_path, month, kinds, "region_path"):
        closed = row["cases"] if row["closed"] else 0
        rows.append({"region_path": row["region_path"], "cases": row["cases"] if month is None else 0,
                     "open": row["cases"] - closed, "closed": closed, "with_due": row["with_due_n"],
                     "on_time": row["on_time_n"], "community": closed if row["unit"] in community_units else 0,
                     "reworked": row["reworked_n"], "rework_base": row["rework_base"]})
    if month is None:
        overdue = _scoped_cases(viewer, place.region)
        if kinds is not None:
            overdue = overdue.filter(kind__in=sorted(kinds))
        rows.extend(overdue.filter(overdue_q(clock.now())).values("region_path").annotate(overdue=Count("id"))
                    .order_by())
    else:
        rows.extend(_received_in(viewer, region_path, month, kinds))
    rows.extend(rating_counts_by_region(viewer=viewer, region_path=region_path, month=month))
    fields = ("cases", "open", "overdue", "closed", "with_due", "on_time", "community", "ratings", "bad_reviews",
              "reworked", "rework_base")
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        sums[_child_key(row["region_path"], place)].update({f: row[f] for f in fields if f in row})

    def finish(counts: Counter[str], **extra) -> dict:
        return {
            **extra, **{f: counts.get(f, 0) for f in fields},
            "late": counts.get("with_due", 0) - counts.get("on_time", 0),
            "on_time_rate": percent(counts.get("on_time", 0), counts.get("with_due", 0)),
            "satisfaction_rate": satisfaction_percent(
                counts.get("ratings", 0) - counts.get("bad_reviews", 0), counts.get("ratings", 0)),
            "community_share": percent(counts.get("community", 0), counts.get("closed", 0)),
            "rework_rate": percent(counts.get("reworked", 0), counts.get("rework_base", 0)),
        }

    out = [finish(sums.get(child.code, Counter()), region=child, key=child.code) for child in place.children]
    if sums.get(OWN_LEVEL):
        out.append(finish(sums[OWN_LEVEL], region=place.region, key=OWN_LEVEL))
    if sums.get(ELSEWHERE):
        out.append(finish(sums[ELSEWHERE], region=None, key=ELSEWHERE))
    total: Counter[str] = Counter()
    for counts in sums.values():
        total.update(counts)
    return {"place": place, "month": month, "rows": out, "total": finish(total, region=place.region, key="total")}


def state_labels() -> dict[tuple[str, str], str]:
    """(kind, state) → label; a state name means different things in different workflows."""
    return {(kind, state): str(label) for kind, wf in WORKFLOWS.items() for state, label in wf.states.items()}


def state_counts(*, viewer: Viewer, region_code: str | None) -> list[dict]:
    """Cases by kind and state, in workflow order (initial state first, closed states last)."""
    place = dashboard_region(viewer=viewer, region_code=region_code)
    counts = {
        (row["kind"], row["state"]): row["cases"]
        for row in _tally_sums(_tallies(viewer, place.region.path if place.region else None), "kind", "state")
    }
    out = []
    for kind, wf in WORKFLOWS.items():
        for state, label in wf.states.items():
            if counts.get((kind, state)):
                out.append({"kind": kind, "kind_label": str(wf.label), "state": state, "label": str(label),
                            "closed": state in wf.closed, "n": counts.pop((kind, state))})
    for (kind, state), n in sorted(counts.items()):  # a state no workflow declares any more: still counted
        out.append({"kind": kind, "kind_label": kind, "state": state, "label": state, "closed": False, "n": n})
    return out


def iso_week(day: dt.date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[dt.datetime, dt.datetime]:
    """"2026-W48" → its Monday 00:00 and the next Monday 00:00, local time; ValueError if malformed."""
    year, _w, number = week.upper().partition("-W")
    monday = dt.date.fromisocalendar(int(year), int(number), 1)
    start = timezone.make_aware(dt.datetime.combine(monday, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(monday + dt.timedelta(days=7), dt.time.min))


def weekly_trend(*, viewer: Viewer, region_code: str | None, weeks: int = 12) -> list[dict]:
    """Submitted and closed per ISO week (local time), the current week last.

    From the day tallies (cases.rollups): a few rows per region and day, not every case of the
    weeks shown. They count the cases located in the viewer's regions (a day tally knows no holder).
    """
    place = dashboard_region(viewer=viewer, region_code=region_code)
    this_monday = clock.today() - dt.timedelta(days=clock.today().weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    submitted: Counter[dt.date] = Counter()
    closed: Counter[dt.date] = Counter()
    for day, s, c in day_counts(viewer=viewer, region=place.region, since=mondays[0]):
        monday = day - dt.timedelta(days=day.weekday())
        submitted[monday] += s
        closed[monday] += c
    return [{"week": iso_week(m), "monday": m, "submitted": submitted[m], "closed": closed[m]} for m in mondays]


def day_counts(*, viewer: Viewer, region: RegionInfo | None, since: dt.date,
               kinds: Kinds = None) -> list[tuple[dt.date, int, int]]:
    """(local day, submitted, closed) from ``since`` on, summed from the day tallies of the cases located
    in the viewer's regions (or one region): the weekly trend and the public monthly figures."""
    qs = _day_tallies(viewer, region.path if region is not None else None, kinds).filter(day__gte=since)
    return [(row["day"], row["s"], row["c"])
            for row in qs.values("day").annotate(s=Sum("submitted"), c=Sum("closed")).order_by("day")]


def overdue_cases(*, viewer: Viewer, region_code: str | None, limit: int = 20) -> list[Case]:
    """The open cases longest past their deadline first."""
    place = dashboard_region(viewer=viewer, region_code=region_code)
    return list(_scoped_cases(viewer, place.region).filter(overdue_q(clock.now()))
                .select_related("matter", "holder_unit").order_by("due_at", "id")[:limit])


class IncidentPoint(NamedTuple):
    number: str
    title: str
    lat: float
    lng: float


def open_incident_points(*, viewer: Viewer, region_code: str | None, limit: int = 2000) -> list[IncidentPoint]:
    """Open incidents (事件) with a location, newest first, for the map."""
    place = dashboard_region(viewer=viewer, region_code=region_code)
    rows = (_scoped_cases(viewer, place.region)
            .filter(kind="incident", closed_at__isnull=True, lat__isnull=False, lng__isnull=False)
            .order_by("-created_at", "-id").values_list("id", "created_at", "title", "lat", "lng")[:limit])
    # Tuples, not Case instances: up to 2,000 of them per dashboard.
    zone = timezone.get_current_timezone()
    return [IncidentPoint(Case.format_number(created_at, pk, zone), title, lat, lng)
            for pk, created_at, title, lat, lng in rows]


class IncidentCluster(NamedTuple):
    region: RegionInfo
    n: int
    lat: float
    lng: float


# The map of the whole area or of a new city counts its open incidents per community instead of
# drawing each: thousands of points are unreadable at that scale, and they were 340 KB of the page
# and most of its time (bench/scale.py "dashboard area"). A town's or a community's map shows each.
CLUSTERED_LEVELS = frozenset({Level.AREA, Level.CITY})


def open_incident_clusters(*, viewer: Viewer, region_code: str | None) -> list[IncidentCluster]:
    """Open incidents (事件) with a location, counted per community (a grid's counted in its community;
    one filed at a town or higher counts there), each placed at the mean of their locations; most first."""
    place = dashboard_region(viewer=viewer, region_code=region_code)
    rows = (_scoped_cases(viewer, place.region)
            .filter(kind="incident", closed_at__isnull=True, lat__isnull=False, lng__isnull=False)
            .values_list("region_path").annotate(n=Count("id"), lat=Sum("lat"), lng=Sum("lng")).order_by())
    h = hierarchy()
    by_path = {region.path: region for region in h.regions.values()}
    community = LEVEL_RANK[Level.COMMUNITY]
    sums: dict[int, list] = {}
    for path, n, lat, lng in rows:
        region = by_path.get(path)
        if region is None:  # a region removed since: nowhere to draw it
            continue
        if region.rank > community:
            region = next((r for r in h.chain(region.id) if r.rank == community), region)
        total = sums.setdefault(region.id, [region, 0, 0.0, 0.0])
        total[1] += n
        total[2] += lat
        total[3] += lng
    clusters = [IncidentCluster(region, n, lat / n, lng / n) for region, n, lat, lng in sums.values()]
    return sorted(clusters, key=lambda c: (-c.n, c.region.path))


def region_centres(regions: list[RegionInfo]) -> dict[str, tuple[float, float]]:
    """Centre points of these regions, for those that have one."""
    rows = Region.objects.filter(id__in=[r.id for r in regions], lat__isnull=False, lng__isnull=False)
    return {code: (lat, lng) for code, lat, lng in rows.values_list("code", "lat", "lng")}


# -- the list behind a figure ------------------------------------------------------------------

@dataclass
class FigureFilters:
    """Which cases a dashboard figure counts; the case list and its Excel export take the same."""

    region_code: str | None = None
    direct: bool = False  # only cases located at the region itself, not below it
    kind: str | None = None
    state: str | None = None
    open: bool = False
    closed: bool = False
    overdue: bool = False
    late: bool = False  # closed after the deadline
    level: str | None = None  # closed by a unit of this level
    unit_code: str | None = None  # counted for this unit (see responsible_unit_q)
    week: str | None = None  # ISO week of submission, or of closing when closed is set
    rating: str | None = None  # "any" rated, "bad" (差评), "good"
    # A local month (its first day): of submission, of closing when closed, late or level is set, of
    # rating when rating is; as the dashboard's month figures count them.
    month: dt.date | None = None
    received: bool = False  # with unit_code: received by that unit (its first holder, CaseReceivedTally)


def figure_cases(*, viewer: Viewer, filters: FigureFilters):
    """The scoped cases behind a figure: NotFound/ValidationFailed for a bad region, unit, level or week."""
    place = dashboard_region(viewer=viewer, region_code=filters.region_code)
    qs = _scoped_cases(viewer, place.region)
    f = filters
    if f.direct and place.region is not None:
        qs = qs.filter(region_path=place.region.path)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.state:
        qs = qs.filter(state=f.state)
    if f.open:
        qs = qs.filter(closed_at__isnull=True)
    if f.closed:
        qs = qs.filter(closed_at__isnull=False)
    if f.overdue:
        qs = qs.filter(overdue_q(clock.now()))
    if f.late:
        qs = qs.filter(late_q())
    if f.level:
        if f.level not in Level.values:
            raise ValidationFailed(_("层级只能是 %(l)s 之一。") % {"l": ", ".join(Level.values)}, field="level")
        qs = qs.filter(handled_at_level_q(f.level))
    if f.unit_code:
        unit_id = hierarchy().unit(f.unit_code).id
        # A rating counts for the unit recorded on it (feedback's tallies), whatever has happened since.
        if f.rating:
            qs = qs.filter(evaluation__handling_unit_id=unit_id)
        elif f.received:
            qs = qs.filter(events__seq=1, events__to_unit_id=unit_id)
        else:
            qs = qs.filter(responsible_unit_q(unit_id))
    if f.week:
        try:
            start, end = week_bounds(f.week)
        except ValueError:
            raise ValidationFailed(_("周次应写作 2026-W48 这样的格式。"), field="week") from None
        field = "closed_at" if f.closed else "created_at"
        qs = qs.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    if f.month:
        start = timezone.make_aware(dt.datetime.combine(f.month, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(next_month(f.month), dt.time.min))
        field = ("evaluation__created_at" if f.rating else
                 "closed_at" if f.closed or f.late or f.level else "created_at")
        qs = qs.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    if f.rating == "any":
        qs = qs.filter(evaluation__isnull=False)
    elif f.rating == "bad":
        qs = qs.filter(evaluation__rating__lte=BAD_REVIEW_MAX)
    elif f.rating == "good":
        qs = qs.filter(evaluation__rating__gt=BAD_REVIEW_MAX)
    elif f.rating:
        raise ValidationFailed(_("评价只能是 any、good 或 bad。"), field="rating")
    return qs
