"""Incident indicators in the manner of GB/T 30428 (数字化城市管理 评价): how many problems were
reported, registered, dispatched and closed, how fast each step of the closed loop ran, how often
work was sent back, per handling unit and per grid, and where problems cluster.

Everything is read from the cases and their timelines in one period; the step times come from the
events (立案 → 派遣 → 处置 → 核查), so they can be recomputed by anyone holding the timeline.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from statistics import mean

from django.db.models import Count, Q

from yiwang.cases.models import Case, CaseEvent, Kind
from yiwang.cases.rollups import REWORK_ACTIONS  # the month tallies count the same sending back
from yiwang.core.db import stale_ok
from yiwang.org.models import Level
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy, scope_q
from yiwang.stats.selectors import percent

STEPS = ("register", "dispatch", "handle", "verify", *REWORK_ACTIONS, "close", "confirm", "close_unconfirmed")


@dataclass
class Figures:
    reported: int = 0
    registered: int = 0
    dispatched: int = 0
    handled: int = 0
    closed: int = 0
    closed_on_time: int = 0
    dismissed: int = 0
    merged: int = 0
    reworked: int = 0
    confirmed: int = 0  # closed on the reporter's 已解决 (the last closing)
    unconfirmed: int = 0  # closed by the sweep with no answer: never counted as satisfied
    dispatch_hours: list[float] = field(default_factory=list)  # 立案 → 首次派遣
    handle_hours: list[float] = field(default_factory=list)  # 派遣 → 处置完成 (last)
    verify_hours: list[float] = field(default_factory=list)  # 处置完成 → 核查 (last)

    def as_dict(self) -> dict:
        def avg(values: list[float]) -> float | None:
            return round(mean(values), 2) if values else None

        return {
            "reported": self.reported, "registered": self.registered, "dispatched": self.dispatched,
            "handled": self.handled, "closed": self.closed, "dismissed": self.dismissed, "merged": self.merged,
            "on_time_rate": percent(self.closed_on_time, self.closed),  # 按期结案率
            "close_rate": percent(self.closed, self.registered),  # 结案率
            "rework_rate": percent(self.reworked, self.handled),  # 返工率
            "confirmed": self.confirmed, "unconfirmed": self.unconfirmed,
            "avg_dispatch_hours": avg(self.dispatch_hours), "avg_handle_hours": avg(self.handle_hours),
            "avg_verify_hours": avg(self.verify_hours),
        }


def _hours(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds() / 3600


def _grid_of(path: str, h_paths: dict[str, RegionInfo]) -> RegionInfo | None:
    parts = path.strip("/").split("/")
    for i in range(len(parts), 0, -1):
        info = h_paths.get("/" + "/".join(parts[:i]) + "/")
        if info is not None and info.level == Level.GRID:
            return info
    return None


def incident_indicators(*, viewer: Viewer, start: dt.datetime, end: dt.datetime,
                        region: RegionInfo | None = None, hotspot_limit: int = 10) -> dict:
    """Figures for incidents reported in [start, end) in the viewer's scope (optionally one region)."""
    h = hierarchy()
    db = stale_ok()  # a period's figures may lag by seconds; cases and events from the same server
    qs = Case.objects.using(db).filter(scope_q(viewer, resident_field=None), kind=Kind.INCIDENT,
                                       created_at__gte=start, created_at__lt=end)
    if region is not None:
        qs = qs.filter(region_path__startswith=region.path)
    cases = {row["id"]: row for row in qs.values(
        "id", "state", "region_path", "handling_unit_id", "matter_id", "matter__name", "due_at", "closed_at",
        "accepted_at", "off_grid")}
    steps: dict[int, dict[str, list[dt.datetime]]] = defaultdict(lambda: defaultdict(list))
    if cases:
        events = CaseEvent.objects.using(db).filter(case_id__in=qs.values("id"), action__in=STEPS)
        for case_id, action, at in events.values_list("case_id", "action", "at").iterator(chunk_size=5000):
            steps[case_id][action].append(at)

    total = Figures()
    by_unit: dict[int, Figures] = defaultdict(Figures)
    by_grid: dict[str, Figures] = defaultdict(Figures)
    hotspots: Counter[tuple[str, str]] = Counter()
    paths = {r.path: r for r in h.regions.values()}
    for case_id, row in cases.items():
        ev = steps.get(case_id, {})
        grid = _grid_of(row["region_path"], paths)
        grid_key = grid.code if grid else ""
        figures = [total, by_grid[grid_key]]
        if row["handling_unit_id"]:
            figures.append(by_unit[row["handling_unit_id"]])
        registered = bool(ev.get("register"))
        first_dispatch = min(ev["dispatch"]) if ev.get("dispatch") else None
        last_handle = max(ev["handle"]) if ev.get("handle") else None
        last_verify = max(ev["verify"]) if ev.get("verify") else None
        dispatch_h = _hours(min(ev["register"]) if registered else None, first_dispatch)
        # Handling runs from the last dispatch (a rework re-dispatches) before the last handling.
        last_dispatch = max((d for d in ev.get("dispatch", []) if last_handle and d <= last_handle), default=None)
        handle_h = _hours(last_dispatch, last_handle)
        verify_h = _hours(last_handle, last_verify)
        closings = [(at, a) for a in ("close", "confirm", "close_unconfirmed") for at in ev.get(a, [])]
        last_close = max(closings)[1] if closings else None
        for f in figures:
            f.reported += 1
            f.registered += registered
            f.dispatched += first_dispatch is not None
            f.handled += last_handle is not None
            f.reworked += any(ev.get(a) for a in REWORK_ACTIONS)
            f.dismissed += row["state"] == "dismissed"
            f.merged += row["state"] == "merged"
            if row["state"] == "closed":
                f.closed += 1
                f.confirmed += last_close == "confirm"
                f.unconfirmed += last_close == "close_unconfirmed"
                f.closed_on_time += bool(row["due_at"] and row["closed_at"] <= row["due_at"])
            if dispatch_h is not None:
                f.dispatch_hours.append(dispatch_h)
            if handle_h is not None:
                f.handle_hours.append(handle_h)
            if verify_h is not None:
                f.verify_hours.append(verify_h)
        hotspots[(grid_key, row["matter__name"])] += 1

    units = {uid: h.units[uid] for uid in by_unit if uid in h.units}
    return {
        "total": total.as_dict(),
        "by_unit": sorted(({"unit": units[uid].name, "code": units[uid].code, **f.as_dict()}
                           for uid, f in by_unit.items() if uid in units), key=lambda r: -r["reported"]),
        "by_grid": sorted(({"grid": h.region(code).name if code else None, "code": code, **f.as_dict()}
                           for code, f in by_grid.items()), key=lambda r: -r["reported"]),
        "hotspots": [{"grid": h.region(code).name if code else None, "code": code, "category": name, "count": n}
                     for (code, name), n in hotspots.most_common(hotspot_limit)],
    }


def hotspot_points(*, viewer: Viewer, start: dt.datetime, end: dt.datetime, region: RegionInfo | None = None,
                   limit: int = 3000) -> list[dict]:
    """Located incidents of the period, for a heat map."""
    qs = Case.objects.using(stale_ok()).filter(scope_q(viewer, resident_field=None), kind=Kind.INCIDENT,
                                               created_at__gte=start, created_at__lt=end, lat__isnull=False)
    if region is not None:
        qs = qs.filter(region_path__startswith=region.path)
    return [{"lat": lat, "lng": lng, "label": name} for lat, lng, name in
            qs.order_by("-created_at").values_list("lat", "lng", "matter__name")[:limit]]


def category_counts(*, viewer: Viewer, start: dt.datetime, end: dt.datetime,
                    region: RegionInfo | None = None) -> list[dict]:
    qs = Case.objects.using(stale_ok()).filter(scope_q(viewer, resident_field=None), kind=Kind.INCIDENT,
                                               created_at__gte=start, created_at__lt=end)
    if region is not None:
        qs = qs.filter(region_path__startswith=region.path)
    return list(qs.values("matter__code", "matter__name").annotate(
        n=Count("id"), open=Count("id", filter=Q(closed_at__isnull=True))).order_by("-n"))
