"""Cases over HTTP. Thin: parse, call one service or selector, render."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict

from yiwang.cases import attachments, deadlines, personal, selectors, services
from yiwang.cases.models import Case, Kind
from yiwang.cases.workflows import action_label, workflow
from yiwang.catalog.selectors import matter_cache, matter_info_by_id
from yiwang.core import idempotency, idnumber
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.schemas import Input, json_response
from yiwang.org.models import Resident
from yiwang.org.selectors import hierarchy, request_viewer, scope_q

router = Router(tags=["cases"])


class Material(Input):
    """One material of an application: a file uploaded first (POST /api/v1/uploads) and cited by its
    handle, or, by a window clerk at a hall, the original seen at the window."""

    model_config = ConfigDict(extra="forbid")  # a "reference" (a storage path) is refused by name

    code: str = Field(..., max_length=40)
    name: str = Field("", max_length=200, description="ignored: the catalogue's name is kept")
    upload: str | None = Field(None, max_length=64, description="the handle POST /api/v1/uploads answered, "
                               "for a file the caller uploaded and no case cites yet")
    original_seen: bool = Field(False, description="窗口核验原件: window clerks at a service hall, channel hall")


class CaseIn(Input):
    matter_code: str = Field(..., max_length=40)
    region_code: str | None = Field(None, max_length=32, description="applicant's or the location's region")
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=5000)
    form: dict = Field(default_factory=dict)
    materials: list[Material] = Field(default_factory=list, max_length=50)
    applicant_id: int | None = Field(None, description="resident applied for (staff acting on behalf, 代办)")
    applicant_name: str = Field("", max_length=50)
    applicant_phone: str = Field("", max_length=20)
    # "system" (免申即享, follow-ups, ledger items) and "open311" are the engine's and GeoReport's own.
    channel: Literal["online", "hall", "phone", "grid", "patrol", "camera"] = Field(
        "online", description="residents: online only; staff: where the application or report came in")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    address: str = Field("", max_length=200)
    home_visit: bool = Field(False, description="the applicant cannot travel and asks for a home visit (上门服务)")
    unit_code: str | None = Field(None, max_length=40, description="staff only: give the case to this unit "
                                  "(rectification items, assistance pairs) instead of routing it")
    supervisor_unit_code: str | None = Field(None, max_length=40, description="the unit that accepts its result")
    assignee: str | None = Field(None, max_length=150, description="responsible person: a username of that unit")
    due_at: dt.datetime | None = Field(None, description="the deadline, for kinds whose deadline is given (rectification)")
    photos: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50,
        description=f"a reported problem's photos, up to {attachments.MAX_PHOTOS}: handles POST /api/v1/uploads "
        "answered for JPEG or PNG files you uploaded and no case cites yet, re-encoded from their pixels (no EXIF "
        "or GPS: the report's place is lat/lng)")


class UnitRef(Schema):
    code: str
    name: str


class CaseOut(Schema):
    number: str
    kind: str
    matter_code: str
    matter_name: str
    title: str
    state: str
    state_label: str
    holder_unit: UnitRef
    region_code: str
    applicant_name: str
    applicant_phone: str
    channel: str
    created_at: dt.datetime
    accepted_at: dt.datetime | None
    due_at: dt.datetime | None
    closed_at: dt.datetime | None
    overdue: bool = Field(description="open, its clock running and past due_at: false once closed "
                                      "(compare closed_at with due_at) and while waiting on the applicant")
    warning_level: int
    version: int


class EventOut(Schema):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    action_label: str
    from_state: str
    to_state: str
    from_unit: str | None
    to_unit: str | None
    payload: dict
    hash: str


class ActionOut(Schema):
    name: str
    label: str
    needs: list[str]


class IdFieldOut(Schema):
    field: str = Field(..., description="applicant, description or form.<name>: what reveal-id takes")
    label: str
    masked: list[str] = Field(..., description="the ID numbers it holds, masked")


class CaseDetail(CaseOut):
    description: str
    form: dict
    materials: list[dict]
    decision: str
    result: str
    handling_unit: UnitRef | None
    parent: str | None
    id_fields: list[IdFieldOut] = Field(..., description="fields holding ID numbers; every text here shows them masked")
    timeline: list[EventOut]
    actions: list[ActionOut]


class CasePage(Schema):
    items: list[CaseOut]
    next_cursor: str | None


class DeliveryIn(Input):
    """结果送达方式: pickup (自取) names a service hall's code, post (邮寄) a tracking number, electronic
    (电子证照) the licence's reference."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["pickup", "post", "electronic"]
    hall: str = Field("", max_length=40)
    tracking: str = Field("", max_length=40)
    carrier: str = Field("", max_length=30)
    reference: str = Field("", max_length=100)


