"""Every write to patrol records: teams, shifts, patrol logs and findings. One transaction each.

A finding becomes an incident through cases.services.case_create (channel "patrol"), so the case
and its timeline are written where every other case is written; the finding only points at it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.attachments import photos_store
from yiwang.cases.models import Kind
from yiwang.cases.services import case_create
from yiwang.catalog.selectors import matter_info
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.org import geo
from yiwang.org.models import Region, Unit
from yiwang.org.selectors import Membership, Viewer, hierarchy
from yiwang.patrol import scheduling, selectors
from yiwang.patrol.models import (
    Finding,
    PatrolLog,
    PatrolTeam,
    PatrolWindow,
    Shift,
    ShiftMember,
    ShiftState,
    TeamMember,
)

# A shift may be started a little early (the team gathers first), never after it should have ended.
EARLY_START = dt.timedelta(minutes=60)
# A check-in patrol left open longer than this was forgotten, not walked: the next check-in starts anew.
CHECK_IN_STALE_AFTER = dt.timedelta(hours=12)
MAX_TRACK_POINTS = 2000
MAX_DESCRIPTION = 2000


# --- teams -----------------------------------------------------------------------------------


@transaction.atomic
def team_create(*, name: str, unit: Unit, region: Region, team_size: int = 3) -> PatrolTeam:
    """A new team (administrators and the demo; secretaries then draw its shifts)."""
    if not name.strip():
        raise ValidationFailed(_("巡逻队名称不能为空。"), field="name")
    if team_size < 1:
        raise ValidationFailed(_("每班人数至少为 1。"), field="team_size")
    return PatrolTeam.objects.create(name=name.strip(), unit=unit, region=region, region_path=region.path,
                                     team_size=team_size)


@transaction.atomic
def team_member_add(*, team: PatrolTeam, user, active: bool = True) -> TeamMember:
    member, _created = TeamMember.objects.update_or_create(team=team, user=user, defaults={"active": active})
    return member


@transaction.atomic
def window_add(
    *, team: PatrolTeam, earliest_start: dt.time, latest_start: dt.time, duration_minutes: int,
    weekdays: list[int] | None = None,
) -> PatrolWindow:
    scheduling.Window(earliest=earliest_start, latest=latest_start, duration_minutes=duration_minutes,
                      weekdays=frozenset(weekdays or ())).check()
    return PatrolWindow.objects.create(team=team, earliest_start=earliest_start, latest_start=latest_start,
                                       duration_minutes=duration_minutes, weekdays=sorted(set(weekdays or ())))


# --- shifts ----------------------------------------------------------------------------------


@transaction.atomic
def shifts_generate(
    *, viewer: Viewer, team: PatrolTeam, start: dt.date, end: dt.date, seed: int | None = None,
    replace: bool = False,
) -> list[Shift]:
    """Draw and save a team's shifts from ``start`` to ``end`` (nights, inclusive).

    Nights that already have shifts are refused unless ``replace``; then their planned shifts are
    drawn again and nights with a patrol started, done or missed keep what they have.
    """
    # Lock the team row so two secretaries drawing at once cannot both fill the same nights.
    team = PatrolTeam.objects.select_for_update().select_related("unit").get(pk=team.pk)
    proposal = selectors.shift_proposal(viewer=viewer, team=team, start=start, end=end, seed=seed, replace=replace)
    if proposal.refused:
        raise ValidationFailed(
            _("%(nights)s 已有班次。如需重新排班，请选择“替换未开始的班次”。")
            % {"nights": "、".join(n.isoformat() for n in proposal.occupied[:7])
               + ("…" if len(proposal.occupied) > 7 else "")},
            field="replace",
        )
    if replace:
        team.shifts.filter(night__range=(start, end), state=ShiftState.PLANNED).exclude(
            night__in=proposal.kept).delete()
    now = clock.now()
    shifts = [Shift(team=team, window_id=p.window_id, night=p.night, starts_at=p.starts_at, ends_at=p.ends_at,
                    state=ShiftState.PLANNED, generated_by_id=viewer.user_id, seed=proposal.seed, created_at=now,
                    region_path=team.region_path)
              for p in proposal.shifts]
    Shift.objects.bulk_create(shifts)
    ShiftMember.objects.bulk_create([
        ShiftMember(shift=shift, user_id=user_id, night=planned.night, region_path=team.region_path)
        for shift, planned in zip(shifts, proposal.shifts, strict=True) for user_id in planned.member_ids
    ])
    return shifts


@transaction.atomic
def shifts_mark_missed(*, now: dt.datetime | None = None) -> int:
    """Planned shifts whose time is over with nobody starting them: recorded as missed (未巡逻)."""
    return Shift.objects.filter(state=ShiftState.PLANNED, ends_at__lt=now or clock.now()).update(
        state=ShiftState.MISSED)


# --- patrol logs -----------------------------------------------------------------------------


def _point(lat: object, lng: object, at: dt.datetime) -> dict:
    lat, lng = geo.check_point(lat, lng)
    return {"lat": lat, "lng": lng, "at": at.isoformat()}


def _is_shift_member(viewer: Viewer, shift_id: int) -> bool:
    return viewer.user_id is not None and ShiftMember.objects.filter(shift_id=shift_id, user_id=viewer.user_id).exists()


def _require_writer(viewer: Viewer, log: PatrolLog) -> None:
    """Only who walks a patrol writes to its log: the shift's members, or the check-in's own user."""
    allowed = (_is_shift_member(viewer, log.shift_id) if log.shift_id
               else viewer.user_id is not None and viewer.user_id == log.user_id)
    if not allowed:
        raise PermissionDenied(_("只有本班次的队员可以记录这次巡逻。"))


def _locked_open_log(viewer: Viewer, log: PatrolLog) -> PatrolLog:
    log = PatrolLog.objects.select_for_update().get(pk=log.pk)
    _require_writer(viewer, log)
    if not log.is_open:
        raise IllegalTransition(_("这次巡逻已经结束。"), field="log")
    return log


@transaction.atomic
def patrol_start(*, viewer: Viewer, shift: Shift | None = None, lat: float, lng: float) -> PatrolLog:
    """Set out on a shift, or, without a shift, start a grid worker's own patrol (巡查签到).

    Starting twice returns the patrol already under way: three members tapping "出发" together
    start one patrol, not three.
    """
    if viewer.user_id is None:
        raise PermissionDenied(_("请先登录。"))
    now = clock.now()
    point = _point(lat, lng, now)
    if shift is None:
        return _check_in_start(viewer, point, now)
    shift = Shift.objects.select_for_update().select_related("team").get(pk=shift.pk)
    if not _is_shift_member(viewer, shift.pk):
        raise PermissionDenied(_("您不在这个班次里，不能替别人出发。"), field="shift")
    existing = shift.logs.first()
    if existing is not None:
        return existing
    if shift.state != ShiftState.PLANNED:
        raise IllegalTransition(_("该班次已是“%(state)s”，不能再出发。") % {"state": shift.get_state_display()},
                                field="shift")
    if now < shift.starts_at - EARLY_START:
        raise IllegalTransition(
            _("还没到出发时间：本班次 %(at)s 出发。") % {"at": f"{timezone.localtime(shift.starts_at):%m-%d %H:%M}"},
            field="shift")
    if now > shift.ends_at:
        raise IllegalTransition(_("本班次的巡逻时间已过。"), field="shift")
    team = shift.team
    log = PatrolLog.objects.create(shift=shift, user_id=viewer.user_id, started_at=now, track=[point],
                                   region_id=team.region_id, region_path=team.region_path)
    shift.state = ShiftState.STARTED
    shift.save(update_fields=["state"])
    return log


def _check_in_start(viewer: Viewer, point: dict, now: dt.datetime) -> PatrolLog:
    if not viewer.is_staff_member:
        raise PermissionDenied(_("只有网格员等工作人员可以巡查签到。"))
    open_logs = list(PatrolLog.objects.select_for_update().filter(
        user_id=viewer.user_id, shift__isnull=True, ended_at__isnull=True).order_by("-started_at"))
    for log in open_logs:
        last = dt.datetime.fromisoformat(log.track[-1]["at"]) if log.track else log.started_at
        if now - last < CHECK_IN_STALE_AFTER:
            return log
        # Forgotten, not walked: closed at its last point so its length stays honest.
        log.ended_at = last
        log.save(update_fields=["ended_at"])
    located = geo.locate(point["lat"], point["lng"])
    if located is not None:
        region_id, region_path = located.region.id, located.region.path
    elif viewer.memberships:
        home = hierarchy().units[viewer.memberships[0].unit_id]
        region_id, region_path = home.region_id, home.region_path
    else:  # a superuser with no unit, in a district without outlines
        raise ValidationFailed(_("无法确定签到位置所在的区域。"), field="lat")
    return PatrolLog.objects.create(user_id=viewer.user_id, started_at=now, track=[point], region_id=region_id,
                                    region_path=region_path)


@transaction.atomic
def patrol_check_in(*, viewer: Viewer, log: PatrolLog, lat: float, lng: float) -> PatrolLog:
    """Append a point to the patrol's track."""
    now = clock.now()
    point = _point(lat, lng, now)
    log = _locked_open_log(viewer, log)
    if len(log.track) >= MAX_TRACK_POINTS:
        raise ValidationFailed(_("一次巡逻最多记录 %(n)s 个点，请结束后重新开始。") % {"n": MAX_TRACK_POINTS},
                               field="lat")
    log.track = [*log.track, point]
    log.save(update_fields=["track"])
    return log


