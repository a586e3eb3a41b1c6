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

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.strtree import STRtree

from yiwang.core.confcache import ConfigCache
from yiwang.org.models import Level, Region
from yiwang.org.selectors import RegionInfo

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
    """Everything a lookup needs, read in one query so it never disagrees with another cache."""

    scale: float  # cos(mean latitude): multiplies longitudes before any distance is taken
    regions: dict[int, RegionInfo]  # the grids and communities the index knows
    grid_tree: STRtree | None
    grid_ids: list[int]
    # Every place that belongs to a community — its grids, its own outline, or its centre point
    # when it has neither — so the nearest place names the nearest community.
    place_tree: STRtree | None
    place_community: list[int]

    def project(self, lat: float, lng: float) -> Point:
        return Point(lng * self.scale, lat)


def _polygons(boundaries: list[dict], scale: float) -> list:
    """GeoJSON Polygons to projected shapely polygons in one vectorised call.

    Outlines were validated when written (org.services), so there is no make_valid here: the
    index rebuild after a grid edit stays in milliseconds for a thousand grids.
    """
    if not boundaries:
        return []
    coords: list = []
    ring_offsets, polygon_offsets = [0], [0]
    for boundary in boundaries:
        for ring in boundary["coordinates"]:
            coords.extend(ring)
            ring_offsets.append(len(coords))
        polygon_offsets.append(len(ring_offsets) - 1)
    xy = np.asarray(coords, dtype=float) * (scale, 1.0)
    offsets = (np.asarray(ring_offsets, dtype=np.int64), np.asarray(polygon_offsets, dtype=np.int64))
    return list(shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy, offsets))


def _load_index() -> GridIndex:
    rows = list(Region.objects.filter(level__in=(Level.GRID, Level.COMMUNITY)).values_list(
        "id", "code", "name", "level", "parent_id", "path", "lat", "lng", "boundary"))
    lats = [pt[1] for row in rows if row[8] for pt in row[8]["coordinates"][0]]
    scale = math.cos(math.radians(sum(lats) / len(lats))) if lats else 1.0
    regions = {row[0]: RegionInfo(*row[:6]) for row in rows}
    # Ties on a shared border go to the grid with the smallest path: a deterministic answer.
    grids = sorted((row for row in rows if row[3] == Level.GRID and row[8]), key=lambda row: row[5])
    grid_geoms = _polygons([row[8] for row in grids], scale)
    places, owners = list(grid_geoms), [row[4] for row in grids]
    placed = set(owners)
    outlined = [row for row in rows if row[3] == Level.COMMUNITY and row[8]]
    places += _polygons([row[8] for row in outlined], scale)
    owners += [row[0] for row in outlined]
    for region_id, _c, _n, level, _p, _path, lat, lng, boundary in rows:
        if level == Level.COMMUNITY and not boundary and region_id not in placed and lat is not None:
            places.append(Point(lng * scale, lat))
            owners.append(region_id)
    return GridIndex(
        scale=scale, regions=regions,
        grid_tree=STRtree(grid_geoms) if grid_geoms else None, grid_ids=[row[0] for row in grids],
        place_tree=STRtree(places) if places else None, place_community=owners,
    )


index_cache: ConfigCache[GridIndex] = ConfigCache("org.hierarchy", _load_index)


def grid_index() -> GridIndex:
    return index_cache.get()


def locate(lat: float, lng: float) -> Location | None:
    """The grid a point lies in (borders included), else the nearest community flagged off-grid.

    None only when the district has no outlines and no community centres at all.
    """
    index = grid_index()
    point = index.project(lat, lng)
    if index.grid_tree is not None:
        hits = index.grid_tree.query(point, predicate="intersects")
        if len(hits):
            grid = index.regions[index.grid_ids[int(min(hits))]]
            community = index.regions.get(grid.parent_id) if grid.parent_id else None
            return Location(region=grid, grid=grid, community=community, off_grid=False)
    if index.place_tree is None:
        return None
    nearest = int(index.place_tree.nearest(point))
    community = index.regions[index.place_community[nearest]]
    distance = index.place_tree.geometries[nearest].distance(point) * KM_PER_DEGREE
    return Location(region=community, grid=None, community=community, off_grid=True,
                    distance_km=round(distance, 3))


def locate_many(points: list[tuple[float, float]]) -> list[Location | None]:
    """``[locate(lat, lng) for lat, lng in points]``, with one tree query for all of them: shapely's
    per-call overhead (a Point, a query, a nearest) is most of a single locate's cost (yiwang import
    locates a chunk of records at once)."""
    if not points:
        return []
    index = grid_index()
    xy = np.asarray(points, dtype=float)[:, ::-1] * (index.scale, 1.0)
    projected = shapely.points(xy)
    out: list[Location | None] = [None] * len(points)
    if index.grid_tree is not None:
        # Smallest tree index per point: the tie rule of locate (grids sorted by path).
        first: dict[int, int] = {}
        for i, g in zip(*index.grid_tree.query(projected, predicate="intersects").tolist(), strict=True):
            if i not in first or g < first[i]:
                first[i] = g
        for i, g in first.items():
            grid = index.regions[index.grid_ids[g]]
            community = index.regions.get(grid.parent_id) if grid.parent_id else None
            out[i] = Location(region=grid, grid=grid, community=community, off_grid=False)
    if index.place_tree is None:
        return out
    rest = [i for i, found in enumerate(out) if found is None]
    if rest:
        nearest = [int(n) for n in index.place_tree.nearest(projected[rest])]
        distances = shapely.distance(index.place_tree.geometries[nearest], projected[rest]) * KM_PER_DEGREE
        for i, n, distance in zip(rest, nearest, distances.tolist(), strict=True):
            community = index.regions[index.place_community[n]]
            out[i] = Location(region=community, grid=None, community=community, off_grid=True,
                              distance_km=round(distance, 3))
    return out


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
