"""Reads of the command centre (综合执法指挥中心): the dispatch board, suggestions, likely duplicates.

Every read is scoped: the board shows the cases the viewer's command-centre units hold or supervise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from yiwang.cases import routing
from yiwang.cases.models import Case, Kind
from yiwang.cases.routing import Route
from yiwang.catalog.selectors import info_from_snapshot, matter_cache
from yiwang.org.models import Role, UnitKind
from yiwang.org.selectors import Viewer, distance_km, hierarchy, scope_q

# The board's tabs, in the order of the closed loop (GB/T 30428): 案卷建立 → 任务派遣 →
# 任务处理 (督办) → 核查结案.
TABS = [
    ("reported", _("待立案")), ("registered", _("待派遣")), ("handling", _("处置中")), ("verify", _("待核查")),
]
HANDLING = ("dispatched", "acknowledged")

# A report is a likely duplicate of an open one of the same category this close, this recent.
DUPLICATE_METRES = 300
DUPLICATE_WINDOW = dt.timedelta(days=3)


def command_units(viewer: Viewer) -> list[int]:
    """The command-centre units the viewer works in as an operator (all of them for a superuser)."""
    h = hierarchy()
    if viewer.is_superuser:
        return sorted(u.id for u in h.units.values() if u.kind == UnitKind.COMMAND_CENTRE)
    return sorted({m.unit_id for m in viewer.memberships
                   if m.role == Role.OPERATOR and m.unit_id in h.units and h.units[m.unit_id].kind == UnitKind.COMMAND_CENTRE})


def _tab_q(tab: str, units: list[int]) -> Q:
    return {
        "reported": Q(holder_unit_id__in=units, state="reported"),
        "registered": Q(holder_unit_id__in=units, state="registered"),
        "handling": Q(supervisor_unit_id__in=units, state__in=HANDLING),
        "verify": Q(holder_unit_id__in=units, state__in=("handled", "verified")),
    }[tab]


def board_cases(viewer: Viewer, tab: str, *, matter_code: str = "", off_grid: bool = False,
                limit: int = 200) -> QuerySet[Case]:
    """One tab of the dispatch board: most urgent first (red, yellow, then by deadline and age)."""
    units = command_units(viewer)
    qs = Case.objects.filter(scope_q(viewer), _tab_q(tab, units), kind=Kind.INCIDENT, closed_at__isnull=True)
    if matter_code:
        qs = qs.filter(matter__code=matter_code)
    if off_grid:
        qs = qs.filter(off_grid=True)
    order = ["-warning_level", "due_at", "id"] if tab == "handling" else ["-priority", "id"]
    return qs.select_related("matter", "matter_version", "region", "holder_unit").order_by(*order)[:limit]


def board_counts(viewer: Viewer) -> dict[str, int]:
    units = command_units(viewer)
    base = Case.objects.filter(scope_q(viewer), kind=Kind.INCIDENT, closed_at__isnull=True).filter(
        Q(holder_unit_id__in=units) | Q(supervisor_unit_id__in=units))
    return base.aggregate(**{key: Count("id", filter=_tab_q(key, units)) for key, _label in TABS})


def dispatch_suggestion(case: Case) -> Route | None:
    """The unit the category and place suggest (see cases.routing.dispatch_suggestion)."""
    info = info_from_snapshot(case.matter_id, case.matter_version_id, case.matter_version.snapshot)
    h = hierarchy()
    region = h.regions.get(case.region_id)
    return routing.dispatch_suggestion(info, region, h) if region else None


@dataclass(frozen=True)
class Duplicate:
    case: Case
    distance_m: int


def duplicate_candidates(viewer: Viewer, case: Case, *, limit: int = 5) -> list[Duplicate]:
    """Open incidents of the same category reported near this one shortly before or after it."""
    if case.lat is None or case.lng is None:
        return []
    # A box around the point first (cheap, indexable), then the true distance.
    dlat = DUPLICATE_METRES / 111_320
    dlng = dlat * 1.3  # generous for latitudes up to ~40°; the exact distance decides below
    rows = (Case.objects.filter(scope_q(viewer), kind=case.kind, matter_id=case.matter_id, closed_at__isnull=True,
                                lat__range=(case.lat - dlat, case.lat + dlat),
                                lng__range=(case.lng - dlng, case.lng + dlng),
                                created_at__range=(case.created_at - DUPLICATE_WINDOW,
                                                   case.created_at + DUPLICATE_WINDOW))
            .exclude(pk=case.pk).filter(parent__isnull=True).order_by("created_at")[:50])
    out = []
    for other in rows:
        metres = round(distance_km(case.lat, case.lng, other.lat, other.lng) * 1000)
        if metres <= DUPLICATE_METRES:
            out.append(Duplicate(other, metres))
    out.sort(key=lambda d: (d.distance_m, d.case.created_at))
    return out[:limit]


def incident_categories() -> list:
    """Active incident matters, for the board's filter."""
    return sorted((m for m in matter_cache.get().by_code.values() if m.kind == Kind.INCIDENT), key=lambda m: m.code)
