"""Public figures (评价结果公开, GB/T 39734): the leaders' figures for anyone, without login.

Not a second computation: every figure here is what ``stats.selectors`` gives the dashboard, read
with a viewer who sees every region and holds no unit, so a published figure and the dashboard's for
the same scope are the same number (tested). Only counts and rates leave: no case, name or text.

- per region (area › city › town › community): ``region_breakdown``'s total and its children;
- per handling unit: ``indicators``' unit rows;
- per month: submitted and closed from the day tallies (``day_counts``, as the weekly trend), and the
  rework rate of the incidents reported that month (``incident_indicators``, as /dashboard/incidents/).

docs/public-figures.md says what each figure means and how an outsider checks one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.feedback.models import Evaluation
from yiwang.org.models import Level
from yiwang.org.selectors import Membership, RegionInfo, Viewer, hierarchy
from yiwang.stats.incidents import incident_indicators
from yiwang.stats.selectors import day_counts, indicators, region_breakdown

MONTHS = 12  # months of submitted/closed a page shows, the current one last
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# A month's rework rate reads that month's incidents and their steps (not a tally). Anyone may ask,
# as often as they like: a region's month is counted at most once a minute, so the rate may lag
# the tallied figures by that much.
REWORK_CACHE_SECONDS = 60
PUBLIC_LEVELS = (Level.AREA, Level.CITY, Level.TOWN, Level.COMMUNITY)


def public_viewer() -> Viewer:
    """Anyone: every top region's subtree through scope_q, and no unit, role or resident of their own."""
    h = hierarchy()
    roots = sorted((r for r in h.regions.values() if r.parent_id is None), key=lambda r: r.code)
    return Viewer(user_id=None, username="public",
                  memberships=tuple(Membership(unit_id=0, role="public", region_path=r.path) for r in roots))


def _region(code: str | None) -> RegionInfo | None:
    if not code:
        return None
    h = hierarchy()
    region_id = h.region_by_code.get(code)
    region = h.regions.get(region_id) if region_id is not None else None
    if region is None or region.level not in PUBLIC_LEVELS:
        # Grids are not published: a grid can be a few buildings, and its figures nearly a household's.
        raise NotFound(_("没有代码为 %(code)s 的区域。") % {"code": code[:50]}, field="region")
    return region


def parse_month(value: str | None) -> dt.date:
    """"2026-11" → 2026-11-01; the current month when empty; ValidationFailed otherwise."""
    if not value:
        return clock.today().replace(day=1)
    match = MONTH_RE.match(value)
    try:
        if not match:
            raise ValueError
        return dt.date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValidationFailed(_("月份应写作 2026-11 这样的格式。"), field="month") from None


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def _month_bounds(first: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(next_month(first), dt.time.min))


def _region_ref(region: RegionInfo | None) -> dict | None:
    # The path is what the signed tallies are keyed by (docs/public-figures.md: checking a figure).
    return {"code": region.code, "name": region.name, "level": region.level, "path": region.path} if region else None


