"""Patrol API: teams, drawing shifts (preview with GET, save with POST), patrol logs and findings."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from yiwang.core import idnumber
from yiwang.core.errors import ValidationFailed
from yiwang.core.schemas import BASE64, Input
from yiwang.org.selectors import request_viewer
from yiwang.patrol import scheduling, selectors, services
from yiwang.patrol.models import Finding, PatrolLog, PatrolTeam, Shift

router = Router(tags=["patrols"])

MAX_SEED = 2**63 - 1
# 5 MB of photo is about 6.7 million base64 characters.
MAX_PHOTO_BASE64 = 7_000_000


class TeamOut(Schema):
    id: int
    name: str
    unit_code: str
    unit_name: str
    region_code: str
    region_name: str
    team_size: int
    active: bool
    may_schedule: bool


class ShiftOut(Schema):
    id: int
    night: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    state: str
    members: list[str]
    seed: int | None
    log_id: int | None


class PlannedShiftOut(Schema):
    night: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    members: list[str]


class MemberCountOut(Schema):
    username: str
    before: int
    after: int


class ProposalOut(Schema):
    team: int
    start: dt.date
    end: dt.date
    seed: int
    replace: bool
    occupied: list[dt.date] = Field(description="nights in the range that already have shifts")
    kept: list[dt.date] = Field(description="of those, the nights saving would leave as they are")
    refused: bool = Field(description="true: saving needs replace=true")
    shifts: list[PlannedShiftOut]
    counts: list[MemberCountOut]


class GenerateIn(Input):
    start: dt.date
    end: dt.date
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="same seed, same data → same plan")
    replace: bool = Field(False, description="redraw nights whose shifts have not started")


class PointOut(Schema):
    lat: float
    lng: float
    at: dt.datetime


class FindingOut(Schema):
    id: int
    log_id: int
    description: str
    category: str
    lat: float
    lng: float
    has_photo: bool
    case: str | None
    created_at: dt.datetime


class LogOut(Schema):
    id: int
    shift_id: int | None
    user: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    region_code: str
    track: list[PointOut]
    findings: list[FindingOut]


class StartIn(Input):
    shift_id: int | None = Field(None, description="omit for a grid worker's own patrol (巡查签到)")
    lat: float
    lng: float


class PointIn(Input):
    lat: float
    lng: float


class FindingIn(Input):
    description: str = Field(..., min_length=1, max_length=services.MAX_DESCRIPTION)
    category: str = Field(..., max_length=40, description="an incident matter code, e.g. INC_THEFT")
    lat: float
    lng: float
    photo_base64: str | None = Field(None, max_length=MAX_PHOTO_BASE64, description="JPEG or PNG, ≤ 5 MB",
                                     json_schema_extra=BASE64)
    idempotency_key: str | None = Field(None, max_length=60)


def _team_out(team: PatrolTeam, viewer) -> dict:
    return {"id": team.pk, "name": team.name, "unit_code": team.unit.code, "unit_name": team.unit.name,
            "region_code": team.region.code, "region_name": team.region.name, "team_size": team.team_size,
            "active": team.active, "may_schedule": selectors.may_schedule(viewer, team)}


def _shift_out(shift: Shift) -> dict:
    logs = list(shift.logs.all())
    return {"id": shift.pk, "night": shift.night, "starts_at": shift.starts_at, "ends_at": shift.ends_at,
            "state": shift.state, "members": sorted(u.username for u in shift.members.all()), "seed": shift.seed,
            "log_id": logs[0].pk if logs else None}


def _finding_out(finding: Finding) -> dict:
    # The description is typed by the patrol: its ID numbers masked, as the case API shows a case's.
    return {"id": finding.pk, "log_id": finding.log_id,
            "description": idnumber.mask_text(finding.description, phones=False), "category": finding.category,
            "lat": finding.lat, "lng": finding.lng,
            "has_photo": bool(finding.photo), "case": finding.case.number if finding.case_id else None,
            "created_at": finding.created_at}


def _log_out(log: PatrolLog) -> dict:
    return {"id": log.pk, "shift_id": log.shift_id, "user": log.user.username, "started_at": log.started_at,
            "ended_at": log.ended_at, "region_code": log.region.code,
            "track": [{"lat": p.lat, "lng": p.lng, "at": p.at} for p in selectors.track_points(log)],
            "findings": [_finding_out(f) for f in selectors.findings_of(log)]}


def _fresh_log(viewer, log_id: int) -> dict:
    return _log_out(selectors.log_get(viewer=viewer, log_id=log_id))


@router.get("/patrol/teams", response=list[TeamOut], summary="Patrol teams the caller may see or belongs to")
def team_list(request):
    viewer = request_viewer(request)
    return [_team_out(t, viewer) for t in selectors.team_list(viewer=viewer)]


@router.get("/patrol/teams/{team_id}/shifts", response=list[ShiftOut], summary="A team's shifts over a range of nights")
def shift_list(request, team_id: int, start: dt.date, end: dt.date):
    team = selectors.team_get(viewer=request_viewer(request), team_id=team_id)
    scheduling.nights_between(start, end)
    return [_shift_out(s) for s in selectors.shifts_of_team(team=team, start=start, end=end)]


@router.get("/patrol/teams/{team_id}/shifts/generate", response=ProposalOut,
            summary="Preview the shifts a generate call would save (nothing is written)")
def shift_preview(request, team_id: int, params: Query[GenerateIn]):
    viewer = request_viewer(request)
    team = selectors.team_get(viewer=viewer, team_id=team_id)
    proposal = selectors.shift_proposal(viewer=viewer, team=team, start=params.start, end=params.end,
                                        seed=params.seed, replace=params.replace)
    names = {m.user_id: m.user.username for m in selectors.members_of(team)}
    return {
        "team": team.pk, "start": proposal.start, "end": proposal.end, "seed": proposal.seed,
        "replace": proposal.replace, "occupied": proposal.occupied, "kept": proposal.kept,
        "refused": proposal.refused,
        # In UTC like every stored time the API returns, so a preview compares equal to what is saved.
        "shifts": [{"night": p.night, "starts_at": p.starts_at.astimezone(dt.UTC), "ends_at": p.ends_at.astimezone(dt.UTC),
                    "members": sorted(names[u] for u in p.member_ids)} for p in proposal.shifts],
        "counts": [{"username": names[u], "before": proposal.counts_before.get(u, 0), "after": n}
                   for u, n in sorted(proposal.counts_after.items(), key=lambda kv: names[kv[0]])],
    }


@router.post("/patrol/teams/{team_id}/shifts/generate", response={201: list[ShiftOut]},
             summary="Draw and save a team's shifts (不定时: a random start in the window each night)")
def shift_generate(request, team_id: int, payload: GenerateIn):
    viewer = request_viewer(request)
    team = selectors.team_get(viewer=viewer, team_id=team_id)
    shifts = services.shifts_generate(viewer=viewer, team=team, start=payload.start, end=payload.end,
                                      seed=payload.seed, replace=payload.replace)
    saved = selectors.shifts_of_team(team=team, start=payload.start, end=payload.end)
    ids = {s.pk for s in shifts}
    return Status(201, [_shift_out(s) for s in saved if s.pk in ids])


@router.post("/patrol/logs", response={201: LogOut}, summary="Set out on a shift, or start a check-in patrol")
def log_start(request, payload: StartIn):
    viewer = request_viewer(request)
    shift = selectors.shift_get(viewer=viewer, shift_id=payload.shift_id) if payload.shift_id is not None else None
    log = services.patrol_start(viewer=viewer, shift=shift, lat=payload.lat, lng=payload.lng)
    return Status(201, _fresh_log(viewer, log.pk))


@router.get("/patrol/logs/{log_id}", response=LogOut, summary="A patrol's track and findings")
def log_get(request, log_id: int):
    return _fresh_log(request_viewer(request), log_id)


@router.post("/patrol/logs/{log_id}/check-ins", response=LogOut, summary="Add a point to the patrol's track")
def log_check_in(request, log_id: int, payload: PointIn):
    viewer = request_viewer(request)
    log = selectors.log_get(viewer=viewer, log_id=log_id)
    services.patrol_check_in(viewer=viewer, log=log, lat=payload.lat, lng=payload.lng)
    return _fresh_log(viewer, log_id)


@router.post("/patrol/logs/{log_id}/finish", response=LogOut, summary="End the patrol")
def log_finish(request, log_id: int):
    viewer = request_viewer(request)
    services.patrol_finish(viewer=viewer, log=selectors.log_get(viewer=viewer, log_id=log_id))
    return _fresh_log(viewer, log_id)


def _photo(raw: str | None) -> ContentFile | None:
    if not raw:
        return None
    if raw.startswith("data:") and "," in raw:
        raw = raw.split(",", 1)[1]
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(_("照片不是有效的 base64 编码。"), field="photo_base64") from None
    return ContentFile(data, name="photo")


@router.post("/patrol/logs/{log_id}/findings", response={201: FindingOut},
             summary="Report what the patrol found; it becomes an incident case (channel patrol)")
def finding_create(request, log_id: int, payload: FindingIn):
    viewer = request_viewer(request)
    log = selectors.log_get(viewer=viewer, log_id=log_id)
    finding = services.finding_report(
        viewer=viewer, log=log, description=payload.description, category=payload.category, lat=payload.lat,
        lng=payload.lng, photo=_photo(payload.photo_base64), idempotency_key=payload.idempotency_key,
    )
    return Status(201, _finding_out(finding))
