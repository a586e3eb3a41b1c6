"""Resident portal pages. Thin: read with selectors, write with services, render."""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from yiwang.cases import deadlines
from yiwang.cases import selectors as case_selectors
from yiwang.cases import services as case_services
from yiwang.cases.attachments import photos_store, upload_create
from yiwang.cases.models import Case
from yiwang.cases.services.confirmation import incident_answer
from yiwang.cases.workflows import action_label, workflow
from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog.models import Delivery
from yiwang.catalog.search import resident_search
from yiwang.core import clock, forms, maps, pages, throttle
from yiwang.core.errors import DomainError
from yiwang.core.idnumber import mask_phone
from yiwang.feedback.models import TAGS, Rating
from yiwang.feedback.selectors import evaluation_for_case
from yiwang.feedback.services import evaluation_create, may_rate_online
from yiwang.org.models import CodePurpose, Level, Resident
from yiwang.org.selectors import (
    ANONYMOUS,
    communities,
    hierarchy,
    region_outlines,
    request_viewer,
    service_halls,
)
from yiwang.web.accounts import CodeLoginForm
from yiwang.web.accounts import _send as send_code
from yiwang.web.evidence import RESIDENT_ANSWERS, evidence_context, lookup_token
from yiwang.web.forms import (
    REPORT_FIELDS,
    ApplicationForm,
    LoginForm,
    ReportForm,
    ResidentActionForm,
    fields_for,
    read_form,
)


class LoginView(auth_views.LoginView):
    """Django's login page with core.throttle's limits: refused attempts answer 429 and Retry-After."""

    template_name = "web/login.html"
    authentication_form = LoginForm
    # A FormView treats PUT as POST: refused, as on every other page that takes a form.
    http_method_names = ["get", "head", "post"]

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttled is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.throttled.retry_after)
        return response


@require_safe
def home(request):
    q = request.GET.get("q", "").strip()
    matters = catalog_selectors.matter_list(residents=True)
    if q:
        order = {code: i for i, code in enumerate(resident_search(q))}
        results = sorted((m for m in matters if m.code in order), key=lambda m: order[m.code])
        return render(request, "web/home.html", {"q": q, "results": results})
    by_event: dict[str, list] = defaultdict(list)
    by_level: dict[str, list] = defaultdict(list)
    for m in matters:
        if m.kind == "incident":
            continue
        by_event[m.life_event or _("其他")].append(m)
        by_level[m.handling_levels[0] if m.handling_levels else ""].append(m)
    levels = [(Level(lv).label, by_level[lv]) for lv in ("community", "town", "city", "area") if by_level.get(lv)]
    return render(request, "web/home.html", {"q": q, "by_event": dict(by_event), "by_level": levels})


@require_safe
def matter_guide(request, code: str):
    matter = pages.found(catalog_selectors.matter_get, code, residents=True)
    levels = [Level(lv).label for lv in matter.handling_levels]
    viewer = request_viewer(request)
    home_path = None
    if viewer.resident_id:
        home_path = Resident.objects.filter(pk=viewer.resident_id).values_list("region__path", flat=True).first()
    deliveries = [Delivery(d).label for d in matter.delivery if d in Delivery.values]
    return render(request, "web/guide.html", {
        "matter": matter, "levels": levels, "deliveries": deliveries, "own_halls": bool(home_path),
        "halls": catalog_selectors.halls_for(matter, region_path=home_path),
        "faqs": catalog_selectors.faqs_published(matter), "documents": catalog_selectors.documents_of(matter),
    })


@require_safe
def matter_document(request, code: str, document_id: int):
    """A blank form or sample from a guide, as a download under its title, never rendered inline."""
    doc = catalog_selectors.document_get(matter_code=code, document_id=document_id)
    try:
        handle = doc.file.open("rb")
    except FileNotFoundError:
        raise Http404(_("表格文件已不存在，请联系办理单位。")) from None
    response = FileResponse(handle, as_attachment=True, filename=doc.filename, content_type=doc.content_type)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@login_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters()  # a form may ask for an ID number (format id-number): not in error reports
