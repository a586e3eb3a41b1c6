"""Leaders' dashboard (领导驾驶舱): indicators of a region, drillable down the hierarchy, the list of
cases behind every figure, and Excel exports of both. Thin: the selectors compute, templates show."""

from __future__ import annotations

import datetime as dt
import math
from urllib.parse import urlencode

from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from yiwang.cases.deadlines import missed_deadline
from yiwang.core import clock, forms, pages
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.core.idnumber import mask_text
from yiwang.core.pagination import paginate
from yiwang.feedback.selectors import rating_label, tag_labels
from yiwang.org.decorators import staff_required
from yiwang.org.models import Level
from yiwang.org.selectors import hierarchy, request_viewer
from yiwang.stats import exports
from yiwang.stats import incidents as incident_stats
from yiwang.stats import selectors as stats
from yiwang.stats.public import parse_month

# Map zoom that shows a whole region of each level.
ZOOM = {Level.AREA: 10, Level.CITY: 11, Level.TOWN: 13, Level.COMMUNITY: 14, Level.GRID: 16}
CASES_PER_PAGE = 50


def _query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "", False)})


@staff_required
@require_safe
def dashboard(request):
    viewer = request_viewer(request)
    # Unknown, or outside the viewer's scope: the same answer for both.
    breakdown = pages.found(stats.region_breakdown, viewer=viewer, region_code=request.GET.get("region") or None)
    place = breakdown["place"]
    code = place.region.code if place.region else None
    figures = stats.indicators(viewer=viewer, region_code=code)
    trend = stats.weekly_trend(viewer=viewer, region_code=code, weeks=12)
    states = stats.state_counts(viewer=viewer, region_code=code)
    # A month's figures from the month tallies, by the same functions as the published ones.
    month_error = ""
    try:
        month = parse_month(request.GET.get("month") or None)
        if month > clock.today():
            raise ValidationFailed(_("月份不能晚于本月。"), field="month")
    except ValidationFailed as exc:
        month, month_error = clock.today().replace(day=1), exc.message
    in_month = stats.region_breakdown(viewer=viewer, region_code=code, month=month)
    month_figures = stats.indicators(viewer=viewer, region_code=code, month=month)
    cases_url = reverse("stats:cases")

    def href(**params) -> str:
        return f"{cases_url}?{_query(region=code, **params)}"

    trend_chart = {
        "weeks": [w["week"] for w in trend],
        "series": [
            {"name": _("提交"), "values": [w["submitted"] for w in trend],
             "hrefs": [href(week=w["week"]) for w in trend]},
            {"name": _("办结"), "values": [w["closed"] for w in trend],
             "hrefs": [href(week=w["week"], closed=1) for w in trend]},
        ],
    }
    state_chart = {
        "labels": [f"{s['kind_label']}·{s['label']}" for s in states],
        "values": [s["n"] for s in states],
        "hrefs": [href(kind=s["kind"], state=s["state"]) for s in states],
    }
    rows = [{**row, **_row_links(row)} for row in breakdown["rows"]]
    levels = dict(Level.choices)
    units = sorted(({**unit, "level_label": levels.get(unit["level"], "")} for unit in figures["by_unit"]),
                   key=lambda u: (-u["open"], -u["closed"], u["unit"]))
    month_units = sorted(({**unit, "level_label": levels.get(unit["level"], "")}
                          for unit in month_figures["by_unit"]),
                         key=lambda u: (-u["received"], -u["closed"], u["unit"]))
    context = {
        "place": place, "region": place.region, "rows": rows, "total": breakdown["total"], "units": units,
        "figures": figures, "trend": trend, "states": states, "region_query": _query(region=code),
        "overdue": stats.overdue_cases(viewer=viewer, region_code=code, limit=20),
        "trend_chart": trend_chart, "state_chart": state_chart,
        "map_config": _map_config(place, breakdown["rows"], viewer=viewer),
        "now": clock.now(), "month": month.strftime("%Y-%m"), "month_error": month_error,
        "month_rows": [{**row, **_row_links(row)} for row in in_month["rows"]], "month_total": in_month["total"],
        "month_units": month_units, "month_query": _query(region=code, month=month.strftime("%Y-%m")),
    }
    return render(request, "stats/dashboard.html", context, status=422 if month_error else 200)


def _row_links(row: dict) -> dict:
    """A breakdown row's name, where it drills down to, and the case-list query behind its figures."""
    region = row["region"]
    if row["key"] == stats.ELSEWHERE:  # held by the viewer's units outside their regions: no region to filter by
        return {"name": _("本单位在辖区外承办"), "level_label": "", "drill": None, "query": None}
    if row["key"] == stats.OWN_LEVEL:
        return {"name": _("%(name)s(本级)") % {"name": region.name}, "level_label": "", "drill": None,
                "query": _query(region=region.code, direct=1)}
    return {"name": region.name, "level_label": Level(region.level).label, "drill": region.code,
            "query": _query(region=region.code)}


