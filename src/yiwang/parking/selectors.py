"""Reads of parking, every one scoped to the viewer through org.selectors.scope_q.

Hotspots answer the report's question — where and when 乱停车 congests traffic (学校、商场附近,
交通高峰时段): violations counted by hour of day × weekday, by grid and by zone, and around tagged
places.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.core.pagination import Page, paginate
from yiwang.org.models import Role
from yiwang.org.selectors import Viewer, bounding_box, distance_km, hierarchy, scope_q
from yiwang.parking import penalties
from yiwang.parking.fees import Band, Tariff
from yiwang.parking.models import (
    Appeal,
    ParkingSession,
    Penalty,
    PenaltyRule,
    PlaceKind,
    TaggedPlace,
    Violation,
    Zone,
)

HOTSPOT_ROLES = frozenset({Role.LEADER, Role.OPERATOR})
MAX_PERIOD_DAYS = 366
WEEKDAYS = (gettext_lazy("周一"), gettext_lazy("周二"), gettext_lazy("周三"), gettext_lazy("周四"),
            gettext_lazy("周五"), gettext_lazy("周六"), gettext_lazy("周日"))


def _region_q(viewer: Viewer) -> Q:
    # Parking rows have no holder and no applicant: what a viewer sees is their regions' subtree.
    return scope_q(viewer, holder_field=None, resident_field=None)


# --- zones and sessions ----------------------------------------------------------------------


def zone_queryset(viewer: Viewer) -> QuerySet[Zone]:
    return Zone.objects.filter(_region_q(viewer))


def zone_get(*, viewer: Viewer, code: str) -> Zone:
    zone = zone_queryset(viewer).select_related("region").filter(code=code, active=True).first()
    if zone is None:
        raise NotFound(_("没有编码为 %(code)s 的停车区域，或您无权查看。") % {"code": code}, field="zone")
    return zone


@dataclass
class ZoneRow:
    zone: Zone
    occupied: int

    @property
    def free(self) -> int:
        return max(self.zone.capacity - self.occupied, 0)

    @property
    def rate(self) -> int:
        return round(100 * self.occupied / self.zone.capacity) if self.zone.capacity else 0


def zone_list(*, viewer: Viewer) -> list[ZoneRow]:
    """Active zones the viewer may see, with how many vehicles are in each now (在场车辆)."""
    qs = (zone_queryset(viewer).filter(active=True).select_related("region").prefetch_related("periods")
          .annotate(occupied=Count("sessions", filter=Q(sessions__exited_at__isnull=True))).order_by("region_path", "code"))
    return [ZoneRow(zone, zone.occupied) for zone in qs]


def occupied(zone: Zone) -> int:
    return ParkingSession.objects.filter(zone=zone, exited_at__isnull=True).count()


def tariff_of(zone: Zone) -> Tariff:
    bands = tuple(Band(start=p.start, end=p.end, unit_minutes=p.unit_minutes, unit_price=p.unit_price, cap=p.cap,
                       name=p.name) for p in zone.periods.all())
    return Tariff(bands=bands, free_minutes=zone.free_minutes, daily_cap=zone.daily_cap)


def open_session(*, zone: Zone, plate: str) -> ParkingSession | None:
    return ParkingSession.objects.filter(zone=zone, plate=plate, exited_at__isnull=True).first()


def recent_sessions(*, viewer: Viewer, zone: Zone | None = None, limit: int = 50) -> list[ParkingSession]:
    qs = ParkingSession.objects.filter(_region_q(viewer)).select_related("zone", "space")
    if zone is not None:
        qs = qs.filter(zone=zone)
    return list(qs.order_by("-entered_at", "-id")[:limit])


# --- violations, penalties, appeals ----------------------------------------------------------


@dataclass
class ViolationFilters:
    plate: str = ""
    source: str = ""
    region_code: str = ""
    penalty: str = ""  # "", "none" (not decided yet), or a payment state
    since: dt.datetime | None = None


def violation_queryset(viewer: Viewer) -> QuerySet[Violation]:
    return Violation.objects.filter(_region_q(viewer))


def violation_get(*, viewer: Viewer, violation_id: int) -> Violation:
    row = (violation_queryset(viewer).select_related("case", "zone", "region", "penalty", "penalty__appeal",
                                                     "penalty__decided_by", "penalty__unit")
           .filter(pk=violation_id).first())
    if row is None:
        raise NotFound(_("没有找到该违法停车记录，或您无权查看。"), field="violation")
    return row


def violation_list(*, viewer: Viewer, filters: ViolationFilters, cursor: str | None = None, limit: int = 50) -> Page:
    qs = violation_queryset(viewer).select_related("case", "zone", "region", "penalty")
    if filters.plate:
        qs = qs.filter(plate=filters.plate)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.region_code:
        qs = qs.filter(region_path__startswith=hierarchy().region(filters.region_code).path)
    if filters.penalty == "undecided":
        qs = qs.filter(penalty__isnull=True)
    elif filters.penalty:
        qs = qs.filter(penalty__state=filters.penalty)
    if filters.since:
        qs = qs.filter(observed_at__gte=filters.since)
    return paginate(qs, order="-observed_at", cursor=cursor, limit=limit)


def penalty_get(*, viewer: Viewer, penalty_id: int) -> Penalty:
    row = (Penalty.objects.filter(scope_q(viewer, holder_field="unit_id", resident_field=None), pk=penalty_id)
           .select_related("violation", "violation__case").first())
    if row is None:
        raise NotFound(_("没有找到该处罚决定，或您无权查看。"), field="penalty")
    return row


def appeal_get(*, viewer: Viewer, appeal_id: int) -> Appeal:
    row = (Appeal.objects.filter(_region_q(viewer), pk=appeal_id)
           .select_related("penalty", "penalty__violation").first())
    if row is None:
        raise NotFound(_("没有找到该申诉，或您无权查看。"), field="appeal")
    return row


def pending_appeals(*, viewer: Viewer, limit: int = 50) -> list[Appeal]:
    return list(Appeal.objects.filter(_region_q(viewer), state="pending")
                .select_related("penalty", "penalty__violation").order_by("filed_at")[:limit])


def penalty_facts(violation: Violation) -> penalties.Facts:
    """What the penalty rules look at. Deliberately unscoped: a vehicle's earlier penalties anywhere
    in the district count, whoever decides this one."""
    kinds = frozenset(
        place.kind for place in TaggedPlace.objects.filter(**bounding_box(violation.lat, violation.lng, penalties.NEAR_METRES))
        if distance_km(violation.lat, violation.lng, place.lat, place.lng) * 1000 <= penalties.NEAR_METRES
    )
    since = clock.now() - dt.timedelta(days=penalties.REPEAT_WINDOW_DAYS)
    repeat = (Penalty.objects.filter(plate=violation.plate, decided_at__gte=since, decided_at__lte=clock.now())
              .exclude(state="waived")
              .exclude(violation_id=violation.pk).count())
    return penalties.Facts(zone_kind=violation.zone.kind if violation.zone_id else "", place_kinds=kinds,
                           repeat=repeat)


def active_rules() -> list[PenaltyRule]:
    return list(PenaltyRule.objects.filter(active=True).order_by("id"))


def nearest_zone(lat: float, lng: float, metres: float) -> Zone | None:
    """The active zone whose point lies nearest, if within ``metres`` (a patrol seldom names it)."""
    best = None
    for zone in Zone.objects.filter(active=True, lat__isnull=False, **bounding_box(lat, lng, metres)):
        d = distance_km(lat, lng, zone.lat, zone.lng) * 1000
        if d <= metres and (best is None or d < best[0]):
            best = (d, zone)
    return best[1] if best else None


# --- hotspots --------------------------------------------------------------------------------


def can_see_hotspots(viewer: Viewer) -> bool:
    return viewer.is_superuser or bool(viewer.roles & HOTSPOT_ROLES)


@dataclass
class HotspotFilters:
    start: dt.datetime
    end: dt.datetime  # inclusive: "the last 7 days" counts what was seen a moment ago
    place_kind: str = ""  # only violations near a tagged place of this kind
    metres: int = penalties.NEAR_METRES
    region_code: str = ""

    @classmethod
    def last_days(cls, days: int, **kw) -> HotspotFilters:
        end = clock.now()
        return cls(start=end - dt.timedelta(days=days), end=end, **kw)


@dataclass
class PlaceCount:
    name: str
    code: str
    count: int
    lat: float | None = None
    lng: float | None = None
    kind: str = ""
    peak: str = ""  # the busiest weekday and hour, e.g. "周一 7时"


@dataclass
class Hotspots:
    total: int
    heat: list[list[int]]  # [weekday 0..6][hour 0..23]
    by_hour: list[int]
    by_weekday: list[int]
    by_grid: list[PlaceCount]
    by_zone: list[PlaceCount]
    near: list[PlaceCount]  # tagged places with the violations within `metres`
    points: list[dict] = field(default_factory=list)
    max_cell: int = 0

    def cell(self, weekday: int, hour: int) -> int:
        return self.heat[weekday][hour]


def _check_filters(filters: HotspotFilters) -> None:
    if filters.end <= filters.start:
        raise ValidationFailed(_("结束时间须晚于开始时间。"), field="end")
    if filters.end - filters.start > dt.timedelta(days=MAX_PERIOD_DAYS):
        raise ValidationFailed(_("统计周期最长 %(n)s 天。") % {"n": MAX_PERIOD_DAYS}, field="start")
    if filters.place_kind and filters.place_kind not in PlaceKind.values:
        raise ValidationFailed(_("未知的场所类型 %(k)s。") % {"k": filters.place_kind}, field="tag")
    if not 10 <= filters.metres <= 2000:
        raise ValidationFailed(_("“附近”的距离须在 10 到 2000 米之间。"), field="metres")


def hotspots(*, viewer: Viewer, filters: HotspotFilters, point_limit: int = 2000) -> Hotspots:
    """Violations of the period the viewer may see, counted by weekday × hour, grid, zone and tagged place.

    One query reads the columns; counting is done on arrays, so a place-kind filter (a question of
    distance) costs the same as none.
    """
    if not can_see_hotspots(viewer):
        raise PermissionDenied(_("仅限领导和指挥中心指挥员查看停车热点。"))
    _check_filters(filters)
    db = stale_ok()  # a map of the period may lag the primary by seconds: a replica answers
    qs = violation_queryset(viewer).using(db).filter(observed_at__gte=filters.start, observed_at__lte=filters.end)
    if filters.region_code:
        qs = qs.filter(region_path__startswith=hierarchy().region(filters.region_code).path)
    rows = list(qs.values_list("id", "lat", "lng", "hour", "weekday", "region_id", "zone_id", "plate"))
    places = list(TaggedPlace.objects.using(db).filter(_region_q(viewer)).order_by("region_path", "name"))
    lats = np.array([r[1] for r in rows], dtype=float)
    lngs = np.array([r[2] for r in rows], dtype=float)
    near_of = {p.pk: (1000 * distance_km(lats, lngs, p.lat, p.lng) <= filters.metres) if rows else np.zeros(0, bool)
               for p in places}
    keep = np.ones(len(rows), dtype=bool)
    if filters.place_kind:
        keep = np.zeros(len(rows), dtype=bool)
        for p in places:
            if p.kind == filters.place_kind:
                keep |= near_of[p.pk]
    kept = [r for r, k in zip(rows, keep, strict=True) if k]

    heat = [[0] * 24 for _day in range(7)]
    for r in kept:
        heat[r[4]][r[3]] += 1
    h = hierarchy()
    grids = Counter(r[5] for r in kept)
    zones = Counter(r[6] for r in kept if r[6])
    zone_names = dict(Zone.objects.using(db).filter(pk__in=list(zones)).values_list("pk", "name"))
    zone_codes = dict(Zone.objects.using(db).filter(pk__in=list(zones)).values_list("pk", "code"))

    def peak_of(mask: np.ndarray) -> str:
        cells = Counter((rows[i][4], rows[i][3]) for i in np.flatnonzero(mask & keep))
        if not cells:
            return ""
        (weekday, hour), _n = max(cells.items(), key=lambda kv: (kv[1], -kv[0][0], -kv[0][1]))
        return _("%(day)s %(hour)s时") % {"day": WEEKDAYS[weekday], "hour": hour}

    near = [PlaceCount(name=p.name, code=str(p.pk), count=int((near_of[p.pk] & keep).sum()), lat=p.lat, lng=p.lng,
                       kind=p.get_kind_display(), peak=peak_of(near_of[p.pk]))
            for p in places if not filters.place_kind or p.kind == filters.place_kind]
    near.sort(key=lambda c: (-c.count, c.name))
    by_grid = [PlaceCount(name=h.regions[rid].name if rid in h.regions else "—",
                          code=h.regions[rid].code if rid in h.regions else "", count=n)
               for rid, n in grids.most_common()]
    by_zone = [PlaceCount(name=zone_names.get(zid, "—"), code=zone_codes.get(zid, ""), count=n)
               for zid, n in zones.most_common()]
    points = [{"lat": r[1], "lng": r[2], "label": r[7]} for r in kept[-point_limit:]]
    return Hotspots(
        total=len(kept), heat=heat, by_hour=[sum(heat[d][hr] for d in range(7)) for hr in range(24)],
        by_weekday=[sum(row) for row in heat], by_grid=by_grid, by_zone=by_zone, near=near, points=points,
        max_cell=max((max(row) for row in heat), default=0),
    )


def local_period(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From local midnight of ``start`` to the last moment of ``end`` (an inclusive date range)."""
    return (timezone.make_aware(dt.datetime.combine(start, dt.time())),
            timezone.make_aware(dt.datetime.combine(end, dt.time.max)))
