"""Public figures (评价结果公开, GB/T 39734): the leaders' figures for anyone, without login.

Not a second computation: every figure here is what ``stats.selectors`` gives the dashboard, read
with a viewer who sees every region and holds no unit, so a published figure and the dashboard's for
the same scope, period and kinds are the same number (tested). Only counts and rates leave: no case,
name or text.

- per region (area › city › town › community): ``region_breakdown``'s total and its children;
- per handling unit: ``indicators``' unit rows (in a month, "received" by the unit that first held a case);
- over all time, and for one month (``month=``) from the month tallies, the rework rate included;
- per month, submitted and closed from the day tallies (``day_counts``, as the weekly trend).

Only the kinds residents bring are published (PUBLIC_KINDS): an assistance pair (一对一帮扶) is a
poor household, and in a community with one pair its figures would point at that family; a
rectification item (整改事项) is an inspection's internal matter.

docs/public-figures.md says what each figure means and how an outsider checks one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from django.db.models import Max
from django.utils.translation import gettext as _

from yiwang.cases.models import CaseEvent, Kind
from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.feedback.models import Evaluation
from yiwang.org.models import Level
from yiwang.org.selectors import Membership, RegionInfo, Viewer, hierarchy
from yiwang.stats.selectors import day_counts, indicators, next_month, region_breakdown, unit_month_counts

MONTHS = 12  # months of submitted/closed a page shows, the current one last
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
PUBLIC_LEVELS = (Level.AREA, Level.CITY, Level.TOWN, Level.COMMUNITY)
PUBLIC_KINDS = frozenset({Kind.APPLICATION, Kind.CONSULTATION, Kind.INCIDENT, Kind.FOLLOW_UP})


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


def _region_ref(region: RegionInfo | None) -> dict | None:
    # The path is what the signed tallies are keyed by (docs/public-figures.md: checking a figure).
    return {"code": region.code, "name": region.name, "level": region.level, "path": region.path} if region else None


def _figures(row: dict) -> dict:
    """A region_breakdown row (all time) as published (its overdue count stays on the dashboard)."""
    return {
        "received": row["cases"], "open": row["open"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"], "closed_at_community": row["community"],
        "community_share": row["community_share"],
    }


def _month_figures(row: dict, month: dt.date) -> dict:
    """A region_breakdown row of one month as published: nothing is open in a month."""
    return {
        "month": month.strftime("%Y-%m"), "received": row["cases"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"], "closed_at_community": row["community"],
        "community_share": row["community_share"], "incidents_closed": row["rework_base"],
        "incidents_reworked": row["reworked"], "rework_rate": row["rework_rate"],
    }


def _unit_ref(code: str) -> dict:
    # The id is what the signed tallies name a unit by (docs/public-figures.md: checking a figure).
    h = hierarchy()
    unit = h.units[h.unit_by_code[code]]
    return {"code": unit.code, "name": unit.name, "level": h.regions[unit.region_id].level, "id": unit.id}


def _unit_figures(row: dict | None) -> dict:
    """An indicators() unit row (all time) as published; None: a unit with nothing to count."""
    row = row or {"open": 0, "closed": 0, "on_time_rate": None, "ratings": 0, "bad_reviews": 0,
                  "satisfaction_rate": None}
    return {
        "received": row["open"] + row["closed"], "open": row["open"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"],
    }


def _unit_month_figures(row: dict | None, month: dt.date) -> dict:
    """An indicators() unit row of one month. "Received": the cases submitted that month that the
    unit held first (cases.models.CaseReceivedTally), as the dashboard's month table counts them."""
    row = row or {"received": 0, "closed": 0, "on_time_rate": None, "ratings": 0, "bad_reviews": 0,
                  "satisfaction_rate": None, "incidents_closed": 0, "incidents_reworked": 0, "rework_rate": None}
    return {
        "month": month.strftime("%Y-%m"), "received": row["received"], "closed": row["closed"],
        "on_time_rate": row["on_time_rate"], "ratings": row["ratings"], "bad_reviews": row["bad_reviews"],
        "satisfaction_rate": row["satisfaction_rate"], "incidents_closed": row["incidents_closed"],
        "incidents_reworked": row["incidents_reworked"], "rework_rate": row["rework_rate"],
    }