def _map_config(place: stats.DashboardRegion, rows: list[dict], *, viewer) -> dict | None:
    """Leaflet config for web/map.js: open incidents in red — each one on a town's or a community's
    map, counted per community on a new city's or the area's (stats.CLUSTERED_LEVELS) — and the child
    regions' centres in blue.

    Labels go in as text: web/static/web/map.js never lets Leaflet read them as HTML.
    """
    code = place.region.code if place.region else None
    shown = [*place.children, *([place.region] if place.region else [])]
    centres = stats.region_centres(shown)
    open_by_code = {row["key"]: row["open"] for row in rows}
    points = []
    for child in place.children:
        if child.code in centres:
            lat, lng = centres[child.code]
            label = _("%(name)s · 在办 %(n)s 件") % {"name": child.name, "n": open_by_code.get(child.code, 0)}
            points.append({"lat": lat, "lng": lng, "label": label, "color": "#0550ae",
                           "href": f"{reverse('stats:dashboard')}?{_query(region=child.code)}"})
    clustered = place.region is None or place.region.level in stats.CLUSTERED_LEVELS
    if clustered:
        clusters = stats.open_incident_clusters(viewer=viewer, region_code=code)
        cases_url = reverse("stats:cases")
        for cluster in clusters:
            label = _("%(name)s · 在办事件 %(n)s 件") % {"name": cluster.region.name, "n": cluster.n}
            # The circle's area follows the count, within 6 to 24 px of radius.
            points.append({"lat": cluster.lat, "lng": cluster.lng, "label": label,
                           "radius": min(24, round(6 * (1 + cluster.n / 10) ** 0.5)),
                           "href": f"{cases_url}?{_query(region=cluster.region.code, kind='incident', open=1)}"})
        incidents = sum(cluster.n for cluster in clusters)
    else:
        located = stats.open_incident_points(viewer=viewer, region_code=code)
        # Up to 2,000 incidents: the URL is reversed once, not per point (reverse() was a third of the page).
        case_url = reverse("web:work_case", args=["NUMBER"])
        for point in located:
            points.append({"lat": point.lat, "lng": point.lng,
                           "label": f"{point.number} {mask_text(point.title, phones=False)}",
                           "href": case_url.replace("NUMBER", point.number)})
        incidents = len(located)
    if points:
        center, zoom = _fit(points)
    elif place.region is not None and place.region.code in centres:
        center, zoom = list(centres[place.region.code]), ZOOM.get(place.region.level, 11)
    else:
        return None
    return {"center": center, "zoom": zoom, "points": points, "incidents": incidents, "clustered": clustered}


