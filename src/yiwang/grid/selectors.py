"""Reads of grids and their basic data, every one scoped to the viewer through org.selectors.scope_q."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.cases.models import Case, Kind
from yiwang.core import idnumber
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.grid.models import Building, Camera, Household, HouseholdMember, Organisation
from yiwang.org.models import Level, Region, Resident, Role
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy, scope_q

FLAGS = ("elderly_alone", "low_income", "poverty")


def _by_path(viewer: Viewer, path_field: str = "region_path") -> Q:
    """Basic data is placed, never held or applied for: only the region half of the scoping rule applies."""
    return scope_q(viewer, path_field=path_field, holder_field=None, resident_field=None)


def grid_queryset(viewer: Viewer) -> QuerySet[Region]:
    return Region.objects.filter(_by_path(viewer, "path"), level=Level.GRID)


def grid_list(*, viewer: Viewer, community_code: str | None = None) -> list[Region]:
    qs = grid_queryset(viewer).select_related("parent")
    if community_code:
        community = hierarchy().region(community_code)
        if community.level != Level.COMMUNITY:
            raise ValidationFailed(_("%(name)s 不是村/社区。") % {"name": community.name}, field="community")
        qs = qs.filter(parent_id=community.id)
    return list(qs.order_by("path"))


def grid_get(*, viewer: Viewer, code: str) -> Region:
    grid = grid_queryset(viewer).select_related("parent").filter(code=code).first()
    if grid is None:
        raise NotFound(_("没有找到网格 %(code)s，或您无权查看。") % {"code": code}, field="code")
    return grid


def grid_info(*, viewer: Viewer, code: str) -> RegionInfo:
    """grid_get's grid and refusal from the cached hierarchy, without its row: what a report needs."""
    h = hierarchy()
    grid = h.regions.get(h.region_by_code.get(code, -1))
    if grid is None or grid.level != Level.GRID or not viewer.can_see_path(grid.path):
        raise NotFound(_("没有找到网格 %(code)s，或您无权查看。") % {"code": code}, field="code")
    return grid


def my_grids(*, viewer: Viewer) -> list[Region]:
    """The grids a viewer keeps: a grid worker's assigned grids, else every grid of their units'
    regions; for other staff, every grid they may see (the read-only view)."""
    assigned = list(grid_queryset(viewer).filter(assignments__user_id=viewer.user_id).select_related("parent")
                    .order_by("path")) if viewer.user_id else []
    if assigned:
        return assigned
    worker_paths = [m.region_path for m in viewer.memberships if m.role == Role.GRID_WORKER]
    if worker_paths:
        q = Q(pk__in=[])
        for path in worker_paths:
            q |= Q(path__startswith=path)
        return list(Region.objects.filter(q, level=Level.GRID).select_related("parent").order_by("path"))
    return grid_list(viewer=viewer)


@dataclass
class GridCounts:
    households: int = 0
    residents: int = 0
    elderly_alone: int = 0
    low_income: int = 0
    poverty: int = 0
    buildings: int = 0
    organisations: int = 0
    open_incidents: int = 0

    @property
    def vulnerable(self) -> int:
        return self.elderly_alone + self.low_income + self.poverty


def grid_counts(*, viewer: Viewer, grids: list[Region]) -> dict[int, GridCounts]:
    """Per grid: households, residents (by vulnerability flag), buildings, organisations, open incidents.

    A handful of grouped queries whatever the number of grids, so a town's leader can list them all.
    """
    out = {g.id: GridCounts() for g in grids}
    ids = list(out)
    for model, attr in ((Household, "households"), (Building, "buildings"), (Organisation, "organisations")):
        for grid_id, n in (model.objects.filter(_by_path(viewer), grid_id__in=ids).values_list("grid_id")
                           .annotate(n=Count("id")).order_by()):
            setattr(out[grid_id], attr, n)
    members = (HouseholdMember.objects.filter(_by_path(viewer, "household__region_path"), household__grid_id__in=ids)
               .values_list("household__grid_id")
               .annotate(n=Count("id"), **{f: Count("id", filter=Q(**{f"resident__{f}": True})) for f in FLAGS})
               .order_by())
    for grid_id, n, *flags in members:
        out[grid_id].residents = n
        for name, value in zip(FLAGS, flags, strict=True):
            setattr(out[grid_id], name, value)
    # Grids are the lowest level, so a case in a grid has exactly the grid's path.
    by_path = {g.path: g.id for g in grids}
    for path, n in (Case.objects.filter(scope_q(viewer), kind=Kind.INCIDENT, closed_at__isnull=True,
                                        region_path__in=list(by_path))
                    .values_list("region_path").annotate(n=Count("id")).order_by()):
        out[by_path[path]].open_incidents = n
    return out


