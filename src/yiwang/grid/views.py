"""The grid worker's page (phone first): my grids, their basic data, open incidents, a report form.

Other staff get the same pages read-only for the grids in their scope. Thin: selectors read,
grid.services.grid_report writes.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.cases.deadlines import is_overdue
from yiwang.cases.workflows import workflow
from yiwang.catalog.selectors import matter_list
from yiwang.core import maps, pages
from yiwang.core.errors import DomainError
from yiwang.core.idnumber import mask_text
from yiwang.grid import selectors, services
from yiwang.grid.forms import ReportForm, RevealForm
from yiwang.org.selectors import Viewer, request_viewer


def _staff_viewer(request) -> Viewer:
    viewer = request_viewer(request)
    if not viewer.is_staff_member:
        raise PermissionDenied(_("网格页面只对工作人员开放。"))
    return viewer


@login_required(login_url="web:login")
@require_safe
def index(request):
    viewer = _staff_viewer(request)
    grids = selectors.my_grids(viewer=viewer)
    counts = selectors.grid_counts(viewer=viewer, grids=grids)
    return render(request, "grid/index.html", {
        "rows": [(g, counts[g.id]) for g in grids], "may_report": services.may_report(viewer),
    })


@login_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("description", "address")
def detail(request, code: str):
    viewer = _staff_viewer(request)
    errors: dict = {}
    if request.method == "POST":
        # A report needs the grid's code and the viewer's right to see it, both in the cached
        # hierarchy: the grid's row (its outline, its community's) is read for the page alone.
        place = pages.found(selectors.grid_info, viewer=viewer, code=code)
        try:
            form = ReportForm(request.POST, request.FILES)
            data = pages.cleaned(form)
            created = services.grid_report(
                viewer=viewer, grid=place, matter_code=data["category"], description=data["description"],
                lat=data["lat"], lng=data["lng"], address=data["address"], photo=data["photo"],
                photos=form.photos, idempotency_key=data["idempotency_key"],
            )
        except DomainError as exc:
            errors = pages.refused(request, exc)  # the form again, the message beside the field (200, as ever)
        else:
            messages.success(request, _("已上报，案件编号 %(n)s。") % {"n": created.case.number})
            return HttpResponseRedirect(reverse("grid:detail", args=[place.code]))
    grid = pages.found(selectors.grid_get, viewer=viewer, code=code)
    return _detail_page(request, viewer, grid, errors=errors)


def _detail_page(request, viewer: Viewer, grid, *, errors: dict, revealed: dict | None = None, status: int = 200):
    may_report = services.may_report(viewer)
    incidents = selectors.open_incidents(viewer=viewer, grid=grid)
    states = workflow("incident").states
    map_config = {
        "center": [grid.lat, grid.lng] if grid.lat is not None else maps.centre(), "zoom": 15,
        "pick": may_report, "outlines": [selectors.grid_feature(grid)] if grid.boundary else [],
        "points": [{"lat": c.lat, "lng": c.lng, "label": mask_text(c.title, phones=False),
                    "href": reverse("web:work_case", args=[c.number])} for c in incidents if c.lat is not None],
    }
    return render(request, "grid/detail.html", {
        "grid": grid, "counts": selectors.grid_counts(viewer=viewer, grids=[grid])[grid.id],
        "incidents": [(c, states.get(c.state, c.state), is_overdue(c)) for c in incidents],
        "vulnerable": selectors.vulnerable_residents(viewer=viewer, grid=grid),
        "may_report": may_report, "categories": matter_list(kind="incident") if may_report else [],
        "errors": errors, "map_config": map_config,
        "idempotency_key": pages.form_key(request),
        "revealed": revealed or {},
    }, status=status)


@login_required(login_url="web:login")
@require_POST
@sensitive_post_parameters("reason")
@sensitive_variables("number")
def resident_reveal_id(request, code: str, resident_id: int):
    """显示完整证件号 of one resident in the list: recorded in the access log, then shown on the page
    (rendered, not redirected: the number must not wait in a session)."""
    viewer = _staff_viewer(request)
    grid = pages.found(selectors.grid_get, viewer=viewer, code=code)
    status = 200
    try:
        number = services.resident_reveal_id(viewer=viewer, resident_id=resident_id,
                                             reason=pages.cleaned(RevealForm(request.POST))["reason"])
        revealed = {"resident_id": resident_id, "number": number}
    except DomainError as exc:
        revealed, status = {"resident_id": resident_id, "error": exc.message}, exc.status
    response = _detail_page(request, viewer, grid, errors={}, revealed=revealed, status=status)
    response["Cache-Control"] = "no-store"
    return response
