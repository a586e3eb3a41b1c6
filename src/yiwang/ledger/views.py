"""Pages of the ledger: research topics and visits (leaders' workbench), their counts, batches with
their ledgers, problem lists, items with evidence, and the .xlsx/.pdf exports. Thin: selectors read,
services write; a refused form comes back with its input and the message beside the field (422).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.cases.workflows import workflow
from yiwang.core import clock, forms, pages
from yiwang.core.errors import DomainError
from yiwang.core.idempotency import idempotent_page
from yiwang.core.idnumber import mask_text
from yiwang.ledger import exports, selectors, services
from yiwang.ledger.forms import (
    AcceptForm,
    BatchForm,
    ItemForm,
    ItemReportForm,
    ProblemListForm,
    TopicForm,
    VisitForm,
)
from yiwang.ledger.models import Field
from yiwang.org.decorators import staff_required
from yiwang.org.models import Level
from yiwang.org.selectors import hierarchy, request_viewer

# --- index -----------------------------------------------------------------------------------


@staff_required
@require_safe
def index(request):
    viewer = request_viewer(request)
    return render(request, "ledger/index.html", {
        "batches": selectors.batch_list(viewer=viewer), "topic_lists": selectors.topic_lists(viewer),
        "may_create_batch": selectors.may_create_batch(viewer),
    })


# --- research topics -------------------------------------------------------------------------


def _topic_filters(request) -> selectors.TopicFilters:
    leader_id = forms.optional_integer(request.GET.get("leader"), "leader", maximum=forms.MAX_BIGINT)
    return selectors.TopicFilters(field=request.GET.get("field") or "", level=request.GET.get("level") or "",
                                  leader_id=leader_id,
                                  region_code=request.GET.get("region") or "")


@staff_required
@require_safe
def topics(request):
    viewer = request_viewer(request)
    filters = _topic_filters(request)
    try:
        page = selectors.topic_list(viewer=viewer, filters=filters, cursor=request.GET.get("cursor"))
    except DomainError as exc:
        messages.error(request, exc.message)
        filters = selectors.TopicFilters()
        page = selectors.topic_list(viewer=viewer, filters=filters)
    params = request.GET.copy()
    params.pop("cursor", None)
    return render(request, "ledger/topics.html", {
        "page": page, "filters": filters, "fields": Field.choices, "levels": Level.choices[:4],
        "query": params.urlencode(), "may_register": bool(selectors.topic_units(viewer)),
    })


@staff_required
@require_http_methods(["GET", "POST"])
@idempotent_page
def topic_new(request):
    viewer = request_viewer(request)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            data = pages.cleaned(TopicForm(request.POST))
            topic = services.topic_create(
                viewer=viewer, title=data["title"], field=data["field"], unit_code=data["unit_code"],
                problem=data["problem"], crux=data["crux"], plan=data["plan"], leader_username=data["leader"])
        except DomainError as exc:
            errors, status = pages.refused(request, exc), 422
        else:
            # A message waits in a cookie or the session until the next page: the title goes in masked.
            messages.success(request, _("调研课题“%(t)s”已登记。") % {"t": mask_text(topic.title, phones=False)})
            return HttpResponseRedirect(reverse("ledger:topic", args=[topic.pk]), status=303)
    return render(request, "ledger/topic_new.html", {
        "units": selectors.topic_units(viewer), "leaders": selectors.leader_choices(viewer), "fields": Field.choices,
        "errors": errors, "posted": request.POST,
        "idempotency_key": pages.form_key(request),
    }, status=status)


def _topic_context(request, topic, errors: dict | None = None, form: str = "") -> dict:
    viewer = request_viewer(request)
    may_edit = selectors.may_edit_topic(viewer, topic)
    plist = selectors.topic_problem_list(topic)
    items = selectors.items_of(viewer, problem_list=plist) if plist else []
    visits = selectors.visits_of(topic)
    for visit in visits:
        visit.form_key = f"item-{visit.pk}"  # which visit's item form a refused post belongs to
    return {
        "topic": topic, "visits": visits, "may_edit": may_edit, "errors": errors or {},
        "form": form, "posted": request.POST, "today": clock.today(), "problem_list": plist,
        "rows": selectors.ledger_rows(items),
        "units": selectors.responsible_units(viewer, topic.region_path) if may_edit else [],
        "idempotency_key": pages.form_key(request),
    }


@staff_required
@require_http_methods(["GET", "POST"])
@idempotent_page
def topic_detail(request, topic_id: int):
    """The topic, its visit log and the items its findings opened; POST records a visit."""
    viewer = request_viewer(request)
    topic = selectors.topic_get(viewer=viewer, topic_id=topic_id)
    if request.method == "POST":
        try:
            data = pages.cleaned(VisitForm(request.POST))
            services.visit_log(viewer=viewer, topic_id=topic.pk, visited_on=data["visited_on"], place=data["place"],
                               people_met=data["people_met"], findings=data["findings"])
        except DomainError as exc:
            return render(request, "ledger/topic.html", _topic_context(request, topic, pages.refused(request, exc), "visit"),
                          status=422)
        messages.success(request, _("调研记录已保存。"))
        return HttpResponseRedirect(reverse("ledger:topic", args=[topic.pk]), status=303)
    return render(request, "ledger/topic.html", _topic_context(request, topic))


@staff_required
@require_POST
def visit_item(request, visit_id: int):
    """Open a rectification item from a visit's findings."""
    viewer = request_viewer(request)
    visit = selectors.visit_get(viewer=viewer, visit_id=visit_id)
    try:
        item = services.visit_item_open(viewer=viewer, visit_id=visit.pk, **ItemForm(request.POST).service_fields())
    except DomainError as exc:
        context = _topic_context(request, visit.topic, pages.refused(request, exc), f"item-{visit.pk}")
        return render(request, "ledger/topic.html", context, status=422)
    messages.success(request, _("已开具整改事项 %(n)s。") % {"n": item.case.number})
    return HttpResponseRedirect(reverse("ledger:topic", args=[visit.topic_id]) + f"#visit-{visit.pk}", status=303)


