"""Public figures and the public map of incidents: pages without login (docs/public-figures.md).

The figures come from ``stats.public`` and the map from ``open311.selectors``; this module adds the
checkpoint they are stated against (``records``), which no app below the web layer may import.
"""

from __future__ import annotations

import math

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from yiwang.core import clock, pages
from yiwang.core.errors import DomainError, ValidationFailed
from yiwang.open311 import selectors as open311_selectors
from yiwang.open311 import services as open311_services
from yiwang.org.decorators import staff_required
from yiwang.org.selectors import request_viewer
from yiwang.stats import public as public_stats
from yiwang.web.forms import PublicTextForm

SNAPSHOT_CACHE_SECONDS = 60


def checkpoint_ref() -> dict | None:
    """The newest signed checkpoint, and whether the tallies the figures are summed from are still the
    ones it signed (then every figure can be re-added from its file); None before the first one.
    The digest is cached per data_version(), so it is recomputed only after a case or a rating moved."""
    try:
        from yiwang.records import checkpoints as records_checkpoints
        from yiwang.records.selectors import latest_checkpoint
    except ImportError:  # an installation without signed checkpoints (docs/checkpoints.md) states none
        return None

    cp = latest_checkpoint()
    if cp is None:
        return None
    key = f"yiwang:public:tallies-digest:{public_stats.data_version()}"
    digest = cache.get(key)
    if digest is None:
        digest = records_checkpoints.sha256(records_checkpoints.canonical(records_checkpoints.tallies_snapshot()))
        cache.set(key, digest, SNAPSHOT_CACHE_SECONDS)
    return {
        "number": cp.number, "created_at": cp.created_at, "digest": cp.digest,
        "tallies_digest": cp.tallies_digest, "file_url": reverse("checkpoint_file", args=[cp.number]),
        "figures_match": digest == cp.tallies_digest,
    }


def figures_with_checkpoint(*, region: str | None, unit: str | None, month: str | None) -> dict:
    figures = public_stats.public_figures(region_code=region, unit_code=unit, month=month)
    return {**figures, "computed_at": clock.now(), "checkpoint": checkpoint_ref()}


@require_safe
def figures_page(request: HttpRequest) -> HttpResponse:
    """公开数据: the published figures of a region (drillable to communities) or a unit, by month."""
    q = request.GET
    scope = {"region": q.get("region") or None, "unit": q.get("unit") or None}
    try:
        data, error = figures_with_checkpoint(**scope, month=q.get("month") or None), ""
    except ValidationFailed as exc:
        if exc.field != "month":
            raise
        # A bad month shows this month's figures, the refusal beside the month field (422).
        data, error = pages.found(figures_with_checkpoint, **scope, month=None), exc.message
    return render(request, "web/public/figures.html", {"data": data, "month": data["month"]["month"],
                                                       "month_error": error}, status=422 if error else 200)


def _fit(features: list[dict]) -> tuple[list[float], int]:
    if not features:
        return [34.33, 108.72], 11
    lngs = [f["geometry"]["coordinates"][0] for f in features]
    lats = [f["geometry"]["coordinates"][1] for f in features]
    centre = [(min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2]
    span = max(max(lngs) - min(lngs), max(lats) - min(lats), 1e-3)
    return centre, max(5, min(16, math.floor(math.log2(360 / span)) + 1))


@require_safe
def map_page(request: HttpRequest) -> HttpResponse:
    """公开事件地图: open and recently closed reports on a map, at the centre of their ~100 m cell."""
    data = open311_selectors.public_map_incidents()
    centre, zoom = _fit(data["features"])
    points = [{"lat": f["geometry"]["coordinates"][1], "lng": f["geometry"]["coordinates"][0],
               "label": f"{f['properties']['category_name']} · {f['properties']['state_label']}",
               "color": "#1a7f37" if f["properties"]["status"] == "closed" else "#b3261e"}
              for f in data["features"]]
    categories: dict[str, dict] = {}
    for f in data["features"]:
        p = f["properties"]
        row = categories.setdefault(p["category"], {"name": p["category_name"], "open": 0, "closed": 0})
        row[p["status"]] += 1
    return render(request, "web/public/map.html", {
        "features": data["features"][:200], "count": len(data["features"]), "closed_days": data["closed_days"],
        "categories": sorted(categories.values(), key=lambda r: -(r["open"] + r["closed"])),
        "map_config": {"center": centre, "zoom": zoom, "points": points},
    })


@staff_required(allow=open311_services.can_moderate)
@require_POST
def moderate(request: HttpRequest, number: str) -> HttpResponse:
    """Hide a report from the public map or set its public text, from the workbench's case page."""
    viewer = request_viewer(request)
    case = pages.found(open311_services.moderated_case, viewer=viewer, number=number)
    error = ""
    try:
        data = pages.cleaned(PublicTextForm(request.POST))
        open311_services.public_text_set(viewer=viewer, number=case.number, hidden=data["hidden"],
                                         text=data["text"])
    except DomainError as exc:
        error = exc.message
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        return HttpResponseRedirect(reverse("web:work_case", args=[case.number]), status=303)
    return render(request, "web/work/_public_moderation.html", {**moderation_context(case), "public_error": error})


def moderation_context(case) -> dict:
    """What the workbench's moderation partial shows for ``case``."""
    return {"case": case, "public_text": open311_selectors.public_text_of(case),
            "public_log": open311_selectors.public_text_log(case)}