@dataclass(frozen=True)
class VulnerableResident:
    name: str
    id_number_masked: str
    phone_masked: str
    address: str
    relation: str
    flags: tuple[str, ...]  # labels: 独居老人, 低保, 贫困户
    resident_id: int  # what a recorded reveal of the full number names (grid.services.resident_reveal_id)


def vulnerable_residents(*, viewer: Viewer, grid: Region, limit: int = 200) -> list[VulnerableResident]:
    """Residents of a grid's households who need visits, ID numbers and phones masked."""
    labels = {f: str(Resident._meta.get_field(f).verbose_name) for f in FLAGS}
    rows = (HouseholdMember.objects.filter(_by_path(viewer, "household__region_path"), household__grid=grid)
            .filter(Q(resident__elderly_alone=True) | Q(resident__low_income=True) | Q(resident__poverty=True))
            .select_related("resident", "household").order_by("household__address", "resident__name")[:limit])
    return [
        VulnerableResident(
            name=m.resident.name, id_number_masked=idnumber.mask(m.resident.id_number),
            phone_masked=idnumber.mask_phone(m.resident.phone),
            address=m.household.address or m.household.number, relation=m.get_relation_display(),
            flags=tuple(labels[f] for f in FLAGS if getattr(m.resident, f)), resident_id=m.resident_id,
        )
        for m in rows
    ]


def open_incidents(*, viewer: Viewer, grid: Region, limit: int = 50) -> list[Case]:
    """The grid's open incidents, the nearest deadline first."""
    return list(Case.objects.filter(scope_q(viewer), kind=Kind.INCIDENT, closed_at__isnull=True,
                                    region_path__startswith=grid.path)
                .select_related("matter").order_by("due_at", "id")[:limit])


def grid_feature(grid: Region) -> dict:
    parent = hierarchy().regions.get(grid.parent_id) if grid.parent_id else None
    return {"type": "Feature", "properties": {"code": grid.code, "name": grid.name,
                                              "parent": parent.code if parent else ""},
            "geometry": grid.boundary}


def grid_feature_collection(*, viewer: Viewer, community_code: str | None = None) -> dict:
    """Grid outlines as the GeoJSON FeatureCollection `yiwang grid import` reads back."""
    return {"type": "FeatureCollection",
            "features": [grid_feature(g) for g in grid_list(viewer=viewer, community_code=community_code)
                         if g.boundary]}


def camera_list(*, viewer: Viewer, grid: Region | None = None) -> list[Camera]:
    qs = Camera.objects.filter(_by_path(viewer)).select_related("grid", "owner_unit")
    if grid is not None:
        qs = qs.filter(grid=grid)
    return list(qs)


def household_of(resident: Resident, household_id: int | None) -> Household | None:
    """The household a resident belongs to: the one named, which must hold them (a field error on
    ``household`` otherwise), or else their first; None when they are in none. Party assistance pairs
    a member with a household from the grid's basic data (party depends on grid, not the reverse)."""
    if household_id is None:
        row = HouseholdMember.objects.filter(resident=resident).select_related("household").first()
        return row.household if row else None
    household = Household.objects.filter(pk=household_id, members__resident=resident).first()
    if household is None:
        raise ValidationFailed(_("该居民不属于所选的户。"), field="household")
    return household
