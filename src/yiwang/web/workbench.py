"""Staff workbench: my units' queue and the case page with exactly the actions allowed now."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.core.files.storage import default_storage
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.cases import deadlines, panels, personal, search
from yiwang.cases import selectors as case_selectors
from yiwang.cases import services as case_services
from yiwang.cases.models import Case
from yiwang.cases.workflows import action_label, all_states, workflow
from yiwang.catalog.selectors import matter_list
from yiwang.core import clock, forms, idnumber, pages
from yiwang.core.errors import DomainError
from yiwang.core.pagination import paginate
from yiwang.org.decorators import staff_required
from yiwang.org.models import Staff
from yiwang.org.selectors import hierarchy, request_viewer, service_halls, units_reachable
from yiwang.web.evidence import evidence_context
from yiwang.web.faq import faq_of_case
from yiwang.web.forms import CaseActionForm, RevealForm, fields_for

TABS = [
    ("open", gettext_lazy("待办")), ("overdue", gettext_lazy("已超期")), ("soon", gettext_lazy("临期")),
    ("waiting", gettext_lazy("待补正")), ("mine", gettext_lazy("我认领的")), ("closed", gettext_lazy("已办结")),
]
# The queue's "due within N days" filter: ten years is past any deadline, and keeps the date in range.
MAX_DUE_DAYS = 3660


def _tab_filter(tab: str, now: dt.datetime, user_id: int | None = None) -> Q:
    open_ = Q(closed_at__isnull=True)
    return {
        "mine": open_ & Q(assignee_id=user_id),
        "open": open_,
        "overdue": deadlines.overdue_q(now),
        "soon": deadlines.due_soon_q(now),
        "waiting": open_ & Q(suspended_at__isnull=False),
        "closed": Q(closed_at__isnull=False),
    }[tab]


@staff_required
@require_safe
def queue(request):
    """Cases my units hold: overdue first (earliest deadline), then by deadline."""
    viewer = request_viewer(request)
    now = clock.now()
    tab = request.GET.get("tab", "open")
    if tab not in dict(TABS):
        tab = "open"
    held = Case.objects.filter(holder_unit_id__in=sorted(viewer.unit_ids)) if not viewer.is_superuser else Case.objects.all()
    qs = held.filter(_tab_filter(tab, now, viewer.user_id)).select_related("matter", "holder_unit")
    state = request.GET.get("state") or ""
    matter = request.GET.get("matter") or ""
    region = request.GET.get("region") or ""
    due_days = forms.optional_integer(request.GET.get("due_days"), "due_days", maximum=MAX_DUE_DAYS)
    q = (request.GET.get("q") or "").strip()[:case_selectors.MAX_SEARCH]
    if q:
        matched = search.text_filter(q)
        qs = qs.filter(matched) if matched is not None else qs.none()
    if state:
        qs = qs.filter(state=state)
    if matter:
        qs = qs.filter(matter__code=matter)
    if region:
        try:
            qs = qs.filter(region_path__startswith=hierarchy().region(region).path)
        except DomainError:
            qs = qs.none()
    if due_days is not None:
        qs = qs.filter(due_at__lt=now + dt.timedelta(days=due_days))
    order = "-closed_at" if tab == "closed" else "due_at"
    try:
        page = paginate(qs, order=order, cursor=request.GET.get("cursor"), limit=50, ids_first=bool(q))
    except DomainError:
        page = paginate(qs, order=order, cursor=None, limit=50, ids_first=bool(q))
    # One pass over the held open cases for every tab's count (five COUNTs read the same index range).
    counts = held.filter(closed_at__isnull=True).aggregate(**{
        key: Count("id", filter=_tab_filter(key, now, viewer.user_id)) for key, _label in TABS if key != "closed"
    })
    params = request.GET.copy()
    params.pop("cursor", None)
    export = _export_query(viewer, tab, state)
    context = {
        "tab": tab, "tabs": [(k, label, counts.get(k)) for k, label in TABS], "page": page, "now": now,
        "unread": case_selectors.unread_count(viewer),
        "export": export, "states": all_states(), "matters": matter_list(), "filters": {"state": state, "matter": matter,
        "region": region, "due_days": "" if due_days is None else due_days, "q": q}, "query": params.urlencode(),
        "rows": [(c, workflow(c.kind).states.get(c.state, c.state), deadlines.missed_deadline(c, now))
                 for c in page.items],
    }
    return render(request, "web/work/queue.html", context)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def notifications(request):
    """通知: warnings, overdue marks, 督办, dispatches and escalations addressed to my units."""
    viewer = request_viewer(request)
    if request.method == "POST":
        ids = forms.integers(request.POST.getlist("ids"), "ids", maximum=forms.MAX_BIGINT)
        n = case_services.notifications_mark_read(viewer=viewer, ids=ids or None)
        messages.success(request, _("已标记 %(n)s 条为已读。") % {"n": n})
        return HttpResponseRedirect(reverse("web:notifications"), status=303)
    unread_only = request.GET.get("unread") == "1"
    return render(request, "web/work/notifications.html", {
        "items": case_selectors.notifications_for(viewer, unread_only=unread_only), "unread_only": unread_only,
        "unread": case_selectors.unread_count(viewer),
    })


def _panel_context(request, case: Case, error: str = "") -> dict:
    viewer = request_viewer(request)
    wf = workflow(case.kind)
    actions = case_selectors.allowed_actions(viewer, case)
    panel = panels.panel_for(viewer, case, actions)  # what the case's app adds (command centre, party)
    actions = [a for a in actions if a.name not in panel.elsewhere]
    return {
        "suggestion": None, "duplicates": [], "children": [], **panel.context,
        "app_page": panel.app_page,
        "case": case, "state_label": wf.states.get(case.state, case.state), "error": error,
        "timeline": [(e, action_label(e.action)) for e in case_selectors.case_timeline(case)],
        "actions": actions,
        "units": [u for u in units_reachable(viewer) if u.id != case.holder_unit_id],
        "colleagues": Staff.objects.filter(unit_id=case.holder_unit_id).values_list("user__username", flat=True).distinct(),
        "overdue": deadlines.missed_deadline(case),
        "form_fields": fields_for(case.matter_version.snapshot.get("form_schema") or {}, case.form_data),
        "id_fields": [(f, personal.field_label(case, f), [idnumber.mask(n) for n in numbers])
                      for f, numbers in personal.id_fields(case).items()],
        "may_reveal": personal.may_reveal(viewer, case),
        # A consultation turned into an FAQ entry links to it: a second 转为常见问题 is refused, and the
        # refusal says where the entry is.
        "faq_entry": faq_of_case(viewer, case),
        **_texts_context(case, actions),
        **evidence_context(case, staff=True),  # an incident's map and its photos, before and after
    }


def _texts_context(case: Case, actions: list) -> dict:
    """What the action forms offer beyond the declared inputs: a reply to the resident and a note for
    colleagues on every action (with the 常用回复 for it), the matter's materials a 补正 may ask for,
    the halls a result may be collected at; and what the clerk must see: the applicant's resubmission
    (new since they last acted), the decision and its delivery."""
    events = case_selectors.case_timeline(case)
    # An internal kind (整改事项, 帮扶) has no resident to answer: its actions take a note only.
    residents_read = workflow(case.kind).residents_read
    canned = case_selectors.canned_replies(case, [a.name for a in actions]) if residents_read else {}
    texts = {}
    for a in actions:
        texts[a.name] = {
            "reply": residents_read, "reply_required": "reply" in a.needs,
            "note": True, "note_required": "note" in a.needs,
            "canned": canned.get(a.name, []),
        }
        # What the step must or usually says shows open; optional words fold away (a claim needs none).
        texts[a.name]["reply_open"] = bool(texts[a.name]["reply"] and (
            "reply" in a.needs or "decision" in a.needs or texts[a.name]["canned"]))
        texts[a.name]["note_open"] = bool(texts[a.name]["note"] and "note" in a.needs)
    resubmission = case_selectors.latest_resubmission(case, events)
    halls = [h for h, _d in service_halls()] if any("delivery" in a.needs for a in actions) else []
    return {
        "action_texts": texts, "catalogue_materials": case.matter_version.snapshot.get("materials") or [],
        "asked": case_selectors.supplement_asked(case) if case.state == "supplement" else [],
        "resubmission": resubmission,
        "new_codes": [m.get("code") for m in resubmission.payload.get("resubmitted") or []] if resubmission else [],
        "outcome": case_selectors.case_outcome(events), "halls": halls,
    }


@staff_required
@require_safe
def work_case(request, number: str):
    case = pages.found(case_selectors.case_get, viewer=request_viewer(request), number=number)
    return render(request, "web/work/case.html", _panel_context(request, case))


@staff_required
@require_POST
def work_case_act(request, number: str, action: str):
    """One workflow action from its small htmx form; answers the refreshed case panel."""
    viewer = request_viewer(request)
    case = pages.found(case_selectors.case_get, viewer=viewer, number=number)
    error = ""
    try:
        form = CaseActionForm(request.POST)
        data = pages.cleaned(form)
        reply = data["reply"]
        if not reply.strip() and data["canned"] is not None:  # chosen without JavaScript to fill the box
            reply = case_selectors.canned_reply_text(case, action, data["canned"])
        delivery = form.delivery()
        case_services.case_act(
            viewer=viewer, case_id=case.pk, action=action, version=data["version"], comment=data["comment"],
            unit_code=data["unit_code"], result=data["result"], decision=data["decision"],
            assignee_username=data["assignee"], slot=data["slot"], parent_number=data["parent_number"],
            photos=request.FILES.getlist("photos"),
            reply=reply, note=data["note"], missing=data["missing"] or None, delivery=delivery,
            materials=[{"code": code, "original_seen": True} for code in data["seen"]] or None,
        )
    except DomainError as exc:
        error = exc.message
    if not request.headers.get("HX-Request"):
        # A plain form post (no JavaScript): redirect, so a reload cannot post the action again.
        if error:
            messages.error(request, error)
        return HttpResponseRedirect(reverse("web:work_case", args=[number]), status=303)
    case = case_selectors.case_get(viewer=viewer, number=number)
    return render(request, "web/work/_panel.html", _panel_context(request, case, error))


@staff_required
@require_POST
@sensitive_post_parameters("reason")
@sensitive_variables("numbers")
def work_case_reveal_id(request, number: str):
    """显示完整证件号: one field's ID numbers in full, recorded on the timeline before they are shown;
    answers the refreshed panel (the whole page without htmx: the number must not wait in a session)."""
    viewer = request_viewer(request)
    case = pages.found(case_selectors.case_get, viewer=viewer, number=number)
    posted = pages.cleaned(RevealForm(request.POST))
    field = posted["field"] or personal.APPLICANT
    revealed, errors, status = None, {}, 200
    try:
        case, numbers = case_services.case_reveal_id(viewer=viewer, case_id=case.pk, field=field,
                                                     reason=posted["reason"])
        revealed = {"field": field, "numbers": numbers}
    except DomainError as exc:
        errors, status = exc.errors or {"reason": [exc.message]}, exc.status
    case = case_selectors.case_get(viewer=viewer, number=number)
    context = {**_panel_context(request, case), "revealed": revealed, "reveal_errors": errors}
    if request.headers.get("HX-Request"):
        # htmx swaps only 2xx answers: the refusal is in the panel, next to the reason.
        response = render(request, "web/work/_panel.html", context)
    else:
        response = render(request, "web/work/case.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a full number must not come back from the browser's cache
    return response


def _export_query(viewer, tab: str, state: str) -> str:
    """The dashboard case-list filters that describe this queue tab, for its Excel export."""
    h = hierarchy()
    units = sorted(viewer.unit_ids)
    if not units or tab in ("soon", "waiting", "mine"):
        return ""
    query = {"unit": h.units[units[0]].code} if units[0] in h.units else {}
    query.update({"open": {"open": "1"}, "overdue": {"overdue": "1"}, "closed": {"closed": "1"}}[tab])
    if state:
        query["state"] = state
    return urlencode(query)


@staff_required
@require_safe
def work_material(request, number: str, index: int):
    """A material file of a case the staff member may see."""
    try:
        case = case_selectors.case_get(viewer=request_viewer(request), number=number)
        material = case.materials[index]
    except (DomainError, IndexError) as exc:
        raise Http404 from exc
    path = material.get("reference", "")
    if not path.startswith("materials/") or not default_storage.exists(path):
        raise Http404
    return FileResponse(default_storage.open(path, "rb"), content_type=material.get("content_type"),
                        filename=material.get("filename") or path.rsplit("/", 1)[-1])
