from __future__ import annotations

from ninja import Router, Schema

from yiwang.api import viewer_of
from yiwang.org import selectors

router = Router(tags=["organisation"])


class RegionOut(Schema):
    code: str
    name: str
    level: str
    path: str


class UnitOut(Schema):
    code: str
    name: str
    kind: str
    region_path: str


class MembershipOut(Schema):
    unit: str
    unit_name: str
    role: str


class MeOut(Schema):
    username: str
    is_superuser: bool
    resident_id: int | None
    roles: list[MembershipOut]


@router.get("/me", response=MeOut, summary="Who the caller is and in which units")
def me(request):
    v = viewer_of(request)
    h = selectors.hierarchy()
    roles = [
        {"unit": h.units[m.unit_id].code, "unit_name": h.units[m.unit_id].name, "role": m.role}
        for m in v.memberships if m.unit_id in h.units
    ]
    return {"username": v.username, "is_superuser": v.is_superuser, "resident_id": v.resident_id, "roles": roles}


@router.get("/regions", response=list[RegionOut], auth=None, summary="Regions under a parent (top level without one)")
def regions(request, parent: str | None = None):
    return [r.__dict__ for r in selectors.region_list(parent_code=parent)]


@router.get("/units", response=list[UnitOut], summary="Units the caller may hand a case to")
def units(request):
    return [u.__dict__ for u in selectors.units_reachable(viewer_of(request))]
