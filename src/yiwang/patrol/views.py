"""Patrol pages: a team's schedule (排班), a member's shifts tonight, a patrol's track, and the
grid worker's check-in partial. Thin: read with selectors, write with services, render."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.catalog.selectors import matter_list
from yiwang.core import maps, pages
from yiwang.core.errors import DomainError
from yiwang.core.idempotency import idempotent_page
from yiwang.core.idnumber import mask_text
from yiwang.org.selectors import region_outlines, request_viewer
from yiwang.patrol import selectors, services
from yiwang.patrol.forms import FindingForm, PointForm, ShiftsForm

LOGIN = "web:login"


def _month(raw: str | None) -> dt.date:
    try:
        return dt.datetime.strptime(raw or "", "%Y-%m").date()
    except ValueError:
        return selectors.tonight().replace(day=1)


def _team_or_404(request, team_id: int):
    return pages.found(selectors.team_get, viewer=request_viewer(request), team_id=team_id)


def _names(team) -> dict[int, str]:
    return {m.user_id: m.user.first_name or m.user.username for m in selectors.members_of(team)}


@login_required(login_url=LOGIN)
@require_safe
def index(request) -> HttpResponse:
    viewer = request_viewer(request)
    teams = list(selectors.team_list(viewer=viewer))
    return render(request, "patrol/index.html", {"teams": teams})


@login_required(login_url=LOGIN)
@require_safe
def team_page(request, team_id: int) -> HttpResponse:
    """A month of shifts, who took how many, and (for schedulers) drawing the next ones."""
    viewer = request_viewer(request)
    team = _team_or_404(request, team_id)
    first = _month(request.GET.get("month"))
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    by_night: dict[dt.date, list] = {}
    for shift in selectors.shifts_of_team(team=team, start=first, end=last):
        by_night.setdefault(shift.night, []).append(shift)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    can_schedule = selectors.may_schedule(viewer, team)
    context = {
        "team": team, "month": first, "rows": [(d, by_night.get(d, [])) for d in days],
        "previous_month": (first - dt.timedelta(days=1)).strftime("%Y-%m"),
        "next_month": (last + dt.timedelta(days=1)).strftime("%Y-%m"),
        "counts": selectors.member_counts(team, start=first, end=last), "can_schedule": can_schedule,
        "windows": team.windows.order_by("id"), "form": {
            "start": request.GET.get("start") or (selectors.tonight() + dt.timedelta(days=1)).isoformat(),
            "end": request.GET.get("end") or (selectors.tonight() + dt.timedelta(days=30)).isoformat(),
            "seed": request.GET.get("seed", ""), "replace": request.GET.get("replace") == "on",
        },
        "errors": {},
    }
    if can_schedule and request.GET.get("preview"):
        try:
            data = pages.cleaned(ShiftsForm(request.GET))
            proposal = selectors.shift_proposal(viewer=viewer, team=team, start=data["start"], end=data["end"],
                                                seed=data["seed"], replace=data["replace"])
        except DomainError as exc:
            # Shown above the form, every field's at once (not as a message too: it would say it twice).
            context["errors"] = exc.errors or {"general": [exc.message]}
        else:
            names = _names(team)
            context["proposal"] = proposal
            context["proposed"] = [(p, [names.get(u, u) for u in p.member_ids]) for p in proposal.shifts]
            context["proposed_counts"] = [(names[u], proposal.counts_before.get(u, 0), n)
                                          for u, n in sorted(proposal.counts_after.items(), key=lambda kv: names[kv[0]])]
    return render(request, "patrol/team.html", context)


@login_required(login_url=LOGIN)
@require_POST
def team_generate(request, team_id: int) -> HttpResponse:
    viewer = request_viewer(request)
    team = _team_or_404(request, team_id)
    try:
        data = pages.cleaned(ShiftsForm(request.POST))
        shifts = services.shifts_generate(viewer=viewer, team=team, start=data["start"], end=data["end"],
                                          seed=data["seed"], replace=data["replace"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("patrol:team", args=[team.pk]))
    messages.success(request, _("已排 %(n)s 个班次。") % {"n": len(shifts)})
    return HttpResponseRedirect(f"{reverse('patrol:team', args=[team.pk])}?month={data['start']:%Y-%m}")


@login_required(login_url=LOGIN)
@require_safe
def my_shifts(request) -> HttpResponse:
    """Tonight's shift first, with its buttons; phone-first, one column."""
    viewer = request_viewer(request)
    night = selectors.tonight()
    shifts = selectors.shifts_of_member(viewer=viewer, start=night - dt.timedelta(days=7),
                                        end=night + dt.timedelta(days=14))
    tonight_shifts = [s for s in shifts if s.night == night]
    check_in_log = selectors.open_check_in(viewer=viewer) if viewer.is_staff_member else None
    current = []
    for shift in tonight_shifts:
        log = next(iter(shift.logs.all()), None)
        current.append({"shift": shift, "log": log, "findings": selectors.findings_of(log) if log else []})
    return render(request, "patrol/me.html", {
        "night": night, "current": current,
        "upcoming": [s for s in shifts if s.night > night],
        "recent": [s for s in shifts if s.night < night][::-1],
        "categories": matter_list(kind="incident"),
        "check_in_log": check_in_log, "check_in_points": selectors.track_points(check_in_log),
        "check_in_ready": True, "show_check_in": viewer.is_staff_member, "check_in_key": uuid.uuid4().hex,
    })


