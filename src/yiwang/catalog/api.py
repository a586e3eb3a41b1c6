from __future__ import annotations

from ninja import Router, Schema

from yiwang.catalog import selectors, services
from yiwang.catalog.models import Matter

router = Router(tags=["matters"])


class MatterOut(Schema):
    code: str
    name: str
    kind: str
    life_event: str
    handling_levels: list[str]
    responsible_unit_kind: str
    time_limit: int
    time_unit: str
    is_instant: bool
    version: int | None


class MatterDetail(MatterOut):
    statutory_limit: int
    materials: list[dict]
    form_schema: dict
    guide: str
    where: str
    fees: str
    legal_basis: str
    visits: int
    delivery: list[str]
    consult_phone: str
    complaint_phone: str


def _out(m: Matter) -> dict:
    d = {f: getattr(m, f) for f in MatterDetail.model_fields if f != "version"}
    d["version"] = m.current_version.number if m.current_version_id else None
    return d


@router.get("/matters", response=list[MatterOut], auth=None, summary="List matters (事项目录)")
def list_matters(request, kind: str | None = None, level: str | None = None, q: str | None = None):
    matters = selectors.matter_list(kind=kind, level=level, q=q, residents=True)
    if q and not matters and not kind and not level:
        services.search_miss_record(q)  # as the portal's search does: staff see what found nothing
    return [_out(m) for m in matters]


@router.get("/matters/{code}", response=MatterDetail, auth=None, summary="One matter with its guide (办事指南)")
def get_matter(request, code: str):
    return _out(selectors.matter_get(code, residents=True))