@transaction.atomic
def patrol_finish(*, viewer: Viewer, log: PatrolLog) -> PatrolLog:
    log = _locked_open_log(viewer, log)
    log.ended_at = clock.now()
    log.save(update_fields=["ended_at"])
    if log.shift_id:
        Shift.objects.filter(pk=log.shift_id).update(state=ShiftState.DONE)
    return log


# --- findings --------------------------------------------------------------------------------


def _reporting_viewer(viewer: Viewer, log: PatrolLog) -> Viewer:
    """Who files the incident: the member themself, or — for a party member with no staff role —
    the member acting for the team's unit, as the patrol reports in the name of its branch."""
    if viewer.is_staff_member or log.shift_id is None:
        return viewer
    unit = hierarchy().units.get(log.shift.team.unit_id)
    if unit is None:
        raise ValidationFailed(_("巡逻队所属单位已停用，无法上报。"), field="log")
    return dataclasses.replace(viewer, memberships=(Membership(unit.id, "patrol", unit.region_path),))


def _display_name(viewer: Viewer) -> str:
    user = get_user_model().objects.filter(pk=viewer.user_id).only("first_name", "username").first()
    return (user.first_name or user.username) if user else viewer.username


def finding_report(
    *, viewer: Viewer, log: PatrolLog, description: str, category: str, lat: float, lng: float,
    photo=None, idempotency_key: str | None = None,
) -> Finding:
    """Record what a patrol found and open it as an incident (channel 巡逻), routed by where it is."""
    description = (description or "").strip()
    if not description:
        raise ValidationFailed(_("请描述发现的情况。"), field="description")
    if len(description) > MAX_DESCRIPTION:
        raise ValidationFailed(_("情况描述不能超过 %(n)s 个字。") % {"n": MAX_DESCRIPTION}, field="description")
    lat, lng = geo.check_point(lat, lng)
    try:
        matter = matter_info(category or "")
    except NotFound:
        matter = None
    if matter is None or matter.kind != Kind.INCIDENT:
        raise ValidationFailed(_("%(code)s 不是事件类别，请选择要上报的问题类别。") % {"code": category},
                               field="category")
    stored = None
    if photo is not None:
        # Re-encoded from its pixels (no EXIF, no GPS: the place is the finding's lat/lng) and stored
        # before the transaction: files are content-addressed, so a rolled-back report leaves at most
        # an unreferenced copy, never a reference to a missing file.
        stored = photos_store([photo], field="photo", name=_("现场照片"))[0]
    with transaction.atomic():
        log = _locked_open_log(viewer, log)
        if log.shift_id:
            log = PatrolLog.objects.select_related("shift__team").get(pk=log.pk)
        reporter = _reporting_viewer(viewer, log)
        team_name = log.shift.team.name if log.shift_id else ""
        created = case_create(
            viewer=reporter, matter_code=matter.code, description=description, channel="patrol", lat=lat,
            lng=lng, attachments=[stored] if stored else [], idempotency_key=idempotency_key,
            applicant_name=f"{team_name} {_display_name(viewer)}".strip()[:50],
        )
        if created.replayed:
            earlier = Finding.objects.filter(case=created.case).first()
            if earlier is not None:
                return earlier
        return Finding.objects.create(
            log=log, reported_by_id=viewer.user_id, description=description, lat=lat, lng=lng,
            category=matter.code, photo=stored, case=created.case, created_at=clock.now(),
            region_path=created.case.region_path,
        )
