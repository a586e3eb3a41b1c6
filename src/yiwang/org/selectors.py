"""Reads of the hierarchy, and the one scoping rule every other selector applies.

Scoping rule: a staff member sees what lies in the region subtree of any unit they belong to, and
whatever their units hold wherever it lies (a case transferred to them from elsewhere). A resident
sees their own cases. A superuser sees everything.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext as _

from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import NotFound
from yiwang.org.models import LEVEL_RANK, ApiToken, Region, Resident, Staff, Unit


@dataclass(frozen=True)
class RegionInfo:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    path: str

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str
    region_id: int
    region_path: str


@dataclass
class Hierarchy:
    regions: dict[int, RegionInfo]
    region_by_code: dict[str, int]
    units: dict[int, UnitInfo]
    unit_by_code: dict[str, int]
    units_at: dict[tuple[int, str], list[int]]

    def chain(self, region_id: int) -> list[RegionInfo]:
        """The region and its ancestors, lowest first."""
        out = []
        current: int | None = region_id
        while current is not None:
            info = self.regions[current]
            out.append(info)
            current = info.parent_id
        return out

    def region(self, code: str) -> RegionInfo:
        try:
            return self.regions[self.region_by_code[code]]
        except KeyError:
            raise NotFound(_("没有代码为 %(code)s 的区域。") % {"code": code}, field="region_code") from None

    def unit(self, code: str) -> UnitInfo:
        try:
            return self.units[self.unit_by_code[code]]
        except KeyError:
            raise NotFound(_("没有编码为 %(code)s 的单位。") % {"code": code}, field="unit_code") from None


def _load_hierarchy() -> Hierarchy:
    regions = {
        r.id: r
        for r in (
            RegionInfo(*row)
            for row in Region.objects.values_list("id", "code", "name", "level", "parent_id", "path")
        )
    }
    units: dict[int, UnitInfo] = {}
    units_at: dict[tuple[int, str], list[int]] = {}
    for row in Unit.objects.filter(active=True).order_by("id").values_list(
        "id", "code", "name", "kind", "region_id", "region_path"
    ):
        info = UnitInfo(*row)
        units[info.id] = info
        units_at.setdefault((info.region_id, info.kind), []).append(info.id)
    return Hierarchy(
        regions=regions,
        region_by_code={r.code: r.id for r in regions.values()},
        units=units,
        unit_by_code={u.code: u.id for u in units.values()},
        units_at=units_at,
    )


hierarchy_cache: ConfigCache[Hierarchy] = ConfigCache("org.hierarchy", _load_hierarchy)


def hierarchy() -> Hierarchy:
    return hierarchy_cache.get()


@dataclass(frozen=True)
class Membership:
    unit_id: int
    role: str
    region_path: str


@dataclass
class Viewer:
    """Who is asking, and so what they may see and do. Built once per request."""

    user_id: int | None
    username: str = ""
    is_superuser: bool = False
    memberships: tuple[Membership, ...] = ()
    resident_id: int | None = None
    extra: dict = field(default_factory=dict)

    @cached_property
    def unit_ids(self) -> frozenset[int]:
        return frozenset(m.unit_id for m in self.memberships)

    @cached_property
    def region_paths(self) -> tuple[str, ...]:
        # Drop paths covered by a shorter one: a leader of a town need not also scan its communities.
        paths = sorted({m.region_path for m in self.memberships}, key=len)
        kept: list[str] = []
        for p in paths:
            if not any(p.startswith(k) for k in kept):
                kept.append(p)
        return tuple(kept)

    @cached_property
    def roles(self) -> frozenset[str]:
        """Every role the viewer holds in any unit (what menus offer; actions check the unit too)."""
        return frozenset(m.role for m in self.memberships)

    @property
    def is_staff_member(self) -> bool:
        return bool(self.memberships) or self.is_superuser

    def roles_in(self, unit_id: int | None) -> frozenset[str]:
        return frozenset(m.role for m in self.memberships if m.unit_id == unit_id)

    def can_see_path(self, path: str) -> bool:
        return self.is_superuser or any(path.startswith(p) for p in self.region_paths)


ANONYMOUS = Viewer(user_id=None)


def viewer_for(user) -> Viewer:
    if user is None or not user.is_authenticated:
        return ANONYMOUS
    rows = Staff.objects.filter(user_id=user.pk, unit__active=True).values_list(
        "unit_id", "role", "unit__region_path"
    )
    resident_id = Resident.objects.filter(user_id=user.pk).values_list("id", flat=True).first()
    return Viewer(
        user_id=user.pk,
        username=user.get_username(),
        is_superuser=user.is_superuser,
        memberships=tuple(Membership(*r) for r in rows),
        resident_id=resident_id,
    )


def scope_q(
    viewer: Viewer,
    *,
    path_field: str = "region_path",
    holder_field: str | None = "holder_unit_id",
    resident_field: str | None = "applicant_id",
) -> Q:
    """The one scoping filter: rows ``viewer`` may read. Use it in every selector."""
    if viewer.is_superuser:
        return Q()
    q = Q(pk__in=[])
    for path in viewer.region_paths:
        q |= Q(**{f"{path_field}__startswith": path})
    if holder_field and viewer.unit_ids:
        q |= Q(**{f"{holder_field}__in": sorted(viewer.unit_ids)})
    if resident_field and viewer.resident_id:
        q |= Q(**{resident_field: viewer.resident_id})
    return q


def units_reachable(viewer: Viewer) -> list[UnitInfo]:
    """Units a viewer may hand a case to: any active unit whose region shares a chain with theirs."""
    h = hierarchy()
    if viewer.is_superuser:
        return sorted(h.units.values(), key=lambda u: u.region_path)
    out = []
    for unit in h.units.values():
        for path in viewer.region_paths:
            if unit.region_path.startswith(path) or path.startswith(unit.region_path):
                out.append(unit)
                break
    return sorted(out, key=lambda u: u.region_path)


def region_list(*, parent_code: str | None = None) -> list[RegionInfo]:
    h = hierarchy()
    if parent_code is None:
        return sorted((r for r in h.regions.values() if r.parent_id is None), key=lambda r: r.code)
    parent = h.region(parent_code)
    return sorted((r for r in h.regions.values() if r.parent_id == parent.id), key=lambda r: r.code)


def user_for_token(key: str):
    """The active user behind an API token, or None."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return token.user if token else None


