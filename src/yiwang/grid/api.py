"""Grids over HTTP: outlines as GeoJSON, a grid's figures, data imports, camera alerts. Thin."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from yiwang.core.errors import ValidationFailed
from yiwang.core.schemas import BASE64, Input
from yiwang.grid import selectors, services
from yiwang.org.models import Level
from yiwang.org.selectors import hierarchy, request_viewer

router = Router(tags=["grid"])


class Geometry(Schema):
    type: str
    coordinates: list


class FeatureProperties(Schema):
    code: str
    name: str
    parent: str


class Feature(Schema):
    type: str
    properties: FeatureProperties
    geometry: Geometry


class FeatureCollection(Schema):
    type: str
    features: list[Feature]


@router.get("/grids", response=FeatureCollection, summary="Grid outlines the caller may see, as GeoJSON")
def grids(request, community: str | None = None):
    """The same FeatureCollection `yiwang grid export` writes; `community` narrows it to one community."""
    return selectors.grid_feature_collection(viewer=request_viewer(request), community_code=community)


class RowErrorOut(Schema):
    row: int
    column: str
    message: str


class ImportOut(Schema):
    kind: str
    total: int
    created: int
    updated: int
    households_created: int
    refused: int
    errors: list[RowErrorOut]


@router.post("/grids/imports", response=ImportOut,
             summary="Import residents/households, buildings or organisations from CSV or .xlsx")
def data_import(request, kind: Form[str], file: File[UploadedFile] = None, skip_bad: Form[bool] = False):
    """Any bad row refuses the whole file with 422 and a per-row report (`rows`), unless `skip_bad`:
    then the good rows are imported and the refused ones listed in `errors`."""
    if file is None:
        raise ValidationFailed(_("请选择要导入的 CSV 或 Excel 文件。"), field="file")
    report = services.data_import(viewer=request_viewer(request), kind=kind, filename=file.name or "",
                                  data=file.read(), skip_bad=skip_bad)
    return report.as_dict()


class AlertIn(Input):
    alert_id: str = Field(..., min_length=1, max_length=100, description="the integrator's id; a resend is a replay")
    category: str = Field(..., min_length=1, max_length=40, description="code of an incident matter (事件类别)")
    occurred_at: dt.datetime
    description: str = Field("", max_length=2000)
    snapshot: str | None = Field(None, max_length=7_000_000, description="JPEG or PNG, base64 (data: URL allowed)",
                                 json_schema_extra=BASE64)
    snapshot_url: str | None = Field(None, max_length=500, description="where the integrator keeps the picture")


class AlertOut(Schema):
    number: str
    state: str
    grid: str | None
    replayed: bool


@router.post("/cameras/{code}/alerts", response={200: AlertOut, 201: AlertOut},
             summary="A camera's alert opens an incident at the camera (idempotent by alert_id)")
def camera_alert(request, code: str, payload: AlertIn):
    created = services.camera_alert(
        viewer=request_viewer(request), camera_code=code, alert_id=payload.alert_id, category=payload.category,
        occurred_at=payload.occurred_at, description=payload.description, snapshot=payload.snapshot,
        snapshot_url=payload.snapshot_url,
    )
    case = created.case
    region = hierarchy().regions.get(case.region_id)
    grid = region.code if region and region.level == Level.GRID else None
    return Status(200 if created.replayed else 201,
                  {"number": case.number, "state": case.state, "grid": grid, "replayed": created.replayed})


class GridCountsOut(Schema):
    households: int
    residents: int
    elderly_alone: int
    low_income: int
    poverty: int
    buildings: int
    organisations: int
    open_incidents: int


class GridOut(Schema):
    code: str
    name: str
    community: str
    counts: GridCountsOut


# Declared last: "/grids/{code}" would otherwise swallow "/grids/imports".
@router.get("/grids/{code}", response=GridOut, summary="A grid's basic-data figures (人/地/事/物/组织)")
def grid_detail(request, code: str):
    viewer = request_viewer(request)
    grid = selectors.grid_get(viewer=viewer, code=code)
    counts = selectors.grid_counts(viewer=viewer, grids=[grid])[grid.id]
    return {"code": grid.code, "name": grid.name, "community": grid.parent.code if grid.parent else "",
            "counts": counts.__dict__}