def _back_to_me(request, exc: DomainError | None = None, success: str = ""):
    if exc is not None:
        messages.error(request, exc.message)
    elif success:
        messages.success(request, success)
    return HttpResponseRedirect(reverse("patrol:me"))


def _log_for_write(request, log_id: int):
    return pages.found(selectors.log_get, viewer=request_viewer(request), log_id=log_id)


@login_required(login_url=LOGIN)
@require_POST
def shift_start(request, shift_id: int) -> HttpResponse:
    viewer = request_viewer(request)
    shift = pages.found(selectors.shift_get, viewer=viewer, shift_id=shift_id)
    point = pages.cleaned(PointForm(request.POST))
    try:
        services.patrol_start(viewer=viewer, shift=shift, lat=point["lat"], lng=point["lng"])
    except DomainError as exc:
        return _back_to_me(request, exc)
    return _back_to_me(request, success=_("已出发，注意安全。"))


@login_required(login_url=LOGIN)
@require_POST
@idempotent_page
def log_check_in(request, log_id: int) -> HttpResponse:
    log = _log_for_write(request, log_id)
    point = pages.cleaned(PointForm(request.POST))
    try:
        services.patrol_check_in(viewer=request_viewer(request), log=log, lat=point["lat"], lng=point["lng"])
    except DomainError as exc:
        return _back_to_me(request, exc)
    return _back_to_me(request, success=_("已签到。"))


@login_required(login_url=LOGIN)
@require_POST
def log_finish(request, log_id: int) -> HttpResponse:
    log = _log_for_write(request, log_id)
    try:
        services.patrol_finish(viewer=request_viewer(request), log=log)
    except DomainError as exc:
        return _back_to_me(request, exc)
    return _back_to_me(request, success=_("本次巡逻已结束，辛苦了。"))


@login_required(login_url=LOGIN)
@require_POST
def finding_create(request, log_id: int) -> HttpResponse:
    log = _log_for_write(request, log_id)
    try:
        data = pages.cleaned(FindingForm(request.POST, request.FILES))
        finding = services.finding_report(
            viewer=request_viewer(request), log=log, description=data["description"], category=data["category"],
            lat=data["lat"], lng=data["lng"], photo=data["photo"], idempotency_key=data["idempotency_key"],
        )
    except DomainError as exc:
        return _back_to_me(request, exc)
    return _back_to_me(request, success=_("已上报，事件编号 %(n)s。") % {"n": finding.case.number})


@login_required(login_url=LOGIN)
@require_safe
def log_page(request, log_id: int) -> HttpResponse:
    log = _log_for_write(request, log_id)
    findings = selectors.findings_of(log)
    points = [{"lat": p.lat, "lng": p.lng, "color": "#0969da", "label": f"{p.n}. {timezone.localtime(p.at):%H:%M}"}
              for p in selectors.track_points(log)]
    # Masked before it is cut: a number cut short would no longer look like one.
    points += [{"lat": f.lat, "lng": f.lng, "label": f"{f.category} {mask_text(f.description, phones=False)[:30]}"}
               for f in findings]
    center = [log.track[0]["lat"], log.track[0]["lng"]] if log.track else maps.centre()
    map_config = {"center": center, "zoom": 15, "points": points,
                  "outlines": region_outlines(level="grid")}
    track = selectors.track_points(log)
    return render(request, "patrol/log.html", {"log": log, "track": track, "findings": findings,
                                               "map_config": map_config})


# --- the grid worker's check-in partial (巡查签到) --------------------------------------------


def _check_in_partial(request, log, error: str = ""):
    return render(request, "patrol/_check_in.html", {
        "check_in_log": log, "check_in_points": selectors.track_points(log), "check_in_ready": True,
        "check_in_key": uuid.uuid4().hex,
        "check_in_error": error,
    })


@login_required(login_url=LOGIN)
@require_http_methods(["GET", "POST"])
@idempotent_page
def check_in(request) -> HttpResponse:
    """GET: the partial with the caller's patrol under way. POST: check in (starting one if none)."""
    viewer = request_viewer(request)
    log = selectors.open_check_in(viewer=viewer)
    error = ""
    if request.method == "POST":
        point = pages.cleaned(PointForm(request.POST))
        try:
            if log is None:
                log = services.patrol_start(viewer=viewer, lat=point["lat"], lng=point["lng"])
            else:
                log = services.patrol_check_in(viewer=viewer, log=log, lat=point["lat"], lng=point["lng"])
        except DomainError as exc:
            error = exc.message
        if not request.headers.get("HX-Request"):
            return _after_plain_post(request, error)
    return _check_in_partial(request, log, error)


@login_required(login_url=LOGIN)
@require_POST
def check_in_finish(request) -> HttpResponse:
    viewer = request_viewer(request)
    log = selectors.open_check_in(viewer=viewer)
    error = ""
    if log is not None:
        try:
            services.patrol_finish(viewer=viewer, log=log)
        except DomainError as exc:
            error = exc.message
    if not request.headers.get("HX-Request"):
        return _after_plain_post(request, error)
    return _check_in_partial(request, selectors.open_check_in(viewer=viewer), error)


def _after_plain_post(request, error: str):
    """Without htmx the partial would replace the whole page: go back to where the form was."""
    if error:
        messages.error(request, error)
    target = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("patrol:me")
    return HttpResponseRedirect(target)
