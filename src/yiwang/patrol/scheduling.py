"""Drawing night shifts (排班): pure functions, no database, the same plan for the same seed.

A patrol that comes at the same hour every night is one a thief can wait out; 瑞凝村's party
members patrol "不定时", at a different time after midnight each night. So each shift starts at a
random minute of its window, never at the same minute as the night before when the window leaves
any choice, and the members are drawn so that everyone takes their turn: those with the fewest
shifts so far go first, ties broken at random.

Times are placed on a night by their offset from noon of the night's date: 22:00 is 10 h into the
night, 00:30 is 12 h 30 min, 11:59 the next morning the last minute of it. A window is valid when
its latest start is not before its earliest start on that scale, so 23:30–01:00 is a window and
03:00–00:30 is not.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

NOON = 12 * 60
DAY = 24 * 60
MAX_NIGHTS = 92  # a quarter: plans further ahead would be redrawn anyway as members come and go


def night_offset(moment: dt.time) -> int:
    """Minutes from noon of the night's date to ``moment`` (before noon means the next morning)."""
    return (moment.hour * 60 + moment.minute - NOON) % DAY


@dataclass(frozen=True)
class Window:
    earliest: dt.time
    latest: dt.time
    duration_minutes: int
    weekdays: frozenset[int] = frozenset()  # of the evening a night begins; empty: every night
    id: int | None = None

    def applies_to(self, night: dt.date) -> bool:
        return not self.weekdays or night.weekday() in self.weekdays

    def check(self) -> None:
        if self.duration_minutes is None or self.duration_minutes <= 0:
            raise ValidationFailed(_("巡逻时长须大于 0 分钟。"), field="duration_minutes")
        if self.duration_minutes > DAY:
            raise ValidationFailed(_("巡逻时长不能超过 24 小时。"), field="duration_minutes")
        if night_offset(self.latest) < night_offset(self.earliest):
            raise ValidationFailed(
                _("最晚出发时间 %(latest)s 早于最早出发时间 %(earliest)s。")
                % {"latest": f"{self.latest:%H:%M}", "earliest": f"{self.earliest:%H:%M}"},
                field="latest_start",
            )
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays):
            raise ValidationFailed(_("星期须为 0(周一)到 6(周日)。"), field="weekdays")


@dataclass(frozen=True)
class Member:
    user_id: int
    active: bool = True


@dataclass(frozen=True)
class PlannedShift:
    night: dt.date
    window_id: int | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    member_ids: tuple[int, ...]


@dataclass
class Plan:
    seed: int
    shifts: list[PlannedShift]
    counts: dict[int, int] = field(default_factory=dict)  # shifts per member including this plan


def nights_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every night from ``start`` to ``end`` inclusive, or ValidationFailed for a bad range."""
    if end < start:
        raise ValidationFailed(_("结束日期不能早于开始日期。"), field="end")
    count = (end - start).days + 1
    if count > MAX_NIGHTS:
        raise ValidationFailed(_("一次最多排 %(n)s 个夜晚。") % {"n": MAX_NIGHTS}, field="end")
    return [start + dt.timedelta(days=i) for i in range(count)]


def start_of(night: dt.date, offset_minutes: int, tz: dt.tzinfo) -> dt.datetime:
    # Wall-clock arithmetic on purpose: "00:30" stays 00:30 local time across a DST change.
    return dt.datetime.combine(night, dt.time(12), tzinfo=tz) + dt.timedelta(minutes=offset_minutes)


def plan_shifts(
    *, start: dt.date, end: dt.date, windows: Sequence[Window], members: Iterable[Member], team_size: int,
    seed: int, tz: dt.tzinfo, prior_counts: Mapping[int, int] | None = None,
    busy: Mapping[dt.date, Iterable[int]] | None = None, skip_nights: Iterable[dt.date] = (),
) -> Plan:
    """One shift per applicable window per night from ``start`` to ``end``.

    ``prior_counts``: shifts each member already has, so fairness carries over from earlier plans.
    ``busy``: members already on a patrol that night (another team), who are not drawn again.
    ``skip_nights``: nights that keep the shifts they have.
    """
    nights = nights_between(start, end)
    if team_size is None or team_size < 1:
        raise ValidationFailed(_("每班人数至少为 1。"), field="team_size")
    if not windows:
        raise ValidationFailed(_("该巡逻队还没有配置巡逻时段。"), field="windows")
    for window in windows:
        window.check()
    active = sorted({m.user_id for m in members if m.active})
    if len(active) < team_size:
        raise ValidationFailed(
            _("在岗队员只有 %(n)s 人，少于每班 %(size)s 人：请添加队员或调小每班人数。")
            % {"n": len(active), "size": team_size},
            field="team_size",
        )
    rng = random.Random(seed)
    counts = {user_id: (prior_counts or {}).get(user_id, 0) for user_id in active}
    busy = busy or {}
    skipped = set(skip_nights)
    previous: dict[int, int] = {}  # window index → start offset drawn for the last night it applied
    shifts: list[PlannedShift] = []
    for night in nights:
        if night in skipped:
            continue
        taken = set(busy.get(night, ()))
        for index, window in enumerate(windows):
            if not window.applies_to(night):
                continue
            offset = _draw_offset(rng, night_offset(window.earliest), night_offset(window.latest),
                                  previous.get(index))
            previous[index] = offset
            free = [user_id for user_id in active if user_id not in taken]
            if len(free) < team_size:
                raise ValidationFailed(
                    _("%(night)s 可排的在岗队员只有 %(n)s 人，不够每班 %(size)s 人。")
                    % {"night": night.isoformat(), "n": len(free), "size": team_size},
                    field="team_size",
                )
            # Fewest shifts first; the random key only orders members with equal counts.
            ranked = sorted(free, key=lambda user_id: (counts[user_id], rng.random()))
            chosen = tuple(sorted(ranked[:team_size]))
            for user_id in chosen:
                counts[user_id] += 1
            taken.update(chosen)
            starts_at = start_of(night, offset, tz)
            shifts.append(PlannedShift(night=night, window_id=window.id, starts_at=starts_at,
                                       ends_at=starts_at + dt.timedelta(minutes=window.duration_minutes),
                                       member_ids=chosen))
    return Plan(seed=seed, shifts=shifts, counts=counts)


def _draw_offset(rng: random.Random, earliest: int, latest: int, previous: int | None) -> int:
    choices = latest - earliest + 1
    if previous is None or choices == 1 or not earliest <= previous <= latest:
        return earliest + rng.randrange(choices)
    # Uniform over every minute but last night's.
    offset = earliest + rng.randrange(choices - 1)
    return offset + 1 if offset >= previous else offset
