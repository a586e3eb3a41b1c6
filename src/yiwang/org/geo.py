"""Where a point lies: point → grid → community, from the grids' outlines.

The lookup lives in org, beside the regions it reads, because case routing (below the grid app in
the dependency order) needs it for every located report. One STRtree per process holds every
grid outline; it is rebuilt when the hierarchy changes (the "org.hierarchy" config version, which
every region write bumps), so a grid edited in one process is seen by all within the recheck time.

Coordinates are projected onto a local plane (longitude scaled by cos of the mean latitude) so
that "nearest" means nearest on the ground, not in raw degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, shape
from shapely.ops import unary_union
from shapely.strtree import STRtree

from yiwang.core.confcache import ConfigCache
from yiwang.org.models import Level, Region
from yiwang.org.selectors import RegionInfo, hierarchy

KM_PER_DEGREE = 111.32


@dataclass(frozen=True)
class Location:
    region: RegionInfo  # the grid when the point is in one, else the nearest community
    grid: RegionInfo | None
    community: RegionInfo | None
    off_grid: bool  # True: outside every grid, placed in the nearest community's queue
    distance_km: float = 0.0  # how far outside that community's outline (0 when inside a grid)


@dataclass
class GridIndex:
    scale: float  # cos(mean latitude): multiplies longitudes before any distance is taken
    grid_tree: STRtree | None
    grid_ids: list[int]
    grid_paths: list[str]
    community_tree: STRtree | None
    community_ids: list[int]

    def project(self, lat: float, lng: float) -> Point:
        return Point(lng * self.scale, lat)


def _load_index() -> GridIndex:
    h = hierarchy()
    rows = list(Region.objects.filter(boundary__isnull=False).values_list("id", "level", "boundary"))
    lats = [pt[1] for _, _, b in rows for pt in b["coordinates"][0]]
    scale = math.cos(math.radians(sum(lats) / len(lats))) if lats else 1.0

    def projected(geometry: dict):
        return shapely.transform(shape(geometry), lambda coords: coords * [scale, 1.0])

    grids: list[tuple[str, int, object]] = []
    outlines: dict[int, list] = {}
    for region_id, level, boundary in rows:
        geom = shapely.make_valid(projected(boundary))
        if level == Level.GRID:
            grids.append((h.regions[region_id].path, region_id, geom))
            parent = h.regions[region_id].parent_id
            if parent is not None:
                outlines.setdefault(parent, []).append(geom)
        elif level == Level.COMMUNITY:
            outlines.setdefault(region_id, []).append(geom)
    # A community without outlines is still a place: its centre point stands in for it.
    for region_id, lat, lng in Region.objects.filter(level=Level.COMMUNITY, lat__isnull=False,
                                                     lng__isnull=False).values_list("id", "lat", "lng"):
        outlines.setdefault(region_id, [Point(lng * scale, lat)])
    # Ties on a shared border go to the grid with the smallest path: a deterministic answer.
    grids.sort(key=lambda g: g[0])
    community_ids = sorted(outlines)
    return GridIndex(
        scale=scale,
        grid_tree=STRtree([g for _, _, g in grids]) if grids else None,
        grid_ids=[i for _, i, _ in grids],
        grid_paths=[p for p, _, _ in grids],
        community_tree=STRtree([unary_union(outlines[i]) for i in community_ids]) if community_ids else None,
        community_ids=community_ids,
    )


index_cache: ConfigCache[GridIndex] = ConfigCache("org.hierarchy", _load_index)


def grid_index() -> GridIndex:
    return index_cache.get()


def locate(lat: float, lng: float) -> Location | None:
    """The grid a point lies in (borders included), else the nearest community flagged off-grid.

    None only when the district has no outlines and no community centres at all.
    """
    index = grid_index()
    h = hierarchy()
    point = index.project(lat, lng)
    if index.grid_tree is not None:
        hits = index.grid_tree.query(point, predicate="intersects")
        if len(hits):
            grid = h.regions[index.grid_ids[int(min(hits))]]
            community = h.regions.get(grid.parent_id) if grid.parent_id else None
            return Location(region=grid, grid=grid, community=community, off_grid=False)
    if index.community_tree is None:
        return None
    nearest = index.community_tree.nearest(point)
    community = h.regions[index.community_ids[int(nearest)]]
    geom = index.community_tree.geometries[int(nearest)]
    distance = geom.distance(point) * KM_PER_DEGREE
    if distance == 0:
        # Inside a community's own outline but in none of its grids: still off-grid, distance 0.
        return Location(region=community, grid=None, community=community, off_grid=True)
    return Location(region=community, grid=None, community=community, off_grid=True,
                    distance_km=round(distance, 3))


def check_point(lat: object, lng: object) -> tuple[float, float]:
    """A latitude/longitude pair as floats, or ValidationFailed naming the bad field."""
    from django.utils.translation import gettext as _

    from yiwang.core.errors import ValidationFailed

    out = []
    for name, value, bound in (("lat", lat, 90), ("lng", lng, 180)):
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValidationFailed(_("坐标须为数字。"), field=name) from None
        if not math.isfinite(number) or abs(number) > bound:
            raise ValidationFailed(_("坐标超出范围。"), field=name)
        out.append(number)
    return out[0], out[1]
