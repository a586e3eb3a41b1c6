"""Parking pages for staff: zones with occupancy and the gate desk, violations and their penalties,
and the hotspot page for leaders and operators. Thin: reads in selectors, writes in services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.forms import Form
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.cases.attachments import photos_store
from yiwang.cases.workflows import workflow
from yiwang.core import forms, maps, pages
from yiwang.core.errors import DomainError
from yiwang.org.decorators import staff_required
from yiwang.org.models import Role
from yiwang.org.selectors import Viewer, region_outlines, request_viewer
from yiwang.parking import selectors, services
from yiwang.parking.forms import (
    VIOLATION_RENAME,
    AppealForm,
    DecideForm,
    GateForm,
    JudgeForm,
    PayForm,
    ViolationForm,
)
from yiwang.parking.models import AppealState, PaymentState, PlaceKind, Source
from yiwang.parking.selectors import HOTSPOT_ROLES

PERIODS = (7, 30, 90, 365)


@staff_required
@require_safe
def zones(request):
    """Zones with occupancy now, and the gate desk: enter or let out a vehicle (入场/出场)."""
    viewer = request_viewer(request)
    rows = selectors.zone_list(viewer=viewer)
    return render(request, "parking/zones.html", {
        "rows": rows, "sessions": selectors.recent_sessions(viewer=viewer, limit=20), "section": "zones",
    })


@staff_required
@require_POST
def gate(request):
    viewer = request_viewer(request)
    try:
        data = pages.cleaned(GateForm(request.POST))
        if data["direction"] == "exit":
            session = services.session_exit(viewer=viewer, zone_code=data["zone"], plate=data["plate"])
            messages.success(request, _("%(p)s 已出场，应收停车费 %(fee)s 元。") % {"p": session.plate, "fee": session.fee})
        else:
            session = services.session_enter(viewer=viewer, zone_code=data["zone"], plate=data["plate"],
                                             space_code=data["space"])
            messages.success(request, _("%(p)s 已入场。") % {"p": session.plate})
    except DomainError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("parking:zones"), status=303)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def violations(request):
    """Violations in the viewer's regions, newest first; staff record a new one here (巡查登记)."""
    viewer = request_viewer(request)
    errors: dict = {}
    if request.method == "POST":
        try:
            violation = _record(request, viewer)
        except DomainError as exc:
            # Refused, the form comes back with its input and the message beside the field (200, as ever).
            errors = pages.refused(request, exc)
        else:
            messages.success(request, _("已登记，案件编号 %(n)s。") % {"n": violation.case.number})
            return HttpResponseRedirect(reverse("parking:violation", args=[violation.pk]), status=303)
    filters = selectors.ViolationFilters(plate=request.GET.get("plate", "").strip().upper(),
                                         source=request.GET.get("source", ""),
                                         penalty=request.GET.get("penalty", ""))
    try:
        page = selectors.violation_list(viewer=viewer, filters=filters, cursor=request.GET.get("cursor") or None)
    except DomainError as exc:
        messages.error(request, exc.message)
        page = selectors.violation_list(viewer=viewer, filters=selectors.ViolationFilters())
    query = request.GET.copy()
    query.pop("cursor", None)
    map_config = {"center": maps.centre(), "zoom": 11, "pick": True,
                  "points": [], "outlines": region_outlines(level="grid")}
    return render(request, "parking/violations.html", {
        "page": page, "filters": filters, "query": query.urlencode(), "sources": Source.choices,
        "penalty_states": [("undecided", _("未处罚")), *PaymentState.choices], "errors": errors,
        "form": request.POST if request.method == "POST" else {}, "map_config": map_config,
        "idempotency_key": pages.form_key(request), "section": "violations",
    })


def _record(request, viewer):
    data = pages.cleaned(ViolationForm(request.POST, request.FILES), rename=VIOLATION_RENAME)
    photos = []
    if data["photo"] is not None:
        upload, _content_type, _ext = data["photo"]
        # Only the pixels are kept (no EXIF, no GPS), with a thumbnail, as for every incident's photos.
        photos = photos_store([upload], field="photo", name=_("现场照片"))
    return services.violation_record(
        viewer=viewer, plate=data["plate"], lat=data["lat"], lng=data["lng"], source=data["source"],
        address=data["address"], description=data["description"], photos=photos,
        idempotency_key=data["idempotency_key"])