def _fit(points: list[dict], width: int = 800, height: int = 300) -> tuple[list[float], int]:
    """Centre and zoom that show every point on a map about width × height pixels (web Mercator)."""
    lats, lngs = [p["lat"] for p in points], [p["lng"] for p in points]
    center = [(min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2]
    # At zoom z the world is 256·2^z pixels wide; a degree of latitude is ~1/cos(lat) longer there.
    span_lng = max(max(lngs) - min(lngs), 1e-4)
    span_lat = max((max(lats) - min(lats)) / math.cos(math.radians(center[0])), 1e-4)
    fit = min(width * 360 / (256 * span_lng), height * 360 / (256 * span_lat))
    return center, max(5, min(16, math.floor(math.log2(fit))))


def _filters(query) -> stats.FigureFilters:
    """The list's filters from the query; ValidationFailed for a malformed month."""
    def flag(name: str) -> bool:
        return query.get(name) == "1"

    return stats.FigureFilters(
        region_code=query.get("region") or None, direct=flag("direct"), kind=query.get("kind") or None,
        state=query.get("state") or None, open=flag("open"), closed=flag("closed"), overdue=flag("overdue"),
        late=flag("late"), level=query.get("level") or None, unit_code=query.get("unit") or None,
        week=query.get("week") or None, rating=query.get("rating") or None,
        month=parse_month(query["month"]) if query.get("month") else None, received=flag("received"),
    )


def _describe(filters: stats.FigureFilters, place: stats.DashboardRegion) -> list[str]:
    """The filters in words, for the list's heading."""
    labels = stats.state_labels()
    out = [place.region.name + (_("(本级)") if filters.direct else "") if place.region else _("全部辖区")]
    if filters.kind and filters.state:
        out.append(labels.get((filters.kind, filters.state), filters.state))
    elif filters.state:
        out.append(filters.state)
    if filters.week:
        out.append((_("%(w)s 办结") if filters.closed else _("%(w)s 提交")) % {"w": filters.week})
    if filters.month:
        month = filters.month.strftime("%Y-%m")
        out.append(_("%(m)s 评价") % {"m": month} if filters.rating else
                   _("%(m)s 办结") % {"m": month} if filters.closed or filters.late or filters.level else
                   _("%(m)s 提交") % {"m": month})
    for on, text in [
        (filters.open, _("在办")), (filters.closed and not filters.week, _("已办结")), (filters.overdue, _("超期")),
        (filters.late, _("超期办结")), (filters.rating == "any", _("已评价")), (filters.rating == "bad", _("差评")),
        (filters.rating == "good", _("好评")),
    ]:
        if on:
            out.append(text)
    if filters.level in Level.values:
        out.append(_("%(level)s办结") % {"level": Level(filters.level).label})
    if filters.unit_code:
        name = hierarchy().unit(filters.unit_code).name
        out.append(_("%(unit)s首次受理") % {"unit": name} if filters.received else name)
    return out


def _list_order(filters: stats.FigureFilters) -> str:
    if filters.overdue:
        return "due_at"
    if filters.closed or filters.late or filters.level:
        return "-closed_at"
    return "-created_at"


@staff_required
@require_safe
def cases(request):
    """The cases behind a dashboard figure, keyset-paged, with an Excel export of the same filters."""
    viewer = request_viewer(request)
    params = request.GET.copy()
    params.pop("cursor", None)
    try:
        filters = _filters(request.GET)
        place = stats.dashboard_region(viewer=viewer, region_code=filters.region_code)
        qs = stats.figure_cases(viewer=viewer, filters=filters)
        page = paginate(qs.select_related("matter", "holder_unit", "evaluation"), order=_list_order(filters),
                        cursor=request.GET.get("cursor"), limit=CASES_PER_PAGE)
    except NotFound:
        raise
    except DomainError as exc:  # a malformed filter or cursor: say which
        return render(request, "stats/cases.html", {"error": exc.message}, status=400)
    labels = stats.state_labels()
    now = clock.now()
    rows = [(c, labels.get((c.kind, c.state), c.state), missed_deadline(c, now), _rating_of(c)) for c in page.items]
    context = {
        "place": place, "region": place.region, "total": qs.count(), "rows": rows, "page": page,
        "description": _describe(filters, place), "query": params.urlencode(),
        "dashboard_query": _query(region=place.region.code if place.region else None,
                                  month=filters.month.strftime("%Y-%m") if filters.month else None),
    }
    return render(request, "stats/cases.html", context)


def _rating_of(case) -> dict | None:
    """The case's rating for the list: level, whether it is a 差评, its tags."""
    try:
        evaluation = case.evaluation
    except ObjectDoesNotExist:
        return None
    return {"label": rating_label(evaluation.rating), "bad": evaluation.is_bad,
            "tags": tag_labels(evaluation.tags), "comment": evaluation.comment}


@staff_required
@require_safe
def cases_export(request):
    """The same list as an .xlsx file (phone numbers masked)."""
    viewer = request_viewer(request)
    try:
        filters = _filters(request.GET)
        qs = stats.figure_cases(viewer=viewer, filters=filters)
    except NotFound:
        raise
    except DomainError as exc:
        return render(request, "stats/cases.html", {"error": exc.message}, status=400)
    name = f"{_('办件清单')}-{filters.region_code or _('全部')}-{clock.today():%Y%m%d}.xlsx"
    return FileResponse(exports.cases_workbook(qs), as_attachment=True, filename=name,
                        content_type=exports.XLSX)


@staff_required
@require_safe
def breakdown_export(request):
    """The drill-down table of one region as an .xlsx file."""
    breakdown = pages.found(stats.region_breakdown, viewer=request_viewer(request),
                            region_code=request.GET.get("region") or None)
    region = breakdown["place"].region
    name = f"{_('分区域指标')}-{region.code if region else _('全部')}-{clock.today():%Y%m%d}.xlsx"
    return FileResponse(exports.region_workbook(breakdown), as_attachment=True, filename=name,
                        content_type=exports.XLSX)


PERIODS = (7, 30, 90, 365)


@staff_required
@require_safe
def incidents(request):
    """事件运行指标 (GB/T 30428): the closed loop's figures for a period, per unit, per grid, hotspots."""
    viewer = request_viewer(request)
    place = pages.found(stats.dashboard_region, viewer=viewer, region_code=request.GET.get("region") or None)
    days = forms.integer(request.GET.get("days"), "days", default=30)
    days = days if days in PERIODS else 30
    end = clock.now()
    start = end - dt.timedelta(days=days)
    figures = incident_stats.incident_indicators(viewer=viewer, start=start, end=end, region=place.region)
    categories = incident_stats.category_counts(viewer=viewer, start=start, end=end, region=place.region)
    cases_url = reverse("stats:cases")
    code = place.region.code if place.region else None
    category_chart = {
        "labels": [c["matter__name"] for c in categories], "values": [c["n"] for c in categories],
        "hrefs": [f"{cases_url}?{_query(region=code, kind='incident')}" for _c in categories],
    }
    points = incident_stats.hotspot_points(viewer=viewer, start=start, end=end, region=place.region)
    map_config = None
    if points:
        center, zoom = _fit(points)
        map_config = {"center": center, "zoom": zoom,
                      "points": [{**p, "color": "#b3261e"} for p in points]}
    return render(request, "stats/incidents.html", {
        "place": place, "region": place.region, "days": days, "periods": PERIODS, "figures": figures,
        "total": figures["total"], "categories": categories, "category_chart": category_chart,
        "map_config": map_config, "region_query": _query(region=code), "start": start, "end": end,
    })