def apply(request, code: str):
    matter = pages.found(catalog_selectors.matter_get, code, residents=True)
    viewer = request_viewer(request)
    on_behalf = bool(viewer.memberships)  # a window clerk applying for a resident (代办)
    errors: dict = {}
    values: dict = {}
    if request.method == "POST":
        values = read_form(matter.form_schema, request.POST)
        try:
            created = _submit_application(request, viewer, matter, values, on_behalf=on_behalf)
        except DomainError as exc:
            errors = exc.errors or {"__all__": [exc.message]}
            messages.error(request, exc.message)
        else:
            messages.success(request, _("已提交，办件编号 %(n)s。请记下编号以便查询。") % {"n": created.case.number})
            target = "web:work_case" if on_behalf else "web:case"
            return HttpResponseRedirect(reverse(target, args=[created.case.number]))
    context = {
        "matter": matter, "fields": fields_for(matter.form_schema, values, errors), "errors": errors,
        "idempotency_key": pages.form_key(request), "on_behalf": on_behalf,
        "material_errors": errors.get("materials", []), "other_errors": errors.get("__all__", []),
    }
    return render(request, "web/apply.html", context)


@transaction.atomic  # a refused application leaves no unclaimed upload behind
def _submit_application(request, viewer, matter, values: dict, *, on_behalf: bool):
    materials: list[dict] = []
    for material in matter.materials:
        upload = request.FILES.get(f"m_{material['code']}")
        if upload is not None:
            token = upload_create(viewer=viewer, upload=upload, field="materials").token
            materials.append({"code": material["code"], "upload": token})
        elif on_behalf and request.POST.get(f"seen_{material['code']}") == "on":
            # checked at the window: the clerk saw the original (原件核验)
            materials.append({"code": material["code"], "original_seen": True})
    posted = pages.cleaned(ApplicationForm(request.POST))
    # A resident's own name and phone come from their account; a clerk types the applicant's (代办).
    applicant = ({"applicant_name": posted["applicant_name"], "applicant_phone": posted["applicant_phone"]}
                 if on_behalf else {})
    return case_services.case_create(
        viewer=viewer, matter_code=matter.code, form=values, materials=materials,
        description=posted["description"], region_code=posted["region_code"], **applicant,
        channel="hall" if on_behalf else "online", idempotency_key=posted["idempotency_key"],
        home_visit=posted["home_visit"],
    )


def _case_context(request, case: Case, viewer) -> dict:
    """What the resident-facing case page and /lookup/ show: the public timeline only."""
    wf = workflow(case.kind)
    timeline = case_selectors.public_timeline(case)
    actions = case_selectors.allowed_actions(viewer, case) if viewer.user_id else []
    # An incident's point and photos (the public ones), and the reporter's 已解决吗？ (web/evidence.py).
    answers = {a.name for a in actions}
    evidence = ({**evidence_context(case, staff=False), "may_answer": "confirm" in answers,
                 "may_reopen": "reopen" in answers} if viewer.user_id else {})
    evaluation = evaluation_for_case(case.pk)
    supplement_note = ""
    if case.state == "supplement":
        asked = [e for e in timeline if e.action == "request_supplement"]
        supplement_note = (asked[-1].payload.get("reply") or asked[-1].payload.get("comment", "")) if asked else ""
    return {
        "case": case, "state_label": wf.states.get(case.state, case.state),
        "timeline": [(e, action_label(e.action)) for e in timeline],
        "actions": actions, **evidence,
        "evaluation": evaluation, "supplement_note": supplement_note,
        "can_rate": evaluation is None and may_rate_online(viewer, case),
        "ratings": list(reversed(Rating.choices)), "tags": TAGS["online"],
        "overdue": deadlines.missed_deadline(case),
        "parent": case_selectors.parent_progress(case),
        # 补正 online: exactly the materials asked for; and the decision with how the result is delivered.
        "may_resubmit": case.state == "supplement" and any(
            a.name == "resubmit" for a in case_selectors.allowed_actions(viewer, case)),
        "asked": case_selectors.supplement_asked(case) if case.state == "supplement" else [],
        "outcome": case_selectors.case_outcome(timeline),
    }


@login_required(login_url="web:login")
@require_safe
def case_page(request, number: str):
    viewer = request_viewer(request)
    case = pages.found(case_selectors.case_get, viewer=viewer, number=number)
    return render(request, "web/case.html", _case_context(request, case, viewer))