@staff_required
@require_safe
def violation(request, violation_id: int):
    viewer = request_viewer(request)
    v = selectors.violation_get(viewer=viewer, violation_id=violation_id)  # NotFound: the site's 404 page
    penalty = getattr(v, "penalty", None)
    appeal = getattr(penalty, "appeal", None) if penalty else None
    return render(request, "parking/violation.html", {
        "v": v, "penalty": penalty, "appeal": appeal, "state": workflow("incident").states.get(v.case.state),
        "photos": [(i, m) for i, m in enumerate(v.case.materials) if m in v.photos],
        # Offer only what the services would allow this viewer; they check again on submit.
        "can_decide": penalty is None and v.case.state in ("dispatched", "acknowledged")
        and (viewer.is_superuser or bool(viewer.roles_in(v.case.holder_unit_id) & {Role.HANDLER, Role.OPERATOR})),
        "can_pay": penalty is not None and penalty.state == PaymentState.UNPAID
        and (appeal is None or appeal.state != AppealState.PENDING),
        "can_appeal": penalty is not None and appeal is None and penalty.state in (PaymentState.UNPAID, PaymentState.NONE),
        "can_judge": appeal is not None and appeal.state == AppealState.PENDING
        and penalty.decided_by_id != viewer.user_id and (viewer.is_superuser or bool(viewer.roles & HOTSPOT_ROLES)),
        "section": "violations",
    })


def _act(request, violation_id: int, form: type[Form],
         step: Callable[[Viewer, dict], object]) -> HttpResponseRedirect:
    """Take a step on the violation's penalty with the form's data; a bad field or a refusal is the
    message on the violation's page."""
    try:
        step(request_viewer(request), pages.cleaned(form(request.POST)))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已保存。"))
    return HttpResponseRedirect(reverse("parking:violation", args=[violation_id]), status=303)


@staff_required
@require_POST
def decide(request, violation_id: int):
    return _act(request, violation_id, DecideForm, lambda viewer, data: services.penalty_decide(
        viewer=viewer, violation_id=violation_id, note=data["note"]))


@staff_required
@require_POST
def pay(request, violation_id: int):
    return _act(request, violation_id, PayForm, lambda viewer, data: services.penalty_pay(
        viewer=viewer, penalty_id=data["penalty"], reference=data["reference"]))


@staff_required
@require_POST
def appeal(request, violation_id: int):
    return _act(request, violation_id, AppealForm, lambda viewer, data: services.appeal_file(
        viewer=viewer, penalty_id=data["penalty"], reason=data["reason"]))


@staff_required
@require_POST
def judge(request, violation_id: int):
    return _act(request, violation_id, JudgeForm, lambda viewer, data: services.appeal_decide(
        viewer=viewer, appeal_id=data["appeal"], outcome=data["outcome"], note=data["note"]))


@staff_required(allow=selectors.can_see_hotspots, refusal=gettext_lazy("仅限领导和指挥中心指挥员查看停车热点。"))
@require_safe
def hotspots(request):
    """Where and when 乱停车 gathers: map, weekday × hour heat table, grids, zones, tagged places."""
    viewer = request_viewer(request)
    days = forms.integer(request.GET.get("days"), "days", default=30)
    days = days if days in PERIODS else 30
    tag = request.GET.get("tag", "")
    tag = tag if tag in PlaceKind.values else ""
    filters = selectors.HotspotFilters.last_days(days, place_kind=tag)
    spots = selectors.hotspots(viewer=viewer, filters=filters)
    levels = max(spots.max_cell, 1)
    rows = [(hour, [(spots.heat[day][hour], _heat_class(spots.heat[day][hour], levels)) for day in range(7)],
             spots.by_hour[hour]) for hour in range(24)]
    points = [{**p, "color": "#b3261e"} for p in spots.points]
    points += [{"lat": p.lat, "lng": p.lng, "label": f"{p.name}（{p.kind}）{p.count}", "color": "#0550ae"}
               for p in spots.near]
    map_config = {"center": _centre(points), "zoom": 13 if points else 11,
                  "points": points, "outlines": region_outlines(level="grid")}
    busiest_hour = max(range(24), key=lambda h: (spots.by_hour[h], -h)) if spots.total else None
    busiest_day = max(range(7), key=lambda d: (spots.by_weekday[d], -d)) if spots.total else None
    return render(request, "parking/hotspots.html", {
        "spots": spots, "rows": rows, "weekdays": selectors.WEEKDAYS, "days": days, "periods": PERIODS,
        "tag": tag, "tags": PlaceKind.choices, "map_config": map_config, "start": filters.start, "end": filters.end,
        "busiest_hour": busiest_hour, "busiest_day": selectors.WEEKDAYS[busiest_day] if busiest_day is not None else "",
        "hour_chart": {"labels": [f"{h}时" for h in range(24)], "values": spots.by_hour},
        "metres": filters.metres, "section": "hotspots",
    })


def _centre(points: list[dict]) -> list[float]:
    """Where the map opens: amid what it shows (the district's centre when it shows nothing)."""
    if not points:
        return maps.centre()
    return [sum(p["lat"] for p in points) / len(points), sum(p["lng"] for p in points) / len(points)]


def _heat_class(count: int, most: int) -> str:
    """heat-0 … heat-5: the share of the busiest cell, in fifths (classes, not inline styles)."""
    if count == 0:
        return "heat-0"
    return f"heat-{min(5, 1 + (4 * count) // most)}"