def _units(viewer: Viewer, region_code: str | None, month: dt.date) -> list[dict]:
    """Every unit that holds or handled a published case of the scope, over all time and in ``month``."""
    all_time = {r["unit"]: r for r in indicators(viewer=viewer, region_code=region_code, kinds=PUBLIC_KINDS)["by_unit"]}
    in_month = {r["unit"]: r for r in indicators(viewer=viewer, region_code=region_code, month=month,
                                                 kinds=PUBLIC_KINDS)["by_unit"]}
    known = hierarchy().unit_by_code
    return [{"unit": _unit_ref(code), **_unit_figures(all_time.get(code)),
             "month": _unit_month_figures(in_month.get(code), month)}
            for code in sorted(set(all_time) | set(in_month)) if code in known]


def data_version() -> str:
    """Changes whenever a tallied figure may have: the newest case event and the newest rating (every
    tally write comes with one or the other)."""
    events = CaseEvent.objects.using(stale_ok()).aggregate(last=Max("id"))["last"] or 0
    ratings = Evaluation.objects.using(stale_ok()).aggregate(last=Max("id"))["last"] or 0
    return f"{events}:{ratings}"


def _month_firsts(last: dt.date, count: int) -> list[dt.date]:
    firsts = [last]
    while len(firsts) < count:
        firsts.insert(0, (firsts[0] - dt.timedelta(days=1)).replace(day=1))
    return firsts


def unit_months(*, viewer: Viewer, unit_id: int, last: dt.date, count: int = MONTHS) -> list[dict]:
    """A unit's received and closed per calendar month, ``count`` months ending with ``last``: each the
    unit's month figure (_unit_month_figures) of that month."""
    firsts = _month_firsts(last, count)
    counts = unit_month_counts(viewer, unit_id, firsts[0], next_month(last), PUBLIC_KINDS)
    return [{"month": f.strftime("%Y-%m"), "received": counts.get(f, (0, 0))[0], "closed": counts.get(f, (0, 0))[1]}
            for f in firsts]


def months(*, viewer: Viewer, region: RegionInfo | None, last: dt.date, count: int = MONTHS) -> list[dict]:
    """Submitted and closed per calendar month (local days), ``count`` months ending with ``last``."""
    firsts = _month_firsts(last, count)
    submitted: Counter[dt.date] = Counter()
    closed: Counter[dt.date] = Counter()
    end = next_month(last)
    for day, s, c in day_counts(viewer=viewer, region=region, since=firsts[0], kinds=PUBLIC_KINDS):
        if day >= end:
            continue
        submitted[day.replace(day=1)] += s
        closed[day.replace(day=1)] += c
    return [{"month": f.strftime("%Y-%m"), "received": submitted[f], "closed": closed[f]} for f in firsts]


def public_figures(*, region_code: str | None = None, unit_code: str | None = None,
                   month: str | None = None) -> dict:
    """The published figures for a region (default: the top region) or a handling unit: over all
    time (``figures``) and for a month (``month``, default this one), for the region's children and
    units too.

    Raises NotFound for an unknown region or unit, ValidationFailed for a malformed month.
    """
    viewer = public_viewer()
    h = hierarchy()
    region = _region(region_code)
    first = parse_month(month)
    if first > clock.today():
        raise ValidationFailed(_("月份不能晚于本月。"), field="month")
    if unit_code:
        if unit_code not in h.unit_by_code:
            raise NotFound(_("没有代码为 %(code)s 的单位。") % {"code": unit_code[:50]}, field="unit")
        rows = [r for r in _units(viewer, None, first) if r["unit"]["code"] == unit_code]
        row = rows[0] if rows else {"unit": _unit_ref(unit_code), **_unit_figures(None),
                                    "month": _unit_month_figures(None, first)}
        return {
            "region": None, "unit": row["unit"],
            "figures": {k: v for k, v in row.items() if k not in ("unit", "month")},
            "children": [], "units": [], "months": unit_months(viewer=viewer, unit_id=row["unit"]["id"], last=first),
            "month": row["month"],
        }
    breakdown = region_breakdown(viewer=viewer, region_code=region.code if region else None, kinds=PUBLIC_KINDS)
    shown = breakdown["place"].region
    in_month = region_breakdown(viewer=viewer, region_code=shown.code if shown else None, month=first,
                                kinds=PUBLIC_KINDS)
    month_rows = {row["key"]: row for row in in_month["rows"]}
    children = [{"region": _region_ref(row["region"]), **_figures(row),
                 "month": _month_figures(month_rows[row["key"]], first)}
                for row in breakdown["rows"]
                if row["region"] is not None and row["key"] != "" and row["region"].level in PUBLIC_LEVELS]
    return {
        "region": _region_ref(shown), "unit": None,
        "figures": _figures(breakdown["total"]),
        "children": children,
        "units": _units(viewer, shown.code if shown else None, first),
        "months": months(viewer=viewer, region=shown, last=first),
        "month": _month_figures(in_month["total"], first),
    }
