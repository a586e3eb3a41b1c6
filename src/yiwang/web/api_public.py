"""The public figures and the public map in the API: /api/v1/public/figures and /public/incidents, no
login, in the OpenAPI document (docs/public-figures.md)."""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from yiwang.open311.selectors import public_map_incidents
from yiwang.web.public import figures_with_checkpoint

router = Router(tags=["public"])


class PublicRef(Schema):
    code: str
    name: str
    level: str


class PublicRegionRef(PublicRef):
    path: str  # what the checkpoint's tallies are keyed by


class PublicUnitRef(PublicRef):
    id: int | None  # what the checkpoint's tallies name the unit by


class Counted(Schema):
    """What every published row has: its closed cases and their rates (three decimals, as strings)."""

    closed: int
    on_time_rate: str | None
    ratings: int
    bad_reviews: int
    satisfaction_rate: str | None
    closed_at_community: int | None = None  # a region's only
    community_share: str | None = None


class MonthFigures(Counted):
    """One month: submitted in it (null for a unit), closed in it, its ratings and its rework rate."""

    month: str
    received: int | None
    incidents_closed: int
    incidents_reworked: int
    rework_rate: str | None


class Figures(Counted):
    """All time: every case received, open or closed."""

    received: int
    open: int


class ChildFigures(Figures):
    region: PublicRegionRef
    month: MonthFigures


class UnitFigures(Figures):
    unit: PublicUnitRef
    month: MonthFigures


class Month(Schema):
    month: str
    received: int
    closed: int


class CheckpointRef(Schema):
    number: int
    created_at: dt.datetime
    digest: str
    tallies_digest: str
    file_url: str
    figures_match: bool


class PublicFiguresOut(Schema):
    region: PublicRegionRef | None
    unit: PublicUnitRef | None
    computed_at: dt.datetime
    checkpoint: CheckpointRef | None
    figures: Figures
    children: list[ChildFigures]
    units: list[UnitFigures]
    months: list[Month]
    month: MonthFigures


@router.get("/public/figures", response=PublicFiguresOut, auth=None,
            summary="Published figures of a region (area to community) or a handling unit, by month")
def public_figures(request, region: str | None = None, unit: str | None = None, month: str | None = None):
    """The leaders' dashboard figures for anyone, over all time (``figures``) and for ``month``
    (YYYY-MM, default this month), of the kinds residents bring (no assistance pair, no rectification
    item): rates are percentages with three decimals as strings ("99.993"), null when there is nothing
    to rate.
    ``checkpoint`` is the newest signed checkpoint; ``figures_match`` says whether the tallies are still
    the ones it signed. An unknown region or unit (or a grid) is 404, a malformed month 422."""
    return figures_with_checkpoint(region=region, unit=unit, month=month)


class IncidentProperties(Schema):
    category: str
    category_name: str
    state: str
    state_label: str
    status: str
    reported_on: str
    text: str | None


class Point(Schema):
    type: str
    coordinates: list[float]


class IncidentFeature(Schema):
    type: str
    geometry: Point
    properties: IncidentProperties


class IncidentCollection(Schema):
    type: str
    cell_degrees: float
    closed_days: int
    features: list[IncidentFeature]


@router.get("/public/incidents", response=IncidentCollection, auth=None,
            summary="Open and recently closed incident reports as GeoJSON, located at their ~100 m cell")
def public_incidents(request):
    """Each report at the centre of its cell of ``cell_degrees`` (never where it was reported), with
    its category and state; ``text`` only when staff approved one for publication."""
    return public_map_incidents()