class ActionIn(Input):
    version: int = Field(..., description="the case version you saw; a stale one gets 409")
    comment: str = Field("", max_length=2000)
    unit_code: str | None = Field(None, max_length=40)
    result: str = Field("", max_length=5000)
    decision: str = Field("", max_length=20)
    assignee: str | None = Field(None, max_length=150, description="username of a colleague (schedule_visit)")
    slot: dt.datetime | None = Field(None, description="home-visit time (schedule_visit)")
    parent_number: str | None = Field(None, max_length=40, description="the case a duplicate is merged into (merge)")
    reply: str = Field("", max_length=2000, description="to the resident: shown on their case page, /lookup/, "
                       "Open311 and in their messages; required by reject, request_supplement, decide 不予 and an incident's "
                       "dismiss (不予立案)")
    note: str = Field("", max_length=2000, description="to colleagues only; required by transfer, escalate, "
                      "supervise. An older `comment` is taken as the reply or the note as the action declares")
    missing: list[str] = Field(default_factory=list, max_length=50,
                               description="request_supplement: codes of the matter's materials asked for")
    materials: list[Material] = Field(default_factory=list, max_length=50,
                                      description="resubmit: exactly the materials the supplement asked for")
    delivery: DeliveryIn | None = Field(None, description="close (办结) of an application: how the result reaches "
                                        "the applicant; required there")
    photos: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=50,
        description=f"up to {attachments.MAX_PHOTOS} photos, on an action that takes evidence (an incident's "
        "handle, verify, rework): handles POST /api/v1/uploads answered for JPEG or PNG files you uploaded and "
        "no case cites yet. Each is re-encoded from its pixels (no EXIF or GPS), scaled to at most "
        f"{attachments.PHOTO_EDGE} px, with a {attachments.THUMBNAIL_EDGE} px thumbnail")


class CaseFilterIn(Input):
    state: list[str] | None = None
    kind: str | None = None
    matter: str | None = None
    region: str | None = None
    holder_unit: str | None = None
    overdue: bool | None = Field(None, description="true: only overdue cases, as the overdue field says")
    open: bool | None = None
    due_before: dt.datetime | None = None
    due_after: dt.datetime | None = None
    applicant_phone: str | None = None
    q: str | None = Field(None, max_length=100, description="words in the title, description or address")
    created_after: dt.datetime | None = None
    order: str = "-created"
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


def case_summary(case: Case) -> dict:
    """Render a case from the row and the in-process caches only (no extra queries)."""
    h = hierarchy()
    wf = workflow(case.kind)
    unit = h.units.get(case.holder_unit_id)
    region = h.regions.get(case.region_id)
    matter = matter_info_by_id(case.matter_id)
    return {
        "number": case.number, "kind": case.kind,
        "matter_code": matter.code if matter else case.matter.code,
        "matter_name": matter.name if matter else case.matter.name,
        "title": idnumber.mask_text(case.title, phones=False), "state": case.state,
        "state_label": str(wf.states.get(case.state, case.state)),
        "holder_unit": {"code": unit.code, "name": unit.name} if unit else {"code": "", "name": ""},
        "region_code": region.code if region else "",
        "applicant_name": idnumber.mask_text(case.applicant_name, phones=False),
        "applicant_phone": idnumber.mask_phone(case.applicant_phone),
        "channel": case.channel, "created_at": case.created_at, "accepted_at": case.accepted_at,
        "due_at": case.due_at, "closed_at": case.closed_at, "overdue": deadlines.is_overdue(case),
        "warning_level": case.warning_level, "version": case.version,
    }


