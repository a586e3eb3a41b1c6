"""Reads of patrol teams, shifts and logs, each scoped to the caller.

Scoping follows org.selectors.scope_q (the region subtree of the caller's units, and what their
units own), widened by one rule of this app: a team member sees their own team, shifts and logs
even when they hold no staff role at all — most night patrollers are ordinary party members.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import clock
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.org.models import Role
from yiwang.org.selectors import Viewer, scope_q
from yiwang.patrol import scheduling
from yiwang.patrol.models import PatrolLog, PatrolTeam, Shift, ShiftMember, ShiftState, TeamMember

# Roles that may draw a team's shifts when they sit over the team's region.
SCHEDULING_ROLES_OVER_REGION = {Role.OPERATOR, Role.LEADER}
# A night runs from noon to noon: at 01:00 on Tuesday, "tonight" is still Monday's night.
NIGHT_TURNS_AT = dt.time(12)
PLAN_DAYS_AHEAD = 366  # how far ahead shifts may be drawn


def tonight(moment: dt.datetime | None = None) -> dt.date:
    """The date of the night ``moment`` (default now) belongs to, in the district's time zone."""
    local = timezone.localtime(moment or clock.now())
    return local.date() if local.time() >= NIGHT_TURNS_AT else local.date() - dt.timedelta(days=1)


# --- teams -----------------------------------------------------------------------------------


def team_list(*, viewer: Viewer) -> QuerySet[PatrolTeam]:
    q = scope_q(viewer, holder_field="unit_id", resident_field=None)
    # An empty Q (a superuser's) OR-ed with anything narrows to that thing: widen only real scopes.
    if viewer.user_id is not None and not viewer.is_superuser:
        q |= Q(pk__in=TeamMember.objects.filter(user_id=viewer.user_id).values("team_id"))
    return PatrolTeam.objects.filter(q).select_related("unit", "region").order_by("region_path", "name")


def team_get(*, viewer: Viewer, team_id: int) -> PatrolTeam:
    team = team_list(viewer=viewer).filter(pk=team_id).first()
    if team is None:
        raise NotFound(_("没有找到该巡逻队，或您无权查看。"), field="team")
    return team


def may_schedule(viewer: Viewer, team: PatrolTeam) -> bool:
    """The secretary of the team's unit, an operator or leader over its region, or a superuser."""
    if viewer.is_superuser:
        return True
    if Role.SECRETARY in viewer.roles_in(team.unit_id):
        return True
    return any(m.role in SCHEDULING_ROLES_OVER_REGION and team.region_path.startswith(m.region_path)
               for m in viewer.memberships)


def require_scheduler(viewer: Viewer, team: PatrolTeam) -> None:
    if not may_schedule(viewer, team):
        raise PermissionDenied(_("只有%(unit)s的党支部书记、上级指挥员或领导可以给该巡逻队排班。")
                               % {"unit": team.unit.name})


def members_of(team: PatrolTeam) -> list[TeamMember]:
    return list(team.members.select_related("user").order_by("id"))


def windows_of(team: PatrolTeam) -> list[scheduling.Window]:
    return [scheduling.Window(earliest=w.earliest_start, latest=w.latest_start, duration_minutes=w.duration_minutes,
                              weekdays=frozenset(w.weekdays or ()), id=w.pk)
            for w in team.windows.order_by("id")]


@dataclass
class MemberCount:
    member: TeamMember
    total: int  # every shift of this team they were drawn for
    in_range: int  # of which in the period shown


def member_counts(team: PatrolTeam, *, start: dt.date | None = None, end: dt.date | None = None) -> list[MemberCount]:
    """Shifts per member, so a secretary can see that the turns come round fairly."""
    rows = ShiftMember.objects.filter(shift__team=team)
    total = Counter(dict(rows.values_list("user_id").annotate(n=Count("id")).values_list("user_id", "n")))
    in_range: Counter = Counter()
    if start and end:
        in_range = Counter(dict(rows.filter(night__range=(start, end)).values_list("user_id")
                                .annotate(n=Count("id")).values_list("user_id", "n")))
    return [MemberCount(m, total[m.user_id], in_range[m.user_id]) for m in members_of(team)]


# --- shifts ----------------------------------------------------------------------------------


def shifts_of_team(*, team: PatrolTeam, start: dt.date, end: dt.date) -> list[Shift]:
    return list(team.shifts.filter(night__range=(start, end)).prefetch_related("members", "logs").order_by("night", "starts_at"))


def shift_get(*, viewer: Viewer, shift_id: int) -> Shift:
    shift = (Shift.objects.filter(pk=shift_id)
             .filter(Q(team__in=team_list(viewer=viewer)) | Q(assignments__user_id=viewer.user_id))
             .select_related("team").first())
    if shift is None:
        raise NotFound(_("没有找到该班次，或您无权查看。"), field="shift")
    return shift


def shifts_of_member(*, viewer: Viewer, start: dt.date, end: dt.date) -> list[Shift]:
    if viewer.user_id is None:
        return []
    return list(Shift.objects.filter(assignments__user_id=viewer.user_id, night__range=(start, end))
                .select_related("team").prefetch_related("members", "logs").order_by("starts_at"))


