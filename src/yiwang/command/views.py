"""The dispatch board of the command centre (综合执法指挥中心调度台). Thin: reads in selectors."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from yiwang.cases import routing
from yiwang.cases.attachments import is_photo
from yiwang.cases.workflows import workflow
from yiwang.command import selectors, services
from yiwang.command.forms import BoardForm, BulkDispatchForm, DispatchForm, MergeForm
from yiwang.core import forms, maps, pages
from yiwang.core.errors import BadParameter, DomainError
from yiwang.core.idnumber import mask_text
from yiwang.org.decorators import staff_required
from yiwang.org.selectors import request_viewer

# The board and its actions are the command centre's operators': staff of a command centre unit.
operator_required = staff_required(allow=selectors.command_units, refusal=gettext_lazy("仅限指挥中心指挥员。"))


@operator_required
@require_safe
def board(request):
    viewer = request_viewer(request)
    tab = request.GET.get("tab", "reported")
    if tab not in dict(selectors.TABS):
        tab = "reported"
    matter = request.GET.get("matter", "")
    off_grid = request.GET.get("off_grid") == "1"
    cases = list(selectors.board_cases(viewer, tab, matter_code=matter, off_grid=off_grid))
    counts = selectors.board_counts(viewer)
    wf = workflow("incident")
    rows = []
    smart = selectors.smart_suggestions(cases) if tab in ("reported", "registered") else {}
    for case in cases:
        suggestion = routing.case_dispatch_suggestion(case) if tab in ("reported", "registered") else None
        rows.append({"case": case, "state": wf.states.get(case.state, case.state), "suggestion": suggestion,
                     "smart": smart.get(case.pk),
                     # The report's photos (their index among the materials): the first shows on the row.
                     "photos": [i for i, m in enumerate(case.materials or []) if is_photo(m)]})
    # A label shows the title as the table does: its ID numbers masked (core.idnumber).
    points = [{"lat": r["case"].lat, "lng": r["case"].lng,
               "label": f'{r["case"].number} {mask_text(r["case"].title, phones=False)}',
               "href": reverse("web:work_case", args=[r["case"].number]),
               "color": {3: "#7a0d0d", 2: "#b3261e", 1: "#b8860b"}.get(r["case"].warning_level, "#0b57d0")}
              for r in rows if r["case"].lat is not None]
    map_config = {"center": maps.centre(), "zoom": 11, "points": points,
                  "outlines": []}
    return render(request, "command/board.html", {
        "tab": tab, "tabs": [(k, label, counts.get(k, 0)) for k, label in selectors.TABS], "rows": rows,
        "matter": matter, "off_grid": off_grid, "categories": selectors.incident_categories(),
        "map_config": map_config, "bulk": tab in ("reported", "registered"),
        "model": selectors.model_for_viewer(viewer), "dispatch_config": selectors.dispatch_config(),
    })


def _back(request) -> HttpResponseRedirect:
    form = BoardForm(request.POST)
    tab = (form.cleaned_data["tab"] if form.is_valid() else None) or "reported"
    return HttpResponseRedirect(reverse("command:board") + f"?tab={tab}", status=303)


@operator_required
@require_POST
def dispatch(request, case_id: int):
    """一键派遣: register if needed and dispatch to the suggested (or chosen) unit."""
    viewer = request_viewer(request)
    try:
        data = pages.cleaned(DispatchForm(request.POST))
        case = services.register_and_dispatch(viewer=viewer, case_id=case_id, version=data["version"],
                                              unit_code=data["unit_code"], comment=data["comment"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s 已派遣至%(u)s。") % {"n": case.number, "u": case.holder_unit.name})
    return _back(request)


@operator_required
@require_POST
def dispatch_bulk(request):
    """批量派遣 the ticked cases, each to its suggested unit or all to one chosen unit."""
    viewer = request_viewer(request)
    items = []
    for raw in request.POST.getlist("cases")[: services.MAX_BULK + 1]:
        case_id, _sep, version = raw.partition(":")
        with contextlib.suppress(BadParameter):  # a row that is not "id:version" is left out, as unticked
            items.append((forms.integer(case_id, "cases", maximum=forms.MAX_BIGINT),
                          forms.integer(version, "cases")))
    try:
        data = pages.cleaned(BulkDispatchForm(request.POST))
        results = services.bulk_dispatch(viewer=viewer, items=items, unit_code=data["unit_code"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(request)
    done = [r for r in results if r.ok]
    if done:
        messages.success(request, _("已派遣 %(n)s 件。") % {"n": len(done)})
    for r in results:
        if not r.ok:
            messages.error(request, _("案件 %(id)s 未派遣：%(why)s") % {"id": r.case_id, "why": r.message})
    return _back(request)


@operator_required
@require_POST
def merge(request, case_id: int):
    """一键合并: a report flagged as a likely duplicate goes into the case it repeats."""
    viewer = request_viewer(request)
    try:
        data = pages.cleaned(MergeForm(request.POST))
        case = services.merge_into_flagged(viewer=viewer, case_id=case_id, version=data["version"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s 已合并到 %(p)s。") % {"n": case.number, "p": case.parent.number})
    return _back(request)