@login_required(login_url="web:login")
@require_http_methods(["POST"])
def case_resident_action(request, number: str):
    viewer = request_viewer(request)
    try:
        case = case_selectors.case_get(viewer=viewer, number=number)
        posted = pages.cleaned(ResidentActionForm(request.POST))
        action = posted["action"]
        if action == "rate":
            evaluation_create(viewer=viewer, case_id=case.pk, rating=posted["rating"], comment=posted["comment"],
                              tags=posted["tags"])
            messages.success(request, _("感谢您的评价。"))
        elif action in RESIDENT_ANSWERS:  # 已解决吗？ 是 / 否, or reopening within 7 days
            incident_answer(case_id=case.pk, answer=RESIDENT_ANSWERS[action], comment=posted["comment"],
                            viewer=viewer)
            messages.success(request, _("感谢您的答复。"))
        elif action == "resubmit":
            return _resubmit(request, viewer, case, posted)
        elif action == "withdraw":
            case_services.case_act(viewer=viewer, case_id=case.pk, action=action,
                                   version=forms.integer(posted["version"], "version"))
            messages.success(request, _("已提交。"))
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("web:case", args=[number]))


def _resubmit(request, viewer, case: Case, posted: dict):
    """补正提交 from the case page: a file for each material asked for (m_<code>) and the applicant's
    words, in one transaction; a refusal answers the page again with its reason and status."""
    try:
        with transaction.atomic():  # a refused resubmission leaves no unclaimed upload behind
            materials = [{"code": key[2:], "upload": upload_create(viewer=viewer, upload=upload,
                                                                   field="materials").token}
                         for key, upload in request.FILES.items() if key.startswith("m_")]
            case_services.case_act(viewer=viewer, case_id=case.pk, action="resubmit",
                                   version=forms.integer(posted["version"], "version"), comment=posted["comment"],
                                   materials=materials)
    except DomainError as exc:
        context = {**_case_context(request, case, viewer), "supplement_errors": [exc.message]}
        return render(request, "web/case.html", context, status=exc.status)
    messages.success(request, _("补正材料已提交，办理时限恢复计算。"))
    return HttpResponseRedirect(reverse("web:case", args=[case.number]))


@login_required(login_url="web:login")
@require_safe
def my_cases(request):
    viewer = request_viewer(request)
    if not viewer.resident_id:
        return HttpResponseRedirect(reverse("web:queue"))
    page = case_selectors.case_list(viewer=viewer, filters=case_selectors.CaseFilters(),
                                    cursor=request.GET.get("cursor"), limit=20)
    rows = [(c, workflow(c.kind).states.get(c.state, c.state)) for c in page.items]
    return render(request, "web/my_cases.html", {
        "page": page, "rows": rows, "messages_for_me": case_selectors.resident_notifications(viewer)})


