"""Saving drawn shifts: one transaction, fairness across earlier plans, and what replace may touch."""

import datetime as dt
from collections import Counter

import pytest

from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.org.selectors import viewer_for
from yiwang.patrol import services
from yiwang.patrol.models import Shift, ShiftMember, ShiftState
from yiwang.patrol.tests.conftest import AFTERNOON, MONDAY


def generate(patrol, start=MONDAY, nights=7, **kwargs):
    return services.shifts_generate(viewer=viewer_for(patrol.secretary), team=patrol.team, start=start,
                                    end=start + dt.timedelta(days=nights - 1), **kwargs)


def test_it_writes_one_shift_a_night_with_its_members_and_seed(patrol, frozen):
    shifts = generate(patrol, seed=42)
    assert [s.night for s in Shift.objects.filter(team=patrol.team)] == [MONDAY + dt.timedelta(days=i) for i in range(7)]
    assert all(s.seed == 42 and s.generated_by_id == patrol.secretary.pk for s in shifts)
    assert all(s.assignments.count() == 3 for s in shifts)
    assert all(s.region_path == patrol.team.region_path for s in Shift.objects.all())


def test_the_same_seed_over_the_same_data_saves_the_same_plan(patrol, frozen):
    first = [(s.starts_at, tuple(s.assignments.values_list("user_id", flat=True).order_by("user_id")))
             for s in generate(patrol, seed=7)]
    Shift.objects.all().delete()
    second = [(s.starts_at, tuple(s.assignments.values_list("user_id", flat=True).order_by("user_id")))
              for s in generate(patrol, seed=7)]
    assert first == second


def test_without_a_seed_one_is_drawn_and_kept_so_the_plan_can_be_reproduced(patrol, frozen):
    shifts = generate(patrol)
    assert shifts[0].seed is not None and len({s.seed for s in shifts}) == 1


def test_fairness_counts_the_shifts_already_in_the_database(patrol, frozen):
    generate(patrol, nights=1, seed=1)  # three of five members have one shift
    first_three = set(ShiftMember.objects.values_list("user_id", flat=True))
    later = generate(patrol, start=MONDAY + dt.timedelta(days=1), nights=1, seed=1)[0]
    drawn = set(later.assignments.values_list("user_id", flat=True))
    assert {m.pk for m in patrol.members} - first_three <= drawn


def test_over_many_nights_everyone_takes_their_turn(patrol, frozen):
    generate(patrol, nights=30, seed=3)
    generate(patrol, start=MONDAY + dt.timedelta(days=30), nights=25, seed=4)
    counts = Counter(ShiftMember.objects.values_list("user_id", flat=True))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_an_inactive_member_is_never_drawn(patrol, frozen):
    services.team_member_add(team=patrol.team, user=patrol.members[0], active=False)
    generate(patrol, nights=20, seed=5)
    assert not ShiftMember.objects.filter(user=patrol.members[0]).exists()


def test_it_refuses_to_overwrite_nights_that_already_have_shifts(patrol, frozen):
    generate(patrol, seed=1)
    before = list(Shift.objects.values_list("id", flat=True))
    with pytest.raises(ValidationFailed) as refused:
        generate(patrol, start=MONDAY + dt.timedelta(days=5), nights=4, seed=2)
    assert refused.value.field == "replace"
    assert "2026-06-06" in refused.value.message
    assert list(Shift.objects.values_list("id", flat=True)) == before


def test_replace_redraws_planned_nights_and_keeps_those_already_walked(patrol, frozen):
    shifts = generate(patrol, seed=1)
    Shift.objects.filter(pk=shifts[0].pk).update(state=ShiftState.DONE)
    Shift.objects.filter(pk=shifts[1].pk).update(state=ShiftState.STARTED)
    generate(patrol, seed=2, replace=True)
    remaining = Shift.objects.filter(team=patrol.team)
    assert remaining.count() == 7
    assert set(remaining.filter(pk__in=[shifts[0].pk, shifts[1].pk]).values_list("state", flat=True)) == {
        ShiftState.DONE, ShiftState.STARTED}
    assert not remaining.filter(pk__in=[s.pk for s in shifts[2:]]).exists()
    assert remaining.exclude(pk__in=[shifts[0].pk, shifts[1].pk]).filter(seed=2).count() == 5


def test_replace_only_touches_the_range(patrol, frozen):
    generate(patrol, nights=10, seed=1)
    outside = set(Shift.objects.filter(night__gte=MONDAY + dt.timedelta(days=5)).values_list("id", flat=True))
    generate(patrol, nights=5, seed=9, replace=True)
    assert outside <= set(Shift.objects.values_list("id", flat=True))


def test_a_member_of_two_teams_is_not_sent_out_twice_a_night(patrol, world, frozen):
    shared = patrol.members[0]
    services.team_member_add(team=patrol.other_team, user=shared)
    generate(patrol, nights=7, seed=1)
    services.shifts_generate(viewer=viewer_for(world.users["admin"]), team=patrol.other_team, start=MONDAY,
                             end=MONDAY + dt.timedelta(days=6), seed=1)
    nights = Counter(ShiftMember.objects.filter(user=shared).values_list("night", flat=True))
    assert set(nights.values()) == {1}


def test_an_inactive_team_cannot_be_scheduled(patrol, frozen):
    patrol.team.active = False
    patrol.team.save()
    with pytest.raises(ValidationFailed, match="已停用"):
        generate(patrol)


def test_nights_already_past_cannot_be_scheduled(patrol, frozen):
    with pytest.raises(ValidationFailed) as refused:
        generate(patrol, start=MONDAY - dt.timedelta(days=1), seed=1)
    assert refused.value.field == "start" and "2026-06-01" in refused.value.message


def test_overdue_planned_shifts_are_marked_missed(patrol, frozen):
    generate(patrol, nights=5, seed=1)
    with clock.frozen_at(AFTERNOON + dt.timedelta(days=3)):
        # Thursday afternoon: the nights of Monday, Tuesday and Wednesday are over.
        assert services.shifts_mark_missed() == 3
    assert Shift.objects.filter(state=ShiftState.MISSED).count() == 3
