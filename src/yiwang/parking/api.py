"""Parking over HTTP, for integrators (barrier gates, cameras, payment platforms) and apps. Thin."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from yiwang.cases.attachments import photos_store
from yiwang.core import idnumber
from yiwang.core.errors import ValidationFailed
from yiwang.core.schemas import BASE64, Input
from yiwang.org.selectors import request_viewer
from yiwang.parking import selectors, services
from yiwang.parking.models import ParkingSession, Penalty, Violation

router = Router(tags=["parking"])


# A band's bounds are wall-clock times of the zone's day, without an offset: RFC 3339 "partial-time".
# Pydantic would declare "format: time", which promises a full-time with offset ("08:00:00+08:00").
LOCAL_TIME = {"format": "partial-time"}


class BandOut(Schema):
    name: str
    start: dt.time = Field(..., json_schema_extra=LOCAL_TIME)
    end: dt.time = Field(..., json_schema_extra=LOCAL_TIME)
    unit_minutes: int
    unit_price: Decimal
    cap: Decimal | None


class ZoneOut(Schema):
    code: str
    name: str
    kind: str
    region: str
    capacity: int
    occupied: int
    free: int
    free_minutes: int
    daily_cap: Decimal | None
    operator: str
    lat: float | None
    lng: float | None
    bands: list[BandOut]


@router.get("/parking/zones", response=list[ZoneOut], summary="Zones the caller may see, with occupancy now")
def zones(request):
    out = []
    for row in selectors.zone_list(viewer=request_viewer(request)):
        z = row.zone
        out.append(ZoneOut(code=z.code, name=z.name, kind=z.kind, region=z.region.code, capacity=z.capacity,
                           occupied=row.occupied, free=row.free, free_minutes=z.free_minutes, daily_cap=z.daily_cap,
                           operator=z.operator, lat=z.lat, lng=z.lng,
                           bands=[BandOut(name=p.name, start=p.start, end=p.end, unit_minutes=p.unit_minutes,
                                          unit_price=p.unit_price, cap=p.cap) for p in z.periods.all()]))
    return out


class EntryIn(Input):
    zone: str = Field(..., max_length=40)
    plate: str = Field(..., max_length=20, description="陕A12345, or 陕AD12345 for new energy")
    at: dt.datetime | None = Field(None, description="the gate's time; now when absent")
    space: str = Field("", max_length=20)


class ExitIn(Input):
    zone: str = Field(..., max_length=40)
    plate: str = Field(..., max_length=20)
    at: dt.datetime | None = None


class ChargeOut(Schema):
    band: str
    start: dt.datetime
    end: dt.datetime
    units: int
    amount: Decimal


class SessionOut(Schema):
    id: int
    zone: str
    plate: str
    space: str | None
    entered_at: dt.datetime
    exited_at: dt.datetime | None
    fee: Decimal | None = Field(None, description="yuan, two decimals; set at exit")
    charges: list[ChargeOut]


def _session_out(s: ParkingSession) -> SessionOut:
    return SessionOut(id=s.pk, zone=s.zone.code, plate=s.plate, space=s.space.code if s.space else None,
                      entered_at=s.entered_at, exited_at=s.exited_at, fee=s.fee, charges=s.charges)


@router.post("/parking/sessions/entry", response={201: SessionOut}, summary="A vehicle enters a zone (入场)")
def session_entry(request, payload: EntryIn):
    session = services.session_enter(viewer=request_viewer(request), zone_code=payload.zone, plate=payload.plate,
                                     at=payload.at, space_code=payload.space)
    return Status(201, _session_out(session))


@router.post("/parking/sessions/exit", response=SessionOut, summary="A vehicle leaves (出场); the answer carries the fee")
def session_exit(request, payload: ExitIn):
    session = services.session_exit(viewer=request_viewer(request), zone_code=payload.zone, plate=payload.plate,
                                    at=payload.at)
    return _session_out(session)


class ViolationIn(Input):
    plate: str = Field(..., max_length=20)
    lat: float
    lng: float
    source: str = Field(..., description="patrol, camera or report")
    observed_at: dt.datetime | None = None
    address: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    zone: str = Field("", max_length=40, description="zone code; else the nearest zone within 150 m, if any")
    photo: str | None = Field(None, max_length=7_000_000, description="JPEG or PNG, base64 (data: URL allowed)",
                              json_schema_extra=BASE64)
    idempotency_key: str | None = Field(None, max_length=64, description="a resend with the same key records once")


class PenaltyOut(Schema):
    id: int
    decision: str
    amount: Decimal
    state: str
    repeat_count: int
    decided_at: dt.datetime
    paid_at: dt.datetime | None
    appeal: str | None = Field(None, description="state of the appeal, if any")


class ViolationOut(Schema):
    id: int
    plate: str
    observed_at: dt.datetime
    source: str
    lat: float
    lng: float
    address: str
    grid: str
    zone: str | None
    case: str
    case_state: str
    penalty: PenaltyOut | None


class ViolationPage(Schema):
    items: list[ViolationOut]
    next_cursor: str | None


def _penalty_out(p: Penalty) -> PenaltyOut:
    appeal = getattr(p, "appeal", None)  # a missing reverse one-to-one raises AttributeError
    return PenaltyOut(id=p.pk, decision=p.decision, amount=p.amount, state=p.state, repeat_count=p.repeat_count,
                      decided_at=p.decided_at, paid_at=p.paid_at, appeal=appeal.state if appeal else None)


def _violation_out(v: Violation) -> ViolationOut:
    penalty = getattr(v, "penalty", None)
    return ViolationOut(id=v.pk, plate=v.plate, observed_at=v.observed_at, source=v.source, lat=v.lat, lng=v.lng,
                        address=idnumber.mask_text(v.address, phones=False), grid=v.region.code,
                        zone=v.zone.code if v.zone else None,
                        case=v.case.number, case_state=v.case.state,
                        penalty=_penalty_out(penalty) if penalty else None)


def _photo(data: str | None) -> list[dict]:
    if not data:
        return []
    payload = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(_("照片须为 base64 编码的 JPEG 或 PNG。"), field="photo") from None
    # Re-encoded from its pixels, as every photo of an incident is: a camera's or a phone's EXIF (GPS,
    # serial number) is not kept.
    return photos_store([ContentFile(raw, name="violation")], field="photo", name=_("现场照片"))


@router.post("/parking/violations", response={201: ViolationOut}, summary="Record a violation (违法停车); opens its case")
def violation_create(request, payload: ViolationIn):
    violation = services.violation_record(
        viewer=request_viewer(request), plate=payload.plate, lat=payload.lat, lng=payload.lng, source=payload.source,
        observed_at=payload.observed_at, address=payload.address, description=payload.description,
        zone_code=payload.zone, photos=_photo(payload.photo), idempotency_key=payload.idempotency_key)
    return Status(201, _violation_out(selectors.violation_get(viewer=request_viewer(request),
                                                              violation_id=violation.pk)))


@router.get("/parking/violations", response=ViolationPage, summary="Violations the caller may see, newest first")
def violation_list(request, plate: str = "", source: str = "", region: str = "", penalty: str = "",
                   cursor: str | None = None, limit: int = 50):
    page = selectors.violation_list(
        viewer=request_viewer(request),
        filters=selectors.ViolationFilters(plate=plate.strip().upper(), source=source, region_code=region,
                                           penalty=penalty),
        cursor=cursor, limit=limit)
    return ViolationPage(items=[_violation_out(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/parking/violations/{violation_id}", response=ViolationOut, summary="One violation")
def violation_detail(request, violation_id: int):
    return _violation_out(selectors.violation_get(viewer=request_viewer(request), violation_id=violation_id))


class DecideIn(Input):
    note: str = Field("", max_length=2000)


@router.post("/parking/violations/{violation_id}/penalty", response={201: PenaltyOut},
             summary="Decide the penalty (处罚决定) by the rules; the case's 处置 step")
def penalty_decide(request, violation_id: int, payload: DecideIn):
    penalty = services.penalty_decide(viewer=request_viewer(request), violation_id=violation_id, note=payload.note)
    return Status(201, _penalty_out(penalty))


class PaymentIn(Input):
    reference: str = Field("", max_length=64)
    paid_at: dt.datetime | None = None


@router.post("/parking/penalties/{penalty_id}/payment", response=PenaltyOut, summary="Record a fine as paid")
def penalty_pay(request, penalty_id: int, payload: PaymentIn):
    return _penalty_out(services.penalty_pay(viewer=request_viewer(request), penalty_id=penalty_id,
                                             reference=payload.reference, paid_at=payload.paid_at))


class AppealIn(Input):
    reason: str = Field(..., max_length=2000)


class AppealOut(Schema):
    id: int
    penalty: int
    state: str
    reason: str
    note: str
    filed_at: dt.datetime
    decided_at: dt.datetime | None


class AppealDecisionIn(Input):
    outcome: str = Field(..., description="upheld or overturned")
    note: str = Field(..., max_length=2000)


def _appeal_out(a) -> AppealOut:
    # Typed text (the citizen's reason, the officer's note) answers with its ID numbers masked (core.idnumber).
    return AppealOut(id=a.pk, penalty=a.penalty_id, state=a.state,
                     reason=idnumber.mask_text(a.reason, phones=False), note=idnumber.mask_text(a.note, phones=False),
                     filed_at=a.filed_at, decided_at=a.decided_at)


@router.post("/parking/penalties/{penalty_id}/appeal", response={201: AppealOut}, summary="File an appeal (申诉)")
def appeal_file(request, penalty_id: int, payload: AppealIn):
    appeal = services.appeal_file(viewer=request_viewer(request), penalty_id=penalty_id, reason=payload.reason)
    return Status(201, _appeal_out(appeal))


@router.post("/parking/appeals/{appeal_id}/decision", response=AppealOut, summary="Uphold or overturn (维持/撤销)")
def appeal_decide(request, appeal_id: int, payload: AppealDecisionIn):
    return _appeal_out(services.appeal_decide(viewer=request_viewer(request), appeal_id=appeal_id,
                                              outcome=payload.outcome, note=payload.note))


class PlaceCountOut(Schema):
    name: str
    code: str
    count: int
    kind: str = ""
    peak: str = ""
    lat: float | None = None
    lng: float | None = None


class HotspotsOut(Schema):
    start: dt.datetime
    end: dt.datetime
    total: int
    heat: list[list[int]] = Field(..., description="[weekday 0 Monday … 6 Sunday][hour 0–23], local time")
    by_grid: list[PlaceCountOut]
    by_zone: list[PlaceCountOut]
    near: list[PlaceCountOut]


@router.get("/parking/hotspots", response=HotspotsOut, summary="Violations by weekday × hour, place and tagged place")
def hotspot_figures(request, days: int = 30, tag: str = "", metres: int = 200, region: str = ""):
    if not 1 <= days <= selectors.MAX_PERIOD_DAYS:
        raise ValidationFailed(_("统计周期须在 1 到 %(n)s 天之间。") % {"n": selectors.MAX_PERIOD_DAYS}, field="days")
    filters = selectors.HotspotFilters.last_days(days, place_kind=tag, metres=metres, region_code=region)
    spots = selectors.hotspots(viewer=request_viewer(request), filters=filters)
    return HotspotsOut(start=filters.start, end=filters.end, total=spots.total, heat=spots.heat,
                       by_grid=[vars(c) for c in spots.by_grid], by_zone=[vars(c) for c in spots.by_zone],
                       near=[vars(c) for c in spots.near])
