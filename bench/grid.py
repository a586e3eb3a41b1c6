#!/usr/bin/env python
"""Grid lookup benchmark: ``yiwang.org.geo.locate()`` (point → grid → community) against a brute-force loop.

One command (``.venv/bin/python bench/grid.py``):

1. builds a throw-away SQLite database in a temp dir (``yiwang migrate``), then, in this process (Django set up
   on that database), creates one district (area › city › town) with ~80 communities and ``--grids`` (1,000)
   grid regions through ``org.services.region_create`` in one transaction. The grids are the Voronoi cells of
   relaxed random seeds clipped to a 30 km × 30 km square around 34.4N 108.7E: convex, 6-12 vertices (edges
   split at their midpoint up to a random count, so neighbours still share their borders), tiling the square;
   each community is a contiguous cluster of ~12 grids;
2. draws ``--points`` (20,000) random points: ~90 % inside the square (so inside a grid), ~10 % in a band up to
   5 km outside it (outside every grid: ``locate`` answers the nearest community, off-grid);
3. times every lookup, one by one: ``locate()`` with its index warm; then the same points through a brute-force
   loop over every grid polygon in path order (prepared shapely ``intersects``, first hit wins, as ``locate``
   breaks ties on a shared border by the smallest path) and, for a point in no grid, the community of the
   polygon at the least projected distance; then the same brute force vectorised (informational);
4. CHECKS that both methods give the same grid for every inside point and the same community (and distance,
   to 2 m) for every outside point, lists any disagreement, and exits 1 if there is one;
5. times ``--edits`` grid edits (``region_update`` shrinking one grid's outline): the write, then the first
   ``locate()`` after it (which rebuilds the hierarchy and the STRtree), and each loader alone; then puts the
   outlines back and checks that every point gets its first answer again.

Nothing listens on any port. Results go to bench/results/grid-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, box, shape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    BenchError,
    bench_env,
    elapsed,
    environment,
    log,
    machine_busy_s,
    migrate,
    percentile,
    run_benchmark,
)

LAT0, LNG0 = 34.4, 108.7  # the centre of the district
SIDE_KM = 30.0  # the gridded square
OUTSIDE_KM = 5.0  # outside points lie up to this far from the square
OUTSIDE_SHARE = 0.10
KM_PER_DEGREE = 111.32  # as in yiwang.org.geo
GRIDS_PER_COMMUNITY = 12.5
DISTANCE_TOLERANCE_KM = 0.002


# ---------------------------------------------------------------------------------------------- geometry
# Generated on a local plane in km (x east, y north, origin at LAT0/LNG0), stored as [lng, lat].

KX = KM_PER_DEGREE * math.cos(math.radians(LAT0))  # km per degree of longitude at LAT0


def to_lnglat(x: float, y: float, digits: int = 7) -> list[float]:
    return [round(LNG0 + x / KX, digits), round(LAT0 + y / KM_PER_DEGREE, digits)]


def ring_to_geojson(coords: list[tuple[float, float]]) -> dict:
    ring: list[list[float]] = []
    for x, y in coords:
        p = to_lnglat(x, y)
        if not ring or p != ring[-1]:  # a sub-centimetre edge vanishes when rounded to 7 decimals
            ring.append(p)
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def make_cells(n: int, rng: random.Random) -> list[list[tuple[float, float]]]:
    """n convex cells tiling the square, as counter-clockwise rings of 6-12 vertices (not closed)."""
    half = SIDE_KM / 2
    square = box(-half, -half, half, half)
    seeds = np.array([(rng.uniform(-half, half), rng.uniform(-half, half)) for _ in range(n)])

    def cells_of(points: np.ndarray) -> list[Polygon]:
        diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=square.buffer(half))
        out = [shapely.intersection(c, square) for c in diagram.geoms]
        if len(out) != len(points):
            raise BenchError(f"the Voronoi diagram has {len(out)} cells for {len(points)} seeds")
        return out

    cells = cells_of(seeds)
    for _ in range(3):  # Lloyd relaxation: cells of more even size, as drawn grids are
        cells = cells_of(np.array([(c.centroid.x, c.centroid.y) for c in cells]))
    rings = []
    for cell in cells:
        ring = list(shapely.orient_polygons(cell).exterior.coords)[:-1]
        target = rng.randint(6, 12)
        while len(ring) < target:  # split the longest edge at its midpoint: the neighbour keeps the same line
            i = max(range(len(ring)), key=lambda k: math.dist(ring[k], ring[(k + 1) % len(ring)]))
            a, b = ring[i], ring[(i + 1) % len(ring)]
            ring.insert(i + 1, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
        rings.append(ring)
    return rings


def cluster(centres: list[tuple[float, float]], k: int, rng: random.Random) -> list[int]:
    """Contiguous communities: k-means over the grid centres, a few rounds; each grid's community index."""
    means = rng.sample(centres, k)
    label = [0] * len(centres)
    for _ in range(8):
        label = [min(range(k), key=lambda j, c=c: math.dist(c, means[j])) for c in centres]
        for j in range(k):
            members = [c for c, lab in zip(centres, label, strict=True) if lab == j]
            if members:
                means[j] = (sum(m[0] for m in members) / len(members), sum(m[1] for m in members) / len(members))
    return label


