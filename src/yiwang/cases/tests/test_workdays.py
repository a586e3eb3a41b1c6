"""Working days: the Chinese calendar with make-up days, guessed years, loaded years."""

import datetime as dt
import logging

import pytest
from django.utils import timezone

from yiwang.cases import workdays
from yiwang.cases.services import workday_set

D = dt.date


@pytest.mark.django_db
def test_five_working_days_from_friday_27_september_2019_is_10_october():
    # Sunday 2019-09-29 was a make-up workday; 10-01…10-07 were the National Day holiday.
    assert workdays.add_workdays(D(2019, 9, 27), 5) == D(2019, 10, 10)


@pytest.mark.django_db
def test_twenty_working_days_from_20_december_2026_ends_in_2027():
    assert workdays.add_workdays(D(2026, 12, 20), 20).year == 2027


@pytest.mark.django_db
def test_an_unknown_year_counts_monday_to_friday_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="yiwang.calendar"):
        assert workdays.add_workdays(D(2031, 1, 3), 1) == D(2031, 1, 6)  # Friday → Monday
    assert "2031" in caplog.text


@pytest.mark.django_db
def test_zero_working_days_is_the_same_day():
    assert workdays.add_workdays(D(2019, 10, 1), 0) == D(2019, 10, 1)


@pytest.mark.django_db
def test_working_days_between_counts_the_days_after_the_start():
    assert workdays.workdays_between(D(2019, 9, 27), D(2019, 10, 10)) == 5
    assert workdays.workdays_between(D(2019, 10, 10), D(2019, 9, 27)) == 0


@pytest.mark.django_db
def test_a_deadline_is_the_end_of_the_last_working_day():
    start = timezone.make_aware(dt.datetime(2019, 9, 27, 10, 30))
    due = workdays.due_after(start, 5, "workdays")
    assert timezone.localtime(due) == timezone.make_aware(dt.datetime(2019, 10, 10, 23, 59, 59))


@pytest.mark.django_db
def test_an_hour_limit_counts_natural_hours():
    start = timezone.make_aware(dt.datetime(2019, 10, 1, 10, 0))
    assert workdays.due_after(start, 24, "hours") == start + dt.timedelta(hours=24)


@pytest.mark.django_db
def test_a_suspension_does_not_consume_working_days():
    aware = timezone.make_aware
    started = aware(dt.datetime(2019, 9, 2, 9))  # Monday
    due = workdays.due_after(started, 5, "workdays")  # Monday 09-09
    suspended, resumed = aware(dt.datetime(2019, 9, 4, 9)), aware(dt.datetime(2019, 9, 16, 9))
    # 3 working days were left (09-05, 09-06, 09-09); 09-13 was the Mid-Autumn holiday
    moved = workdays.due_after_suspension(due, suspended, resumed, "workdays")
    assert timezone.localdate(moved) == D(2019, 9, 19)
    assert workdays.compute_due(started, 5, "workdays", [(suspended, resumed)]) == moved


@pytest.mark.django_db
def test_an_administrators_edit_takes_effect_at_once():
    assert workdays.add_workdays(D(2019, 9, 27), 1) == D(2019, 9, 29)
    workday_set(day=D(2019, 9, 29), is_workday=False, name="测试")
    assert workdays.add_workdays(D(2019, 9, 27), 1) == D(2019, 9, 30)
