"""Command-centre API: the dispatch board's tabs, bulk dispatch and 智能派单's suggestions.
Thin over selectors/services."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from yiwang.cases import routing
from yiwang.command import selectors, services
from yiwang.core import idnumber
from yiwang.core.errors import PermissionDenied, ValidationFailed
from yiwang.core.schemas import Input
from yiwang.org.selectors import request_viewer

router = Router(tags=["command"])


class ScoredOut(Schema):
    code: str
    name: str
    probability: float = Field(..., description="the model's probability, 0..1")


class SmartOut(Schema):
    model_version: int
    category: ScoredOut | None = Field(None, description="the category the report's words suggest")
    unit: ScoredOut | None = Field(None, description="the unit the report's words and place suggest")


def _scored(pairs) -> list[ScoredOut]:
    return [ScoredOut(code=item.code, name=item.name, probability=round(p, 4)) for item, p in pairs]


def _smart(suggestion) -> SmartOut | None:
    if suggestion is None:
        return None
    return SmartOut(model_version=suggestion.model.id, category=next(iter(_scored(suggestion.categories[:1])), None),
                    unit=next(iter(_scored(suggestion.units[:1])), None))


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
    suggested_unit: str | None = Field(
        None, description="按类别: code of the nearest unit of the category's dispatch kind (a fixed rule)")
    smart: SmartOut | None = Field(
        None, description="智能: the trained model's category and unit with their probabilities (none without a model)")
    likely_duplicates: list[str] = Field(default_factory=list)


class BoardOut(Schema):
    tab: str
    counts: dict[str, int]
    cases: list[BoardCaseOut]


class DispatchItem(Input):
    id: int
    version: int


class DispatchIn(Input):
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
    cases = list(selectors.board_cases(viewer, tab, matter_code=matter, off_grid=off_grid))
    smart = selectors.smart_suggestions(cases) if tab in ("reported", "registered") else {}
    for case in cases:
        suggestion = routing.case_dispatch_suggestion(case) if tab in ("reported", "registered") else None
        out.append(BoardCaseOut(
            # A title is typed by the reporter: its ID numbers masked, as the case API shows it.
            number=case.number, title=idnumber.mask_text(case.title, phones=False), category=case.matter.code,
            state=case.state,
            region=case.region.code, off_grid=case.off_grid, warning_level=case.warning_level,
            version=case.version, due_at=case.due_at, lat=case.lat, lng=case.lng,
            suggested_unit=suggestion.unit.code if suggestion else None, smart=_smart(smart.get(case.pk)),
            likely_duplicates=[case.likely_duplicate_of.number] if case.likely_duplicate_of else []))
    return BoardOut(tab=tab, counts=selectors.board_counts(viewer), cases=out)


@router.post("/command/dispatch", response=list[DispatchResultOut], summary="Register if needed and dispatch, in bulk")
def dispatch(request, payload: DispatchIn):
    """Each case moves in its own transaction; the answer lists every case's outcome."""
    viewer = _operator(request)
    results = services.bulk_dispatch(viewer=viewer, items=[(c.id, c.version) for c in payload.cases],
                                     unit_code=payload.unit_code)
    return [DispatchResultOut(id=r.case_id, ok=r.ok, number=r.number, message=r.message, field=r.field)
            for r in results]


class SuggestIn(Input):
    text: str = Field(..., description="the report's words (title and description)")
    region_code: str | None = Field(None, max_length=40, description="where it happened, if known: helps the unit")


class ModelOut(Schema):
    version: int
    created_at: dt.datetime
    trained_on: int


class SuggestOut(Schema):
    model: ModelOut | None = Field(None, description="the model that answered; null while none is trained")
    categories: list[ScoredOut]
    units: list[ScoredOut] = Field(..., description="among the units the caller could hand a case to")


@router.post("/dispatch/suggest", response=SuggestOut, summary="智能派单: the top 3 categories and units for a text")
def suggest(request, payload: SuggestIn):
    viewer = request_viewer(request)
    if not viewer.is_staff_member:
        raise PermissionDenied(_("仅限工作人员。"))
    found = selectors.suggest_for_text(viewer, text=payload.text, region_code=payload.region_code)
    if found is None:
        return SuggestOut(model=None, categories=[], units=[])
    m = found.model
    return SuggestOut(model=ModelOut(version=m.id, created_at=m.created_at, trained_on=m.trained_on),
                      categories=_scored(found.categories), units=_scored(found.units))