def make_points(n: int, rng: random.Random) -> list[tuple[float, float, bool]]:
    """(lat, lng, inside) at GPS precision (6 decimals, ~0.1 m)."""
    half = SIDE_KM / 2
    out = []
    for _ in range(n):
        if rng.random() >= OUTSIDE_SHARE:
            x, y, inside = rng.uniform(-half, half), rng.uniform(-half, half), True
        else:
            while True:
                x, y = rng.uniform(-half - OUTSIDE_KM, half + OUTSIDE_KM), rng.uniform(-half - OUTSIDE_KM,
                                                                                      half + OUTSIDE_KM)
                if max(abs(x), abs(y)) > half + 0.01:
                    break
            inside = False
        lng, lat = to_lnglat(x, y, 6)
        out.append((lat, lng, inside))
    return out


# ---------------------------------------------------------------------------------------------- in-process


def build_district(n_grids: int, rng: random.Random) -> dict:
    from django.db import transaction

    from yiwang.org.models import Level, Region
    from yiwang.org.services import region_create

    if Region.objects.exists():
        raise BenchError("the fresh database already holds regions: the bench expects an empty hierarchy")
    t0 = time.perf_counter()
    rings = make_cells(n_grids, rng)
    centres = [(sum(p[0] for p in r) / len(r), sum(p[1] for p in r) / len(r)) for r in rings]
    n_comm = max(1, min(99, round(n_grids / GRIDS_PER_COMMUNITY)))
    labels = cluster(centres, n_comm, rng)
    # Communities numbered west to east, south to north; grids within one likewise.
    comm_order = sorted(range(n_comm), key=lambda j: min((centres[i][1] // 3, centres[i][0])
                                                         for i in range(n_grids) if labels[i] == j))
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    grids = []
    with transaction.atomic():
        area = region_create(code="BG", name="基准新区", level=Level.AREA, lat=LAT0, lng=LNG0)
        city = region_create(code="BG-C", name="基准新城", level=Level.CITY, parent=area)
        town = region_create(code="BG-C-T", name="基准街道", level=Level.TOWN, parent=city)
        for cn, j in enumerate(comm_order, 1):
            members = [i for i in range(n_grids) if labels[i] == j]
            if not members:
                continue
            cx = sum(centres[i][0] for i in members) / len(members)
            cy = sum(centres[i][1] for i in members) / len(members)
            lng, lat = to_lnglat(cx, cy, 6)
            community = region_create(code=f"BG-C-T-{cn:03d}", name=f"基准社区{cn}", level=Level.COMMUNITY,
                                      parent=town, lat=lat, lng=lng)
            for gn, i in enumerate(sorted(members, key=lambda i: (centres[i][1] // 1, centres[i][0])), 1):
                grid = region_create(code=f"{community.code}-G{gn:02d}", name=f"基准社区{cn}第{gn}网格",
                                     level=Level.GRID, parent=community, boundary=ring_to_geojson(rings[i]))
                grids.append({"id": grid.id, "code": grid.code, "path": grid.path, "community": community.code,
                              "boundary": grid.boundary})
    create_s = time.perf_counter() - t0
    vertices = [len(g["boundary"]["coordinates"][0]) - 1 for g in grids]
    return {"grids": grids, "communities": len({g["community"] for g in grids}), "generate_s": gen_s,
            "create_s": create_s, "vertices": {"min": min(vertices), "max": max(vertices),
                                               "mean": round(statistics.fmean(vertices), 1)}}


class BruteForce:
    """Every grid polygon in path order; no index. The reference the check compares locate() with."""

    def __init__(self, grids: list[dict]):
        grids = sorted(grids, key=lambda g: g["path"])  # locate's tie rule: the smallest path wins
        self.codes = [g["code"] for g in grids]
        self.communities = [g["community"] for g in grids]
        self.polygons = [shape(g["boundary"]) for g in grids]  # lng/lat, for containment
        for p in self.polygons:
            shapely.prepare(p)
        # Distances on a local plane: longitudes scaled by cos(mean latitude of the outlines' vertices).
        lats = [pt[1] for g in grids for pt in g["boundary"]["coordinates"][0]]
        self.scale = math.cos(math.radians(sum(lats) / len(lats)))
        self.projected = [shapely.transform(p, lambda c: c * [self.scale, 1.0]) for p in self.polygons]
        self.polygon_array = np.array(self.polygons, dtype=object)
        self.projected_array = np.array(self.projected, dtype=object)
        shapely.prepare(self.polygon_array)

    def locate(self, lat: float, lng: float) -> tuple[str | None, str, float]:
        """(grid code or None, community code, distance km outside)."""
        point = Point(lng, lat)
        for i, polygon in enumerate(self.polygons):
            if polygon.intersects(point):
                return self.codes[i], self.communities[i], 0.0
        projected = Point(lng * self.scale, lat)
        best, best_d = 0, math.inf
        for i, polygon in enumerate(self.projected):
            d = polygon.distance(projected)
            if d < best_d:
                best, best_d = i, d
        return None, self.communities[best], round(best_d * KM_PER_DEGREE, 3)

    def locate_vectorised(self, lat: float, lng: float) -> tuple[str | None, str, float]:
        hits = np.flatnonzero(shapely.intersects(self.polygon_array, Point(lng, lat)))
        if len(hits):
            return self.codes[hits[0]], self.communities[hits[0]], 0.0
        d = shapely.distance(self.projected_array, Point(lng * self.scale, lat))
        best = int(np.argmin(d))
        return None, self.communities[best], round(float(d[best]) * KM_PER_DEGREE, 3)


def timed_pass(fn, points: list[tuple[float, float, bool]]) -> tuple[list, list[float], float, float]:
    """Answers, per-call microseconds, wall seconds and the other processes' CPU cores over the pass."""
    answers, us = [], []
    clock = time.perf_counter_ns
    busy0, own0, t0 = machine_busy_s(), time.process_time(), time.perf_counter()
    for lat, lng, _inside in points:
        a = clock()
        answer = fn(lat, lng)
        us.append((clock() - a) / 1000)
        answers.append(answer)
    wall = time.perf_counter() - t0
    other = max(0.0, machine_busy_s() - busy0 - (time.process_time() - own0)) / wall
    return answers, us, wall, other


def stats(name: str, us: list[float], wall: float, other: float, in_grid: list[bool]) -> dict:
    inside = [u for u, g in zip(us, in_grid, strict=True) if g] or [0.0]
    outside = [u for u, g in zip(us, in_grid, strict=True) if not g] or [0.0]
    return {"name": name, "n": len(us), "wall_s": round(wall, 3), "per_s": round(len(us) / wall),
            "p50_us": round(percentile(us, 50), 1), "p99_us": round(percentile(us, 99), 1),
            "max_us": round(max(us), 1), "mean_us": round(statistics.fmean(us), 1),
            "in_grid_p50_us": round(percentile(inside, 50), 1), "in_grid_p99_us": round(percentile(inside, 99), 1),
            "off_grid_p50_us": round(percentile(outside, 50), 1),
            "off_grid_p99_us": round(percentile(outside, 99), 1), "other_cores": round(other, 2)}


def summarise(loc) -> tuple[str | None, str | None, float]:
    if loc is None:
        return None, None, 0.0
    return (loc.grid.code if loc.grid else None, loc.community.code if loc.community else None, loc.distance_km)


def compare(points, got, want) -> list[dict]:
    bad = []
    for (lat, lng, inside), g, w in zip(points, got, want, strict=True):
        if w[0] is not None:  # the brute force found a grid: locate must name the same grid
            ok = g[0] == w[0] and g[1] == w[1]
        else:
            ok = g[0] is None and g[1] == w[1] and abs(g[2] - w[2]) <= DISTANCE_TOLERANCE_KM
        if not ok:
            bad.append({"lat": lat, "lng": lng, "drawn_inside": inside, "locate": g, "brute_force": w})
    return bad


def measure(args) -> dict:
    import django

    django.setup()
    from django.db import connection

    from yiwang.org import geo
    from yiwang.org.models import Region
    from yiwang.org.selectors import hierarchy_cache
    from yiwang.org.services import region_update

    rng = random.Random(args.seed)
    log(f"creating the district: {args.grids:,} grids through region_create in one transaction")
    district = build_district(args.grids, rng)
    log(f"  {district['communities']} communities, {len(district['grids'])} grids, vertices "
        f"{district['vertices']}; generated in {district['generate_s']:.1f} s, created in {district['create_s']:.1f} s")
    points = make_points(args.points, rng)
    n_inside = sum(p[2] for p in points)

    t0 = time.perf_counter()
    geo.locate(LAT0, LNG0)  # builds the hierarchy and the index
    cold_ms = (time.perf_counter() - t0) * 1000
    for lat, lng, _ in points[:200]:  # warm-up, not measured
        geo.locate(lat, lng)

    def via_locate(lat, lng):
        return summarise(geo.locate(lat, lng))

    log(f"timing locate() over {len(points):,} points ({n_inside:,} drawn inside the grids)")
    got, us, wall, other = timed_pass(via_locate, points)
    locate_us, locate_wall, locate_other = us, wall, other

    log("building the brute-force reference")
    brute = BruteForce(district["grids"])
    log(f"timing the brute-force loop over the same {len(points):,} points")
    want, us, wall, other = timed_pass(brute.locate, points)
    in_grid = [w[0] is not None for w in want]
    r_locate = stats("locate (STRtree)", locate_us, locate_wall, locate_other, in_grid)
    r_brute = stats("brute force, loop", us, wall, other, in_grid)
    results_vec = None
    if not args.no_vectorised:
        log("timing the vectorised brute force (informational)")
        vec, us, wall, other = timed_pass(brute.locate_vectorised, points)
        results_vec = stats("brute force, vectorised", us, wall, other, in_grid)
        if vec != want:
            raise BenchError("the two brute-force variants disagree: the bench's reference is wrong")

    bad = compare(points, got, want)
    off_grid = sum(1 for w in want if w[0] is None)

    log(f"timing {args.edits} grid edits (region_update) and the rebuild after each")
    edits = []
    by_id = {g["id"]: g for g in district["grids"]}
    for k in range(args.edits):
        g = by_id[rng.choice(list(by_id))]
        ring = g["boundary"]["coordinates"][0]
        cx = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        cy = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
        shrunk = {"type": "Polygon", "coordinates": [[[round(cx + (x - cx) * 0.98, 7), round(cy + (y - cy) * 0.98, 7)]
                                                      for x, y in ring]]}
        region = Region.objects.get(pk=g["id"])
        t0 = time.perf_counter()
        region_update(region=region, boundary=shrunk)
        t1 = time.perf_counter()
        geo.locate(*points[k][:2])  # the first lookup after the edit rebuilds the hierarchy and the index
        t2 = time.perf_counter()
        geo.locate(*points[k + 1][:2])
        t3 = time.perf_counter()
        hierarchy_cache.loader()
        t4 = time.perf_counter()
        geo.index_cache.loader()  # _load_index, with the hierarchy warm
        t5 = time.perf_counter()
        edits.append({"grid": g["code"], "update_ms": (t1 - t0) * 1000, "first_locate_ms": (t2 - t1) * 1000,
                      "next_locate_ms": (t3 - t2) * 1000, "hierarchy_load_ms": (t4 - t3) * 1000,
                      "index_build_ms": (t5 - t4) * 1000})
        region_update(region=region, boundary=g["boundary"])  # put it back
    rebuild = {key: {"median": round(statistics.median(e[key] for e in edits), 2),
                     "max": round(max(e[key] for e in edits), 2)}
               for key in ("update_ms", "first_locate_ms", "next_locate_ms", "hierarchy_load_ms", "index_build_ms")}

    log("checking every point again after the edits were undone")
    again = [via_locate(lat, lng) for lat, lng, _ in points]
    changed = [{"lat": p[0], "lng": p[1], "before": a, "after": b}
               for p, a, b in zip(points, got, again, strict=True) if a != b]

    return {
        "district": {k: v for k, v in district.items() if k != "grids"} | {"grids": len(district["grids"])},
        "points": {"n": len(points), "drawn_inside": n_inside, "off_grid": off_grid},
        "cold_first_locate_ms": round(cold_ms, 1),
        "locate": r_locate, "brute_force": r_brute, "brute_force_vectorised": results_vec,
        "speedup": round(r_locate["per_s"] / r_brute["per_s"], 1),
        "disagreements": bad, "rebuild": rebuild, "edits": edits, "changed_after_undo": changed,
        "sqlite": connection.Database.sqlite_version,
    }


# ---------------------------------------------------------------------------------------------- main


def report(r: dict, args) -> list[str]:
    loc, bf, vec = r["locate"], r["brute_force"], r["brute_force_vectorised"]
    d, p = r["district"], r["points"]
    out = [
        f"grid: locate() vs a brute-force loop, {d['grids']:,} grids in {d['communities']} communities "
        f"({d['vertices']['min']}-{d['vertices']['max']} vertices, mean {d['vertices']['mean']}), "
        f"{p['n']:,} points ({p['drawn_inside']:,} inside, {p['off_grid']:,} off-grid), seed {args.seed}, "
        f"{os.cpu_count()} CPUs",
        f"district created through region_create in {d['create_s']:.1f} s; first locate() on a cold process "
        f"{r['cold_first_locate_ms']} ms",
        "",
        f"{'method':<26}{'lookups/s':>10}{'ratio':>8}{'p50 / p99 us':>17}{'max us':>8}"
        f"{'in grid p50/p99':>18}{'off grid p50/p99':>19}",
    ]
    for row in (loc, bf, *((vec,) if vec else ())):
        out.append(f"{row['name']:<26}{row['per_s']:>10,}{row['per_s'] / bf['per_s']:>7.1f}x"
                   f"{row['p50_us']:>8} / {row['p99_us']:<6}{row['max_us']:>8.0f}"
                   f"{row['in_grid_p50_us']:>9} / {row['in_grid_p99_us']:<6}"
                   f"{row['off_grid_p50_us']:>10} / {row['off_grid_p99_us']:<6}")
    rb = r["rebuild"]
    out += [
        "",
        f"speed-up locate / brute-force loop: {r['speedup']}x (lookups/s)",
        f"after a grid edit ({args.edits} edits; median / max ms): region_update {rb['update_ms']['median']} / "
        f"{rb['update_ms']['max']}, first locate() (rebuild) {rb['first_locate_ms']['median']} / "
        f"{rb['first_locate_ms']['max']}, next locate() {rb['next_locate_ms']['median']} / {rb['next_locate_ms']['max']}",
        f"  of which: hierarchy reload {rb['hierarchy_load_ms']['median']} / {rb['hierarchy_load_ms']['max']}, "
        f"STRtree index build {rb['index_build_ms']['median']} / {rb['index_build_ms']['max']}",
        f"other processes used {max(x['other_cores'] for x in (loc, bf))} CPU cores while timing (should be ~0)",
    ]
    if max(x["other_cores"] for x in (loc, bf)) >= 0.2:
        out.append("WARNING: the machine was busy during the run: the figures are noisy, repeat before trusting them.")
    out.append("")
    bad = r["disagreements"]
    if bad:
        out.append(f"CHECK FAILED: {len(bad)} of {p['n']:,} points disagree (locate vs brute force):")
        out += [f"  {b['lat']}, {b['lng']} (drawn {'inside' if b['drawn_inside'] else 'outside'}): "
                f"locate {b['locate']}  brute force {b['brute_force']}" for b in bad[:20]]
    else:
        out.append(f"check: locate() and the brute force agree on all {p['n']:,} points "
                   f"(grid inside, community and distance outside)")
    if r["changed_after_undo"]:
        out.append(f"CHECK FAILED: {len(r['changed_after_undo'])} points answer differently after the edits were "
                   f"undone: {r['changed_after_undo'][:5]}")
    else:
        out.append("check: after the edits were undone, every point gets its first answer again")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, default=1000, help="grid regions, default 1,000")
    ap.add_argument("--points", type=int, default=20_000, help="random points looked up, default 20,000")
    ap.add_argument("--seed", type=int, default=20261127, help="random seed of the outlines and the points")
    ap.add_argument("--edits", type=int, default=5, help="grid edits timed for the rebuild, default 5")
    ap.add_argument("--no-vectorised", action="store_true", help="skip the vectorised brute force")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the database)")
    ap.add_argument("--no-json", action="store_true", help="do not write bench/results/grid-*.json")
    ap.add_argument("--budget", type=int, default=None, help="stop the run after this many seconds")
    args = ap.parse_args(argv)
    if args.grids < 13 or args.points < args.edits + 2 or args.edits < 1:
        ap.error("--grids must be >= 13, --edits >= 1, --points > --edits + 1")
    # ~1 s per 1,000 brute-force lookups at 1,000 grids on the 2-core machine, plus set-up.
    args.budget = args.budget or int(120 + args.points * args.grids / 1e6 * 3)
    return run_benchmark("grid", ap, args, lambda tmp: bench(args, tmp), budget=args.budget)


def bench(args, tmp: Path) -> tuple[dict, int]:
    env = bench_env(tmp / "grid.sqlite3", tmp)
    migrate(env)
    os.environ.update(env)  # Django is set up in this process, on that database
    r = measure(args)
    print()
    print("\n".join(report(r, args)))
    results = {
        "benchmark": "grid", "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {"grids": args.grids, "points": args.points, "seed": args.seed, "edits": args.edits,
                   "settings": os.environ.get("DJANGO_SETTINGS_MODULE")},
        "environment": environment(shapely=shapely.__version__, geos=shapely.geos_version_string), **r,
        "disagreements": r["disagreements"][:200], "elapsed_s": round(elapsed(), 1),
    }
    return results, 1 if r["disagreements"] or r["changed_after_undo"] else 0


if __name__ == "__main__":
    sys.exit(main())