@staff_required
@require_safe
def counts(request):
    viewer = request_viewer(request)
    try:
        figures = selectors.topic_counts(viewer=viewer, filters=_topic_filters(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        figures = selectors.topic_counts(viewer=viewer)

    topics_url = reverse("ledger:topics")

    def chart(rows, param: str, limit: int = 30) -> dict:
        rows = rows[:limit]
        return {"labels": [r.label for r in rows], "values": [r.topics for r in rows],
                "hrefs": [f"{topics_url}?{param}={r.key}" for r in rows]}

    return render(request, "ledger/counts.html", {
        "figures": figures, "level_chart": chart(figures.by_level, "level"),
        "field_chart": chart(figures.by_field, "field"), "leader_chart": chart(figures.by_leader, "leader", 20),
    })


# --- batches, lists, items -------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
@idempotent_page
def batch_new(request):
    viewer = request_viewer(request)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            data = pages.cleaned(BatchForm(request.POST))
            batch = services.batch_create(
                viewer=viewer, title=data["title"], region_code=data["region_code"],
                supervisor_unit_code=data["supervisor_unit_code"], matter_code=data["matter_code"],
                due_on=data["due_on"])
        except DomainError as exc:
            errors, status = pages.refused(request, exc), 422
        else:
            messages.success(request, _("整改批次“%(t)s”已设立。") % {"t": mask_text(batch.title, phones=False)})
            return HttpResponseRedirect(reverse("ledger:batch", args=[batch.pk]), status=303)
    h = hierarchy()
    regions = [r for r in sorted(h.regions.values(), key=lambda r: r.path)
               if r.level != Level.GRID and selectors.leads(viewer, r.path)][:300]
    offices = [u for u in sorted(h.units.values(), key=lambda u: u.region_path)
               if u.kind in ("office", "command_centre") and selectors.leads(viewer, u.region_path)][:300]
    return render(request, "ledger/batch_new.html", {
        "regions": regions, "units": offices, "matters": selectors.rectification_matters(), "errors": errors,
        "posted": request.POST, "idempotency_key": pages.form_key(request),
    }, status=status)


def _batch_context(request, batch, errors: dict | None = None, form: str = "") -> dict:
    viewer = request_viewer(request)
    items = selectors.items_of(viewer, batch=batch)
    lists = selectors.lists_of(viewer, batch)
    rows = selectors.ledger_rows(items)
    by_list: dict[int, list] = {}
    for row in rows:
        by_list.setdefault(row.item.problem_list_id, []).append(row)
    may_add = any(selectors.may_add_items(viewer, plist) for plist in lists) and batch.accepted_at is None
    h = hierarchy()
    return {
        "batch": batch, "lists": [(plist, by_list.get(plist.pk, []), f"item-{plist.pk}") for plist in lists],
        "progress": selectors.progress_of(items, accepted_at=batch.accepted_at),
        "may_add": may_add, "may_add_list": selectors.leads(viewer, batch.region_path) and batch.accepted_at is None,
        "may_accept": selectors.may_accept_batch(viewer, batch) and batch.accepted_at is None,
        "units": selectors.responsible_units(viewer, batch.region_path) if may_add else [],
        "regions": [r for r in sorted(h.regions.values(), key=lambda r: r.path)
                    if r.path.startswith(batch.region_path) and r.level != Level.GRID][:300],
        "errors": errors or {}, "form": form, "posted": request.POST,
        "idempotency_key": pages.form_key(request),
    }


@staff_required
@require_safe
def batch_detail(request, batch_id: int):
    """The batch's ledger: problem lists with numbered items, progress, forms, exports."""
    batch = selectors.batch_get(viewer=request_viewer(request), batch_id=batch_id)
    return render(request, "ledger/batch.html", _batch_context(request, batch))


@staff_required
@require_POST
@idempotent_page
def list_create(request, batch_id: int):
    viewer = request_viewer(request)
    batch = selectors.batch_get(viewer=viewer, batch_id=batch_id)
    try:
        data = pages.cleaned(ProblemListForm(request.POST))
        plist = services.problem_list_create(viewer=viewer, batch_id=batch.pk, title=data["title"],
                                             region_code=data["region_code"])
    except DomainError as exc:
        return render(request, "ledger/batch.html", _batch_context(request, batch, pages.refused(request, exc), "list"),
                      status=422)
    messages.success(request, _("问题清单“%(t)s”已建立。") % {"t": mask_text(plist.title, phones=False)})
    return HttpResponseRedirect(reverse("ledger:batch", args=[batch.pk]) + f"#list-{plist.pk}", status=303)


@staff_required
@require_POST
def item_create(request, list_id: int):
    viewer = request_viewer(request)
    plist = selectors.problem_list_get(viewer=viewer, list_id=list_id)
    back = (reverse("ledger:batch", args=[plist.batch_id]) if plist.batch_id
            else reverse("ledger:topic", args=[plist.topic_id]))
    try:
        item = services.item_create(viewer=viewer, problem_list_id=plist.pk, **ItemForm(request.POST).service_fields())
    except DomainError as exc:
        errors = pages.refused(request, exc)
        if plist.batch_id:
            return render(request, "ledger/batch.html",
                          _batch_context(request, plist.batch, errors, f"item-{plist.pk}"), status=422)
        return render(request, "ledger/topic.html", _topic_context(request, plist.topic, errors), status=422)
    messages.success(request, _("已登记整改事项 %(n)s。") % {"n": item.case.number})
    return HttpResponseRedirect(back + f"#list-{plist.pk}", status=303)


@staff_required
@require_POST
def batch_accept(request, batch_id: int):
    viewer = request_viewer(request)
    batch = selectors.batch_get(viewer=viewer, batch_id=batch_id)
    try:
        services.batch_accept(viewer=viewer, batch_id=batch.pk, note=pages.cleaned(AcceptForm(request.POST))["note"])
    except DomainError as exc:
        return render(request, "ledger/batch.html", _batch_context(request, batch, pages.refused(request, exc), "accept"),
                      status=422)
    messages.success(request, _("批次“%(t)s”已通过验收。") % {"t": mask_text(batch.title, phones=False)})
    return HttpResponseRedirect(reverse("ledger:batch", args=[batch.pk]), status=303)


def _item_context(request, item, errors: dict | None = None) -> dict:
    from yiwang.cases.selectors import allowed_actions, case_timeline

    viewer = request_viewer(request)
    actions = {a.name for a in allowed_actions(viewer, item.case)}
    evidence = [(event, event.payload.get("evidence") or []) for event in case_timeline(item.case)
                if event.payload.get("evidence")]
    return {
        "item": item, "case": item.case, "row": selectors.ledger_rows([item])[0], "errors": errors or {},
        "may_report": "report_progress" in actions, "may_submit": "submit_acceptance" in actions,
        "evidence": evidence, "posted": request.POST,
        "state_label": workflow(item.case.kind).states.get(item.case.state, item.case.state),
    }


@staff_required
@require_safe
def item_detail(request, item_id: int):
    item = selectors.item_get(viewer=request_viewer(request), item_id=item_id)
    return render(request, "ledger/item.html", _item_context(request, item))


@staff_required
@require_POST
def item_report(request, item_id: int):
    """报告整改进展 or 提交验收 with evidence files, through the case's workflow."""
    viewer = request_viewer(request)
    item = selectors.item_get(viewer=viewer, item_id=item_id)
    try:
        data = pages.cleaned(ItemReportForm(request.POST))
        services.item_report(viewer=viewer, item_id=item.pk, action=data["action"], version=data["version"],
                             text=data["text"], uploads=request.FILES.getlist("evidence"))
    except DomainError as exc:
        item = selectors.item_get(viewer=viewer, item_id=item_id)
        return render(request, "ledger/item.html", _item_context(request, item, pages.refused(request, exc)), status=422)
    messages.success(request, _("已记录。"))
    return HttpResponseRedirect(reverse("ledger:item", args=[item.pk]), status=303)


@staff_required
@require_safe
def problem_list(request, list_id: int):
    plist = selectors.problem_list_get(viewer=request_viewer(request), list_id=list_id)
    if plist.batch_id:
        return HttpResponseRedirect(reverse("ledger:batch", args=[plist.batch_id]) + f"#list-{plist.pk}")
    return HttpResponseRedirect(reverse("ledger:topic", args=[plist.topic_id]))


# --- exports ---------------------------------------------------------------------------------


@staff_required
@require_safe
def batch_export(request, batch_id: int, fmt: str):
    viewer = request_viewer(request)
    batch = selectors.batch_get(viewer=viewer, batch_id=batch_id)
    return exports.download(exports.batch_document(viewer, batch), fmt, f"batch{batch.pk}")


@staff_required
@require_safe
def list_export(request, list_id: int, fmt: str):
    viewer = request_viewer(request)
    plist = selectors.problem_list_get(viewer=viewer, list_id=list_id)
    return exports.download(exports.list_document(viewer, plist), fmt, f"list{plist.pk}")