@dataclass
class Proposal:
    """A drawn plan not yet saved, and what saving it would do to the nights already planned."""

    team: PatrolTeam
    start: dt.date
    end: dt.date
    seed: int
    replace: bool
    shifts: list[scheduling.PlannedShift]
    occupied: list[dt.date]  # nights in the range that already have shifts
    kept: list[dt.date]  # of those, the nights that stay as they are
    counts_before: dict[int, int] = field(default_factory=dict)
    counts_after: dict[int, int] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        """Saving without ``replace`` would overwrite planned nights."""
        return bool(self.occupied) and not self.replace


def new_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def shift_proposal(
    *, viewer: Viewer, team: PatrolTeam, start: dt.date, end: dt.date, seed: int | None = None,
    replace: bool = False,
) -> Proposal:
    """Draw the shifts ``shifts_generate`` would save for the same arguments (and the same seed)."""
    require_scheduler(viewer, team)
    if not team.active:
        raise ValidationFailed(_("该巡逻队已停用，不能排班。"), field="team")
    if seed is not None and not 0 <= seed < 2**63:
        raise ValidationFailed(_("随机种子须为非负整数。"), field="seed")
    seed = new_seed() if seed is None else seed
    scheduling.nights_between(start, end)
    if start < tonight():
        raise ValidationFailed(_("不能给已经过去的夜晚排班：请从今晚(%(night)s)或以后开始。")
                               % {"night": tonight().isoformat()}, field="start")
    if end > tonight() + dt.timedelta(days=PLAN_DAYS_AHEAD):
        # Rosters are drawn for the coming weeks; a night years away would also overflow the calendar.
        raise ValidationFailed(_("只能给一年以内的夜晚排班。"), field="end")
    existing = list(team.shifts.filter(night__range=(start, end)).values_list("night", "state"))
    occupied = sorted({night for night, _state in existing})
    # Replacing redraws only what has not happened yet: a night with a patrol under way or done stays.
    kept = sorted({night for night, state in existing if state != ShiftState.PLANNED}) if replace else occupied
    history = ShiftMember.objects.filter(shift__team=team).filter(
        Q(night__lt=start) | Q(night__in=kept)
    )
    prior = dict(history.values_list("user_id").annotate(n=Count("id")).values_list("user_id", "n"))
    members = members_of(team)
    busy: dict[dt.date, set[int]] = {}
    for night, user_id in (ShiftMember.objects.filter(night__range=(start, end), user_id__in=[m.user_id for m in members])
                           .exclude(shift__team=team).values_list("night", "user_id")):
        busy.setdefault(night, set()).add(user_id)
    plan = scheduling.plan_shifts(
        start=start, end=end, windows=windows_of(team),
        members=[scheduling.Member(m.user_id, m.active) for m in members], team_size=team.team_size, seed=seed,
        tz=timezone.get_default_timezone(), prior_counts=prior, busy=busy, skip_nights=kept,
    )
    return Proposal(team=team, start=start, end=end, seed=seed, replace=replace, shifts=plan.shifts,
                    occupied=occupied, kept=kept, counts_before=prior, counts_after=plan.counts)


# --- logs ------------------------------------------------------------------------------------


def _log_q(viewer: Viewer) -> Q:
    q = scope_q(viewer, holder_field=None, resident_field=None)
    if viewer.user_id is not None and not viewer.is_superuser:
        q |= Q(user_id=viewer.user_id) | Q(shift__assignments__user_id=viewer.user_id)
    return q


def log_get(*, viewer: Viewer, log_id: int) -> PatrolLog:
    log = (PatrolLog.objects.filter(_log_q(viewer), pk=log_id).select_related("shift__team", "user", "region")
           .first())
    if log is None:
        raise NotFound(_("没有找到该巡逻记录，或您无权查看。"), field="log")
    return log


def log_list(*, viewer: Viewer, team: PatrolTeam | None = None, limit: int = 50) -> list[PatrolLog]:
    qs = PatrolLog.objects.filter(_log_q(viewer)).distinct()
    if team is not None:
        qs = qs.filter(shift__team=team)
    return list(qs.select_related("shift__team", "user").order_by("-started_at")[:limit])


def open_check_in(*, viewer: Viewer) -> PatrolLog | None:
    """The caller's own patrol without a shift (巡查签到) that is still under way, if any."""
    if viewer.user_id is None:
        return None
    return (PatrolLog.objects.filter(user_id=viewer.user_id, shift__isnull=True, ended_at__isnull=True)
            .order_by("-started_at").first())


@dataclass(frozen=True)
class TrackPoint:
    n: int
    lat: float
    lng: float
    at: dt.datetime


def track_points(log: PatrolLog | None) -> list[TrackPoint]:
    if log is None:
        return []
    return [TrackPoint(i, p["lat"], p["lng"], dt.datetime.fromisoformat(p["at"]))
            for i, p in enumerate(log.track, start=1)]


def findings_of(log: PatrolLog) -> list:
    return list(log.findings.select_related("case").order_by("created_at"))
