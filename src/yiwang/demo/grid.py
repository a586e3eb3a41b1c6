"""Demo basic data for the grids of an already-loaded demo: buildings, organisations, households made
of the demo's residents, vulnerability flags, and cameras. Written through grid.services.

Called by yiwang.demo.loader after the regions, units and residents exist; reproducible from ``rng``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable

from yiwang.core import clock
from yiwang.grid import services
from yiwang.grid.models import BuildingKind, OrganisationKind, Relation
from yiwang.org.models import Level, Region, Resident, Unit, UnitKind

ORGANISATIONS = (
    ("{c}便民超市", OrganisationKind.SHOP), ("{c}卫生室", OrganisationKind.OTHER),
    ("{c}幼儿园", OrganisationKind.SCHOOL), ("{c}志愿者服务队", OrganisationKind.SOCIAL),
    ("{c}老年协会", OrganisationKind.SOCIAL), ("西咸{c}物业服务有限公司", OrganisationKind.ENTERPRISE),
    ("{c}农家乐", OrganisationKind.SHOP), ("{c}果蔬专业合作社", OrganisationKind.ENTERPRISE),
)
RELATIONS = (Relation.SPOUSE, Relation.CHILD, Relation.CHILD, Relation.PARENT, Relation.GRANDCHILD)


def _box(grid: Region) -> tuple[float, float, float, float]:
    ring = grid.boundary["coordinates"][0]
    lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lats), min(lngs), max(lats), max(lngs)


def _inside(rng: random.Random, grid: Region) -> tuple[float, float]:
    south, west, north, east = _box(grid)
    margin_lat, margin_lng = (north - south) * 0.1, (east - west) * 0.1
    return (round(rng.uniform(south + margin_lat, north - margin_lat), 6),
            round(rng.uniform(west + margin_lng, east - margin_lng), 6))


def _camera_owner(grid: Region, units: dict[tuple[int, str], Unit], parents: dict[int, int | None]) -> Unit | None:
    """The nearest command centre up the grid's chain: it watches the video (视频监控) for its area."""
    region_id: int | None = grid.id
    while region_id is not None:
        unit = units.get((region_id, UnitKind.COMMAND_CENTRE))
        if unit is not None:
            return unit
        region_id = parents.get(region_id)
    return None


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add basic data to every grid with an outline; return how much of each was made."""
    made: dict[str, int] = defaultdict(int)
    parents = dict(Region.objects.values_list("id", "parent_id"))
    units = {(u.region_id, u.kind): u for u in Unit.objects.filter(active=True).order_by("id")}
    grids_of: dict[int, list[Region]] = defaultdict(list)
    for grid in Region.objects.filter(level=Level.GRID, boundary__isnull=False).select_related("parent").order_by("path"):
        grids_of[grid.parent_id].append(grid)
    residents_of: dict[int, list[Resident]] = defaultdict(list)
    for resident in Resident.objects.filter(region__level=Level.COMMUNITY).order_by("id"):
        residents_of[resident.region_id].append(resident)
    today = clock.today()

    for grids in grids_of.values():
        community = grids[0].parent
        village = community.name.endswith("村")
        buildings_of: dict[int, list] = {}
        number = 0
        for grid in grids:
            buildings = []
            for _ in range(rng.randint(3, 6)):
                number += 1
                lat, lng = _inside(rng, grid)
                name, floors = ((f"{number}组民居", rng.randint(1, 3)) if village
                                else (f"{number}号楼", rng.choice((6, 11, 18, 26))))
                buildings.append(services.building_save(grid=grid, name=name, address=f"{community.name}{name}",
                                                        kind=BuildingKind.RESIDENTIAL, floors=floors, lat=lat,
                                                        lng=lng))
            if rng.random() < 0.5:
                lat, lng = _inside(rng, grid)
                buildings.append(services.building_save(
                    grid=grid, name=f"{grid.name}综合服务楼", address=f"{community.name}党群服务中心旁",
                    kind=BuildingKind.PUBLIC, floors=3, lat=lat, lng=lng))
            buildings_of[grid.id] = buildings
            made["buildings"] += len(buildings)
            short = community.name.removesuffix("社区").removesuffix("村")
            if grid != grids[0]:
                short += grid.name.removesuffix("网格")  # 幸福里第二便民超市: one name per community
            for template, kind in rng.sample(ORGANISATIONS, rng.randint(2, 4)):
                services.organisation_save(
                    grid=grid, name=template.format(c=short),
                    kind=kind, contact=rng.choice("王李张刘陈杨赵") + rng.choice(("先生", "女士")),
                    phone=f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
                    address=f"{community.name}{rng.randint(1, 99)}号")
                made["organisations"] += 1
            owner = _camera_owner(grid, units, parents)
            if owner is not None:
                for n in range(rng.randint(1, 2)):
                    lat, lng = _inside(rng, grid)
                    services.camera_create(code=f"CAM-{grid.code}-{n + 1}",
                                           name=f"{community.name}{grid.name}{n + 1}号探头", lat=lat, lng=lng,
                                           owner_unit=owner)
                    made["cameras"] += 1

        # Households: residents of the community, a third of them joining an earlier household.
        members: dict[int, list[tuple[Resident, str]]] = defaultdict(list)
        households: list = []
        for resident in residents_of.get(community.id, []):
            if households and rng.random() < 0.35:
                household, relation = rng.choice(households), rng.choice(RELATIONS)
            else:
                grid = rng.choice(grids)
                household = services.household_create(grid=grid, address=resident.address or community.name,
                                                      number=f"{grid.code}-{len(households) + 1:04d}",
                                                      building=rng.choice(buildings_of[grid.id]))
                households.append(household)
                relation = Relation.HEAD
            services.household_member_set(household=household, resident=resident, relation=relation)
            members[household.id].append((resident, relation))
        made["households"] += len(households)
        for group in members.values():
            for resident, _relation in group:
                age = (today - resident.birth_date).days // 365 if resident.birth_date else 0
                flags = {"elderly_alone": len(group) == 1 and age >= 70 and rng.random() < 0.5,
                         "low_income": rng.random() < 0.05, "poverty": village and rng.random() < 0.04}
                made["residents"] += 1
                if any(flags.values()):
                    services.resident_flags_set(resident=resident, **flags)
                    made["vulnerable"] += 1
    log(f"  grid basic data: {made['households']} households ({made['residents']} residents, "
        f"{made['vulnerable']} in need of visits), {made['buildings']} buildings, "
        f"{made['organisations']} organisations, {made['cameras']} cameras")
    return dict(made)