def request_viewer(request) -> Viewer:
    """Who is asking, built at most once per request; the API's auth sets it from a token."""
    viewer = getattr(request, "_yiwang_viewer", None)
    if viewer is None:
        viewer = request._yiwang_viewer = viewer_for(getattr(request, "user", None))
    return viewer


def distance_km(lat1, lng1, lat2, lng2):
    """Great-circle distance (haversine), good to a few metres at district scale. Takes floats, or
    numpy arrays to measure from one point to many at once (the parking hotspots)."""
    import numpy as np

    la1, la2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(np.radians(lng2 - lng1) / 2) ** 2
    km = 6371.0 * 2 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return float(km) if np.ndim(km) == 0 else km


def bounding_box(lat: float, lng: float, metres: float) -> dict:
    """ORM filters for a latitude/longitude box at least ``metres`` each way around a point: the cheap,
    indexable prefilter before distance_km decides."""
    import math

    dlat = metres / 111_320
    dlng = dlat / max(math.cos(math.radians(abs(lat))), 0.1)
    return {"lat__range": (lat - dlat, lat + dlat), "lng__range": (lng - dlng, lng + dlng)}


def service_halls(*, near_region_code: str | None = None) -> list[tuple[Unit, float | None]]:
    """Every active service hall with its distance from a region's centre, nearest first."""
    halls = list(Unit.objects.filter(kind="service_hall", active=True).select_related("region").order_by("region__path"))
    origin = None
    if near_region_code:
        region = hierarchy().region(near_region_code)
        row = Region.objects.filter(pk=region.id).values_list("lat", "lng").first()
        if row and row[0] is not None:
            origin = row
    out = []
    for hall in halls:
        lat, lng = (hall.lat, hall.lng) if hall.lat is not None else (hall.region.lat, hall.region.lng)
        d = distance_km(origin[0], origin[1], lat, lng) if origin and lat is not None else None
        out.append((hall, d))
    if origin:
        out.sort(key=lambda pair: (pair[1] is None, pair[1] or 0))
    return out


def communities() -> list[RegionInfo]:
    h = hierarchy()
    return sorted((r for r in h.regions.values() if r.level == "community"), key=lambda r: r.path)


def region_outlines(*, level: str = "grid") -> list[dict]:
    """GeoJSON features of the regions of a level that have a boundary (for maps without tiles)."""
    return [
        {"type": "Feature", "properties": {"name": name, "code": code}, "geometry": boundary}
        for code, name, boundary in Region.objects.filter(level=level, boundary__isnull=False)
        .order_by("path").values_list("code", "name", "boundary")
    ]


def login_username(typed: str) -> str:
    """The username a password login is checked (and throttled) against. A resident who signed up has a
    random username, so their mobile number stands for it: a mainland mobile number that is nobody's
    username means the one active resident account with that number. Otherwise, or when several
    accounts share the number, what was typed, which then fails as any wrong login does (the same
    message: the page does not tell which numbers have accounts)."""
    typed = (typed or "").strip()
    number = re.sub(r"[\s\-]", "", typed).removeprefix("+86")
    if not re.fullmatch(r"1[3-9]\d{9}", number) or get_user_model().objects.filter(username=typed).exists():
        return typed
    usernames = list(Resident.objects.filter(phone=number, user__isnull=False, user__is_active=True)
                     .values_list("user__username", flat=True)[:2])
    return usernames[0] if len(usernames) == 1 else typed