def _figures(row: dict) -> dict:
    """A region_breakdown row as published (its overdue count and unit ids stay on the dashboard)."""
    return {
        "received": row["cases"], "open": row["open"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"], "closed_at_community": row["community"],
        "community_share": row["community_share"],
    }


def _unit_figures(row: dict) -> dict:
    # The id is what the signed tallies name a unit by (docs/public-figures.md: checking a figure).
    return {
        "unit": {"code": row["unit"], "name": row["name"], "level": row["level"],
                 "id": hierarchy().unit_by_code.get(row["unit"])},
        "received": row["open"] + row["closed"], "open": row["open"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"],
    }


def data_version() -> str:
    """Changes whenever a tallied figure may have: the newest case event and the newest rating (every
    tally write comes with one or the other)."""
    events = CaseEvent.objects.using(stale_ok()).aggregate(last=Max("id"))["last"] or 0
    ratings = Evaluation.objects.using(stale_ok()).aggregate(last=Max("id"))["last"] or 0
    return f"{events}:{ratings}"


def _rework(viewer: Viewer, region: RegionInfo | None, month: dt.date) -> dict:
    key = f"yiwang:public:rework:{region.code if region else ''}:{month.isoformat()}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    start, end = _month_bounds(month)
    figures = incident_indicators(viewer=viewer, start=start, end=end, region=region, hotspot_limit=0)
    total = figures["total"]
    out = {
        "incidents_reported": total["reported"], "incidents_handled": total["handled"],
        "rework_rate": total["rework_rate"],
        "by_unit": {u["code"]: u["rework_rate"] for u in figures["by_unit"]},
    }
    cache.set(key, out, REWORK_CACHE_SECONDS)
    return out


def months(*, viewer: Viewer, region: RegionInfo | None, last: dt.date, count: int = MONTHS) -> list[dict]:
    """Submitted and closed per calendar month (local days), ``count`` months ending with ``last``."""
    firsts = [last]
    while len(firsts) < count:
        firsts.insert(0, (firsts[0] - dt.timedelta(days=1)).replace(day=1))
    submitted: Counter[dt.date] = Counter()
    closed: Counter[dt.date] = Counter()
    end = next_month(last)
    for day, s, c in day_counts(viewer=viewer, region=region, since=firsts[0]):
        if day >= end:
            continue
        submitted[day.replace(day=1)] += s
        closed[day.replace(day=1)] += c
    return [{"month": f.strftime("%Y-%m"), "received": submitted[f], "closed": closed[f]} for f in firsts]


def public_figures(*, region_code: str | None = None, unit_code: str | None = None,
                   month: str | None = None) -> dict:
    """The published figures for a region (default: the top region) or a handling unit, and a month.

    Raises NotFound for an unknown region or unit, ValidationFailed for a malformed month.
    """
    viewer = public_viewer()
    h = hierarchy()
    region = _region(region_code)
    first = parse_month(month)
    if first > clock.today():
        raise ValidationFailed(_("月份不能晚于本月。"), field="month")
    if unit_code:
        unit_id = h.unit_by_code.get(unit_code)
        unit = h.units.get(unit_id) if unit_id is not None else None
        if unit is None:
            raise NotFound(_("没有代码为 %(code)s 的单位。") % {"code": unit_code[:50]}, field="unit")
        rows = [r for r in indicators(viewer=viewer)["by_unit"] if r["unit"] == unit.code]
        unit_row = _unit_figures(rows[0]) if rows else _unit_figures({
            "unit": unit.code, "name": unit.name, "level": h.regions[unit.region_id].level, "open": 0, "closed": 0,
            "on_time_rate": None, "ratings": 0, "bad_reviews": 0, "satisfaction_rate": None})
        rework = _rework(viewer, None, first)
        return {
            "region": None, "unit": unit_row["unit"],
            "figures": {k: v for k, v in unit_row.items() if k != "unit"},
            "children": [], "units": [], "months": [],
            "month": {"month": first.strftime("%Y-%m"), "rework_rate": rework["by_unit"].get(unit.code)},
        }
    breakdown = region_breakdown(viewer=viewer, region_code=region.code if region else None)
    place = breakdown["place"]
    shown = place.region
    children = [{"region": _region_ref(row["region"]), **_figures(row)}
                for row in breakdown["rows"]
                if row["region"] is not None and row["key"] != "" and row["region"].level in PUBLIC_LEVELS]
    units = [_unit_figures(r) for r in indicators(viewer=viewer, region_code=shown.code if shown else None)["by_unit"]]
    rework = _rework(viewer, shown, first)
    month_rows = months(viewer=viewer, region=shown, last=first)
    return {
        "region": _region_ref(shown), "unit": None,
        "figures": _figures(breakdown["total"]),
        "children": children,
        "units": units,
        "months": month_rows,
        "month": {**month_rows[-1], "incidents_reported": rework["incidents_reported"],
                  "incidents_handled": rework["incidents_handled"], "rework_rate": rework["rework_rate"]},
    }