def case_detail(request: HttpRequest, case: Case) -> dict:
    viewer = request_viewer(request)
    h = hierarchy()
    d = case_summary(case)
    handling = h.units.get(case.handling_unit_id) if case.handling_unit_id else None
    # ID numbers anywhere in the case are masked; POST …/reveal-id shows one field in full, on the record.
    d.update(
        description=idnumber.mask_text(case.description, phones=False),
        form=idnumber.mask_data(case.form_data, phones=False),
        materials=idnumber.mask_data(case.materials, phones=False), decision=case.decision,
        result=idnumber.mask_text(case.result, phones=False),
        handling_unit={"code": handling.code, "name": handling.name} if handling else None,
        parent=case.parent.number if case.parent_id else None,
        id_fields=[
            {"field": f, "label": personal.field_label(case, f), "masked": [idnumber.mask(n) for n in numbers]}
            for f, numbers in personal.id_fields(case).items()
        ],
        timeline=[
            {
                "seq": e.seq, "at": e.at, "actor": e.actor_name, "action": e.action,
                "action_label": str(action_label(e.action)), "from_state": e.from_state, "to_state": e.to_state,
                "from_unit": e.from_unit.name if e.from_unit_id else None,
                "to_unit": e.to_unit.name if e.to_unit_id else None,
                "payload": idnumber.mask_data(e.payload, phones=False), "hash": e.hash,
            }
            for e in (selectors.case_timeline(case) if viewer.is_staff_member else selectors.public_timeline(case))
        ],
        actions=[
            {"name": a.name, "label": str(a.label), "needs": list(a.needs)}
            for a in selectors.allowed_actions(viewer, case)
        ],
    )
    return d


@router.post("/cases", response={200: CaseOut, 201: CaseOut}, summary="Submit an application or report (idempotent)")
def create_case(request, payload: CaseIn):
    """Send an `Idempotency-Key` header to make retries safe: a retry gets the first answer again (201, the
    same body, `Idempotent-Replayed: true`); after the stored answer expires (24 h), the first case with 200."""
    viewer = request_viewer(request)
    applicant = None
    if payload.applicant_id is not None:
        applicant = Resident.objects.filter(scope_q(viewer, holder_field=None, resident_field="id"),
                                            pk=payload.applicant_id).first()
        if applicant is None:
            raise NotFound(_("没有找到该居民，或您无权查看。"), field="applicant_id")
    photos = []
    if payload.photos:
        matter = matter_cache.get().by_code.get(payload.matter_code)
        if matter is not None and matter.kind != Kind.INCIDENT:
            raise ValidationFailed(_("只有反映的问题(事件)可以附现场照片。"), field="photos")
        # Re-encoded before the case's transaction (no lock held meanwhile), cited inside it.
        photos = attachments.photos_store(attachments.photo_uploads_read(viewer=viewer, handles=payload.photos),
                                          field="photos", name=_("现场照片"))
    created = services.case_create(
        viewer=viewer, matter_code=payload.matter_code, region_code=payload.region_code, title=payload.title,
        description=payload.description, form=payload.form,
        materials=[m.model_dump(exclude_defaults=True) | {"code": m.code} for m in payload.materials],
        applicant=applicant, applicant_name=payload.applicant_name, applicant_phone=payload.applicant_phone,
        channel=payload.channel, lat=payload.lat, lng=payload.lng, address=payload.address,
        idempotency_key=idempotency.request_key(request), home_visit=payload.home_visit,
        unit_code=payload.unit_code, supervisor_unit_code=payload.supervisor_unit_code,
        assignee_username=payload.assignee, due_at=payload.due_at, attachments=photos or None,
        then=(lambda case: attachments.photo_uploads_cite(viewer=viewer, handles=payload.photos, case_id=case.pk))
        if payload.photos else None,
    )
    # case_summary() is already in CaseOut's shape (cases/tests/test_intake_answer.py checks the bytes), so it
    # is rendered as it is: ninja validating our own answer again cost 7 % of an intake's CPU.
    return json_response(request, case_summary(created.case), status=200 if created.replayed else 201)


