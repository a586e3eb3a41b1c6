"""An incident's evidence on the pages: its point on a map and its photos (before and after), the
photo files themselves, served only to those who may see the case, and the reporter's
"已解决吗？" page reached from the SMS link without signing in."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from yiwang.cases import evidence
from yiwang.cases import selectors as case_selectors
from yiwang.cases.models import Case, Kind
from yiwang.cases.services.confirmation import case_id_from_token, incident_answer
from yiwang.cases.workflows import workflow
from yiwang.core import pages
from yiwang.core.errors import DomainError, NotFound
from yiwang.core.idnumber import mask_text
from yiwang.org.selectors import Viewer, request_viewer
from yiwang.web.forms import ResidentActionForm

# The resident's buttons on their case page (ResidentActionForm's action) and the answer each gives.
RESIDENT_ANSWERS = {"confirm": "yes", "not_resolved": "no", "reopen": "reopen"}


def may_see_everything(viewer: Viewer) -> bool:
    """Staff see every step's photos; a resident those the workflow declares public."""
    return viewer.is_staff_member or viewer.is_superuser


def evidence_context(case: Case, *, staff: bool, token: str = "", lookup: str = "") -> dict:
    """The map (the case's point) and the photos by step, for web/work/_evidence.html. The photos'
    URLs are the case page's, or bound to the SMS link's ``token``, or to a /lookup/ (``lookup``)."""
    if case.kind != Kind.INCIDENT:
        return {}
    steps = evidence.evidence(case, staff=staff)
    point = None
    if case.lat is not None and case.lng is not None:
        point = {"center": [case.lat, case.lng], "zoom": 16,
                 "points": [{"lat": case.lat, "lng": case.lng, "label": mask_text(case.title, phones=False)}]}
    # As a data attribute (escaped by the template), not json_script: the panel is swapped by htmx.
    return {"evidence_steps": steps, "evidence_map": point, "evidence_token": token, "evidence_lookup": lookup,
            "evidence_map_json": json.dumps(point, ensure_ascii=False) if point else ""}


def _serve(case: Case, seq: int, index: int, *, staff: bool, thumbnail: bool):
    try:
        path, content_type = evidence.photo_path(case, seq, index, staff=staff, thumbnail=thumbnail)
    except NotFound as exc:
        raise Http404 from exc
    if not default_storage.exists(path):
        raise Http404
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    # A photo of someone's street or home: the browser keeps it, no shared cache does.
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required(login_url="web:login")
@require_safe
def case_photo(request, number: str, seq: int, index: int):
    """One photo (``?size=thumb``: its thumbnail) of a case the viewer may see; 404 otherwise."""
    viewer = request_viewer(request)
    case = pages.found(case_selectors.case_get, viewer=viewer, number=number)
    return _serve(case, seq, index, staff=may_see_everything(viewer), thumbnail=request.GET.get("size") == "thumb")


def _case_by_token(number: str, token: str) -> Case:
    case_id = case_id_from_token(token)
    case = Case.objects.filter(pk=case_id, kind=Kind.INCIDENT).first() if case_id else None
    if case is None or case.number != number.strip().upper():
        raise Http404
    return case


@require_safe
def case_answer_photo(request, number: str, token: str, seq: int, index: int):
    """A public photo of the case the SMS link was made for (the reporter without an account)."""
    case = _case_by_token(number, token)
    return _serve(case, seq, index, staff=False, thumbnail=request.GET.get("size") == "thumb")


# /lookup/ proves the phone once; its photos are reached through a signed token naming that case, so
# a photo can be neither guessed by path nor fetched through another case's lookup.
_LOOKUP_SALT = "yiwang.web.lookup.photos"
LOOKUP_PHOTO_MAX_AGE = 6 * 3600


def lookup_token(case: Case) -> str:
    """The signed part of a /lookup/ photo URL, made when the number and phone matched."""
    return signing.dumps({"c": case.pk}, salt=_LOOKUP_SALT, compress=True)


@require_safe
def lookup_photo(request, number: str, token: str, seq: int, index: int):
    """A public photo (the report's, the handling's after photos) of the case a lookup found."""
    try:
        data = signing.loads(token, salt=_LOOKUP_SALT, max_age=LOOKUP_PHOTO_MAX_AGE)
    except signing.BadSignature:
        raise Http404 from None
    case_id = data.get("c") if isinstance(data, dict) else None
    case = Case.objects.filter(pk=case_id, kind=Kind.INCIDENT).first() if isinstance(case_id, int) else None
    if case is None or case.number != number.strip().upper():
        raise Http404
    return _serve(case, seq, index, staff=False, thumbnail=request.GET.get("size") == "thumb")


@require_http_methods(["GET", "HEAD", "POST"])
def case_answer(request, number: str, token: str):
    """已解决吗？ The reporter's page from the SMS link: the handling's result and after photos, 是/否,
    and for 7 days after closing a way to say it came back."""
    case = _case_by_token(number, token)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        viewer = request_viewer(request)
        try:
            posted = pages.cleaned(ResidentActionForm(request.POST))
            incident_answer(case_id=case.pk, answer=RESIDENT_ANSWERS.get(posted["action"], ""),
                            comment=posted["comment"], token=token,
                            viewer=viewer if viewer.resident_id else None)
        except DomainError as exc:
            errors = exc.errors or {"general": [exc.message]}
            status = exc.status
        else:
            messages.success(request, _("感谢您的答复。"))
            return HttpResponseRedirect(reverse("web:case_answer", args=[case.number, token]), status=303)
        case.refresh_from_db()
    handled = [e for e in case_selectors.public_timeline(case) if e.action == "handle"]
    return render(request, "web/case_answer.html", {
        "case": case, "state_label": workflow(case.kind).states.get(case.state, case.state), "token": token,
        "result": handled[-1].payload.get("result", "") if handled else "", "errors": errors,
        "may_answer": case.state == "confirming", "may_reopen": case.reporter_may_reopen,
        **evidence_context(case, staff=False, token=token),
    }, status=status)
