from __future__ import annotations

from ninja import Router, Schema

from yiwang.org.selectors import request_viewer
from yiwang.stats.selectors import dashboard_region, indicators

router = Router(tags=["indicators"])


class UnitIndicators(Schema):
    unit: str
    name: str
    level: str
    open: int
    closed: int
    on_time_rate: str | None


class RegionRef(Schema):
    code: str
    name: str


class IndicatorsOut(Schema):
    region: RegionRef | None
    cases: int
    open: int
    closed: int
    overdue_open: int
    by_state: dict[str, int]
    closed_by_level: dict[str, int]
    community_share: str | None
    on_time_rate: str | None
    average_handling_hours: float | None
    ratings: int
    bad_reviews: int
    satisfaction_rate: str | None
    by_unit: list[UnitIndicators]


@router.get("/indicators", response=IndicatorsOut, summary="Indicators for the caller's scope or one region in it")
def get_indicators(request, region: str | None = None):
    """Rates are percentages with three decimals as strings ("99.993"); null when there is nothing to rate.
    A region outside the caller's scope is answered 404, like an unknown one (as on the dashboard)."""
    viewer = request_viewer(request)
    if region:
        dashboard_region(viewer=viewer, region_code=region)
    return indicators(viewer=viewer, region_code=region)
