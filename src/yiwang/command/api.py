"""Command-centre API: the dispatch board's tabs and bulk dispatch. Thin over selectors/services."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from yiwang.command import selectors, services
from yiwang.core.errors import PermissionDenied, ValidationFailed
from yiwang.org.selectors import request_viewer

router = Router(tags=["command"])


class BoardCaseOut(Schema):
    number: str
    title: str
    category: str
    state: str
    region: str
    off_grid: bool
    warning_level: int
    version: int
    due_at: dt.datetime | None
    lat: float | None
    lng: float | None
    suggested_unit: str | None = Field(None, description="code of the unit the category and place suggest")
    likely_duplicates: list[str] = Field(default_factory=list)


class BoardOut(Schema):
    tab: str
    counts: dict[str, int]
    cases: list[BoardCaseOut]


class DispatchItem(Schema):
    id: int
    version: int


class DispatchIn(Schema):
    cases: list[DispatchItem] = Field(..., max_length=services.MAX_BULK)
    unit_code: str | None = Field(None, max_length=40, description="one unit for all; else each case's suggestion")


class DispatchResultOut(Schema):
    id: int
    ok: bool
    number: str = ""
    message: str = ""
    field: str | None = None


def _operator(request):
    viewer = request_viewer(request)
    if not selectors.command_units(viewer):
        raise PermissionDenied(_("仅限指挥中心指挥员。"))
    return viewer


@router.get("/command/board", response=BoardOut, summary="One tab of the dispatch board")
def board(request, tab: str = "reported", matter: str = "", off_grid: bool = False):
    viewer = _operator(request)
    if tab not in dict(selectors.TABS):
        raise ValidationFailed(_("tab 只能是 %(t)s 之一。") % {"t": ", ".join(dict(selectors.TABS))}, field="tab")
    out = []
    for case in selectors.board_cases(viewer, tab, matter_code=matter, off_grid=off_grid):
        suggestion = selectors.dispatch_suggestion(case) if tab in ("reported", "registered") else None
        duplicates = selectors.duplicate_candidates(viewer, case) if tab == "reported" else []
        out.append(BoardCaseOut(
            number=case.number, title=case.title, category=case.matter.code, state=case.state,
            region=case.region.code, off_grid=case.off_grid, warning_level=case.warning_level,
            version=case.version, due_at=case.due_at, lat=case.lat, lng=case.lng,
            suggested_unit=suggestion.unit.code if suggestion else None,
            likely_duplicates=[d.case.number for d in duplicates]))
    return BoardOut(tab=tab, counts=selectors.board_counts(viewer), cases=out)


@router.post("/command/dispatch", response=list[DispatchResultOut], summary="Register if needed and dispatch, in bulk")
def dispatch(request, payload: DispatchIn):
    """Each case moves in its own transaction; the answer lists every case's outcome."""
    viewer = _operator(request)
    results = services.bulk_dispatch(viewer=viewer, items=[(c.id, c.version) for c in payload.cases],
                                     unit_code=payload.unit_code)
    return [DispatchResultOut(id=r.case_id, ok=r.ok, number=r.number, message=r.message, field=r.field)
            for r in results]