@require_safe
def lookup(request):
    """People without an account find a case by its number and the phone number they gave."""
    number = request.GET.get("number", "").strip()
    phone = request.GET.get("phone", "").strip()
    case = None
    error = ""
    status = 200
    if number or phone:
        # Case numbers are sequential: without a limit per number, its phone is a matter of guesses.
        limits = {"lookup:number:" + number.upper()[:40]: settings.YIWANG_LOOKUP_FAILURES_PER_NUMBER,
                  "lookup:" + throttle.address_key(request): settings.YIWANG_LOOKUP_FAILURES_PER_ADDRESS}
        try:
            reserved = throttle.reserve(limits, now=clock.now(), what=f"lookup number={number[:40]!r}",
                                        message=_("查询失败次数过多，请 %(n)s 分钟后再试。"))
        except throttle.TooManyAttempts as exc:
            error, status = exc.message, exc.status
            retry_after = exc.retry_after
        else:
            case = case_selectors.case_lookup(number=number, phone=phone)
            if case is None:
                error = _("没有找到编号与手机号都相符的办件。")
            else:
                throttle.release(reserved)
    context = {"number": number, "phone": phone, "error": error}
    if case is not None:
        # public_view: a tracking number or licence reference shows its last characters only.
        context.update(_case_context(request, case, viewer=ANONYMOUS), public_view=True)
        # The report's photos and the handling's after photos, through URLs bound to this lookup.
        context.update(evidence_context(case, staff=False, lookup=lookup_token(case)))
    response = render(request, "web/lookup.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("description", "address", "phone", "code")
def report(request):
    """Report a problem (随手拍): category, description, photo and a map pin; becomes an incident.

    A resident or staff member reports as themselves. Anyone else (no account, or an account that is
    neither) gives a mainland mobile number and the code sent to it (purpose "report"), checked in
    the request that opens the case (cases.services.case_report_by_phone); they are told of its steps
    by SMS and find it on /lookup/ with the number, where they are sent once it is stored."""
    viewer = request_viewer(request)
    by_phone = not (viewer.resident_id or viewer.is_staff_member)
    errors: dict = {}
    phone = request.POST.get("phone", "").strip()[:20]
    sent = False
    status, retry_after = 200, None
    if request.method == "POST":
        try:
            if by_phone and request.POST.get("step") == "send":
                phone = send_code(request, CodePurpose.REPORT)
                sent = True
            else:
                created = _submit_report(request, viewer, by_phone=by_phone)
        except DomainError as exc:
            errors = pages.refused(request, exc)
            status = 429 if exc.status == 429 else 422
            retry_after = getattr(exc, "retry_after", None)
            sent = by_phone and request.POST.get("step") != "send"
        else:
            if not sent:
                number = created.case.number
                if not by_phone:
                    messages.success(request, _("已上报，编号 %(n)s。我们会尽快处理。") % {"n": number})
                    return HttpResponseRedirect(reverse("web:case", args=[number]))
                messages.success(request, _("已上报，编号 %(n)s。处理进展会以短信告知 %(phone)s；凭编号和手机号可随时查件，"
                                            "用此号码注册或验证码登录后，可在“我的办件”中查看。")
                                 % {"n": number, "phone": mask_phone(created.case.applicant_phone)})
                return HttpResponseRedirect(reverse("web:lookup") + "?" + urlencode(
                    {"number": number, "phone": created.case.applicant_phone}))
    points = [{"lat": r.lat, "lng": r.lng, "label": r.name, "color": "#57606a"}
              for r in _community_points()]
    map_config = {"center": maps.centre(), "zoom": 10, "pick": True,
                  "points": points, "outlines": region_outlines(level="grid")}
    # For the form alone: a stored report is answered by a redirect (this read was ~15 % of its CPU).
    categories = catalog_selectors.matter_list(kind="incident")
    response = render(request, "web/report.html", {
        "categories": categories, "communities": communities(), "errors": errors, "map_config": map_config,
        "idempotency_key": pages.form_key(request), "by_phone": by_phone, "phone": phone, "sent": sent,
        "next": "",
    }, status=status)
    if status == 429 and retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _submit_report(request, viewer, *, by_phone: bool):
    # Up to attachments.MAX_PHOTOS, re-encoded so only their pixels are kept, each with a thumbnail.
    photos = photos_store(request.FILES.getlist("photos") + request.FILES.getlist("photo"), field="photos",
                          name=_("现场照片"))
    posted = pages.cleaned(ReportForm(request.POST), rename=REPORT_FIELDS)
    fields = {"matter_code": posted["category"], "region_code": posted["region_code"],
              "description": posted["description"], "attachments": photos, "lat": posted["lat"],
              "lng": posted["lng"], "address": posted["address"], "idempotency_key": posted["idempotency_key"]}
    if by_phone:
        proof = pages.cleaned(CodeLoginForm(request.POST))
        return case_services.case_report_by_phone(phone=proof["phone"], code=proof["code"], **fields)
    return case_services.case_create(viewer=viewer, channel="online", **fields)


def _community_points():
    from yiwang.org.models import Region

    return Region.objects.filter(level="community", lat__isnull=False).only("name", "lat", "lng")


@require_safe
def halls(request):
    """Where to go: every service hall, nearest first from a chosen community, on a list and a map."""
    near = request.GET.get("near") or None
    try:
        rows = service_halls(near_region_code=near)
    except DomainError:
        rows, near = service_halls(), None
    h = hierarchy()
    listing = []
    for hall, distance in rows:
        level = h.regions[hall.region_id].level if hall.region_id in h.regions else ""
        listing.append({"hall": hall, "distance": distance,
                        "matters": catalog_selectors.matters_handled_at(unit_kind=hall.kind, level=level)})
    points = [{"lat": r["hall"].lat, "lng": r["hall"].lng, "label": r["hall"].name}
              for r in listing if r["hall"].lat is not None]
    map_config = {"center": maps.centre(), "zoom": 10, "points": points}
    return render(request, "web/halls.html", {"listing": listing, "communities": communities(), "near": near,
                                              "map_config": map_config})
