"""The scheduler's promises, for any window, team and range: pure functions, no database."""

import datetime as dt
import itertools
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.core.errors import ValidationFailed
from yiwang.patrol.scheduling import Member, Window, night_offset, plan_shifts, start_of

TZ = ZoneInfo("Asia/Shanghai")
FIRST = dt.date(2026, 6, 1)


@st.composite
def windows(draw):
    earliest = draw(st.integers(0, 23 * 60))
    latest = draw(st.integers(earliest, 23 * 60 + 59))
    # Offsets from noon, turned back into clock times: any valid window, midnight-crossing included.
    as_time = lambda offset: dt.time(((offset + 12 * 60) // 60) % 24, offset % 60)  # noqa: E731
    return Window(earliest=as_time(earliest), latest=as_time(latest), duration_minutes=draw(st.integers(1, 600)),
                  id=1)


@st.composite
def teams(draw):
    size = draw(st.integers(1, 4))
    active = draw(st.integers(size, size + 6))
    inactive = draw(st.integers(0, 3))
    members = [Member(i, True) for i in range(1, active + 1)]
    members += [Member(100 + i, False) for i in range(inactive)]
    return size, draw(st.permutations(members))


def plan(window, size, members, nights, seed, **kwargs):
    return plan_shifts(start=FIRST, end=FIRST + dt.timedelta(days=nights - 1), windows=[window], members=members,
                       team_size=size, seed=seed, tz=TZ, **kwargs)


@settings(max_examples=150, deadline=None)
@given(window=windows(), team=teams(), nights=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_every_shift_starts_within_its_window_and_lasts_its_duration(window, team, nights, seed):
    size, members = team
    for shift in plan(window, size, members, nights, seed).shifts:
        assert start_of(shift.night, night_offset(window.earliest), TZ) <= shift.starts_at
        assert shift.starts_at <= start_of(shift.night, night_offset(window.latest), TZ)
        assert shift.ends_at - shift.starts_at == dt.timedelta(minutes=window.duration_minutes)


@settings(max_examples=150, deadline=None)
@given(window=windows(), team=teams(), nights=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_each_shift_has_team_size_distinct_active_members_and_nobody_twice_a_night(window, team, nights, seed):
    size, members = team
    active = {m.user_id for m in members if m.active}
    shifts = plan(window, size, members, nights, seed).shifts
    assert len(shifts) == nights
    per_night = Counter()
    for shift in shifts:
        assert len(shift.member_ids) == len(set(shift.member_ids)) == size
        assert set(shift.member_ids) <= active
        per_night.update((shift.night, u) for u in shift.member_ids)
    assert max(per_night.values()) == 1


@settings(max_examples=150, deadline=None)
@given(window=windows(), team=teams(), nights=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_turns_come_round_fairly_counts_differ_by_at_most_one(window, team, nights, seed):
    size, members = team
    result = plan(window, size, members, nights, seed)
    counts = Counter(u for s in result.shifts for u in s.member_ids)
    active = [m.user_id for m in members if m.active]
    assert max(counts[u] for u in active) - min(counts[u] for u in active) <= 1
    assert result.counts == {u: counts[u] for u in active}


@settings(max_examples=100, deadline=None)
@given(window=windows(), team=teams(), nights=st.integers(2, 40), seed=st.integers(0, 2**32))
def test_the_start_time_differs_from_the_night_before_when_the_window_allows(window, team, nights, seed):
    size, members = team
    shifts = plan(window, size, members, nights, seed).shifts
    if night_offset(window.latest) == night_offset(window.earliest):
        return
    for before, after in itertools.pairwise(shifts):
        assert before.starts_at.time() != after.starts_at.time()


@settings(max_examples=60, deadline=None)
@given(window=windows(), team=teams(), nights=st.integers(1, 30), seed=st.integers(0, 2**32))
def test_the_same_seed_draws_the_same_plan_whatever_the_order_of_the_roll(window, team, nights, seed):
    size, members = team
    shuffled = list(members)
    random.Random(seed).shuffle(shuffled)
    assert plan(window, size, members, nights, seed).shifts == plan(window, size, shuffled, nights, seed).shifts


def test_a_different_seed_draws_a_different_plan():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
    members = [Member(i) for i in range(1, 10)]
    assert plan(window, 3, members, 30, 1).shifts != plan(window, 3, members, 30, 2).shifts


def test_members_with_fewer_earlier_shifts_go_first():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
    members = [Member(i) for i in range(1, 7)]
    prior = {1: 5, 2: 5, 3: 5}  # 4, 5 and 6 joined later
    first = plan(window, 3, members, 1, 9, prior_counts=prior).shifts[0]
    assert first.member_ids == (4, 5, 6)


def test_a_member_on_another_teams_patrol_that_night_is_not_drawn():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
    members = [Member(i) for i in range(1, 5)]
    shifts = plan(window, 3, members, 1, 3, busy={FIRST: {1}}).shifts
    assert shifts[0].member_ids == (2, 3, 4)


def test_two_windows_make_two_shifts_a_night_with_different_people():
    early = Window(dt.time(22, 0), dt.time(23, 0), 60, id=1)
    late = Window(dt.time(0, 30), dt.time(3, 0), 120, id=2)
    members = [Member(i) for i in range(1, 7)]
    shifts = plan_shifts(start=FIRST, end=FIRST, windows=[early, late], members=members, team_size=3, seed=1, tz=TZ)
    assert len(shifts.shifts) == 2
    assert not set(shifts.shifts[0].member_ids) & set(shifts.shifts[1].member_ids)


def test_a_window_after_midnight_lands_on_the_morning_after_the_night():
    window = Window(dt.time(0, 30), dt.time(0, 30), 120, id=1)
    shift = plan(window, 1, [Member(1)], 1, 0).shifts[0]
    assert shift.night == FIRST
    assert shift.starts_at == dt.datetime(2026, 6, 2, 0, 30, tzinfo=TZ)


def test_weekdays_limit_the_nights_a_window_applies_to():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, weekdays=frozenset({4, 5}), id=1)  # Friday, Saturday
    shifts = plan(window, 1, [Member(1), Member(2)], 14, 0).shifts
    assert [s.night.weekday() for s in shifts] == [4, 5, 4, 5]


@pytest.mark.parametrize("earliest, latest, minutes", [(23, 0, 90), (0, 0, 60)])
def test_windows_crossing_midnight_or_a_single_minute_are_valid(earliest, latest, minutes):
    Window(dt.time(earliest, 30), dt.time(latest, 30), minutes).check()


def test_skipped_nights_are_left_alone():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
    shifts = plan(window, 1, [Member(1)], 3, 0, skip_nights={FIRST + dt.timedelta(days=1)}).shifts
    assert [s.night.day for s in shifts] == [1, 3]


def test_inactive_members_are_never_drawn_even_when_short():
    window = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
    with pytest.raises(ValidationFailed):
        plan(window, 3, [Member(1), Member(2), Member(3, active=False)], 1, 0)