class UploadOut(Schema):
    upload: str = Field(..., description="cite it as a material's `upload`; only you can, and only once")
    filename: str
    size: int
    content_type: str
    sha256: str


@router.post("/uploads", response={201: UploadOut}, summary="Upload a material file (PDF, JPEG or PNG, ≤ 5 MB)")
def upload_file(request, file: File[UploadedFile]):
    """The file is checked by its content, stored, and bound to you: the handle in the answer is what a
    material of your next application cites. Nobody else can cite it, and a case cites it once."""
    upload = attachments.upload_create(viewer=request_viewer(request), upload=file)
    return Status(201, {"upload": upload.token, "filename": upload.filename, "size": upload.size,
                        "content_type": upload.content_type, "sha256": upload.sha256})


@router.get("/cases", response=CasePage, summary="Cases the caller may see, filtered, keyset-paged")
def list_cases(request, filters: Query[CaseFilterIn]):
    f = selectors.CaseFilters(
        state=filters.state, kind=filters.kind, matter_code=filters.matter, region_code=filters.region,
        holder_unit_code=filters.holder_unit, overdue=filters.overdue, open=filters.open,
        due_before=filters.due_before, due_after=filters.due_after, applicant_phone=filters.applicant_phone,
        text=filters.q, created_after=filters.created_after,
    )
    page = selectors.case_list(viewer=request_viewer(request), filters=f, order=filters.order, cursor=filters.cursor,
                               limit=filters.limit)
    return {"items": [case_summary(c) for c in page.items], "next_cursor": page.next_cursor}


@router.get("/cases/{number}", response=CaseDetail, summary="One case with its timeline and the caller's actions")
def get_case(request, number: str):
    return case_detail(request, selectors.case_get(viewer=request_viewer(request), number=number))


@router.post("/cases/{number}/actions/{action}", response=CaseDetail, summary="Take a workflow action")
def act_on_case(request, number: str, action: str, payload: ActionIn):
    viewer = request_viewer(request)
    case = selectors.case_get(viewer=viewer, number=number)
    # Read and re-encoded before the step's transaction; cited inside it, so a refused step (a stale
    # version, an action without evidence) leaves the uploads for the caller to cite again.
    photos = attachments.photo_uploads_read(viewer=viewer, handles=payload.photos)
    services.case_act(viewer=viewer, case_id=case.pk, action=action, version=payload.version,
                      comment=payload.comment, unit_code=payload.unit_code, result=payload.result,
                      decision=payload.decision, assignee_username=payload.assignee, slot=payload.slot,
                      parent_number=payload.parent_number, reply=payload.reply, note=payload.note,
                      missing=payload.missing or None,
                      materials=[m.model_dump(exclude_defaults=True) | {"code": m.code}
                                 for m in payload.materials] or None,
                      delivery=payload.delivery.model_dump() if payload.delivery else None, photos=photos,
                      then=lambda acted: attachments.photo_uploads_cite(viewer=viewer, handles=payload.photos,
                                                                        case_id=acted.pk))
    return case_detail(request, selectors.case_get(viewer=viewer, number=number))


class RevealIn(Input):
    field: str = Field("applicant", max_length=60, description="applicant, description or form.<name> (see id_fields)")
    reason: str = Field(..., max_length=500, description="why you need the full number; recorded on the timeline")


class RevealOut(Schema):
    field: str
    id_numbers: list[str]
    seq: int = Field(..., description="the timeline event that records this reveal")
    version: int


@router.post("/cases/{number}/reveal-id", response=RevealOut, summary="See an ID number in full (recorded)")
def reveal_id(request, number: str, payload: RevealIn):
    """For staff of the unit holding or handling the case. Appends a `reveal_id` event (who, why, which
    field; no state change) to the case's timeline before answering; a reason is required."""
    viewer = request_viewer(request)
    case = selectors.case_get(viewer=viewer, number=number)
    case, numbers = services.case_reveal_id(viewer=viewer, case_id=case.pk, field=payload.field, reason=payload.reason)
    return {"field": payload.field, "id_numbers": numbers, "seq": case.event_count, "version": case.version}
