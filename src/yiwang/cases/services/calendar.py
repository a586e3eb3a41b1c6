"""The working-day calendar's writes: an administrator's correction of one day, a year loaded from
the official calendar. Deadlines already computed are not moved here (see actions.case_recompute_due)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from yiwang.cases import workdays
from yiwang.cases.models import Workday
from yiwang.core import confcache

CALENDAR = "cases.calendar"


@transaction.atomic
def workday_set(*, day: dt.date, is_workday: bool, name: str = "") -> None:
    """An administrator's correction of one day. Deadlines already computed are not moved."""
    Workday.objects.update_or_create(date=day, defaults={"is_workday": is_workday, "name": name,
                                                         "source": Workday.Source.ADMIN})
    confcache.bump(CALENDAR)


@dataclass
class CalendarChange:
    day: dt.date
    was_workday: bool
    is_workday: bool
    name: str


@transaction.atomic
def calendar_load_year(*, year_calendar: workdays.YearCalendar) -> list[CalendarChange]:
    """Replace one year's days with the official calendar; return the days whose status changed."""
    cal = workdays.calendar_cache.get()
    changes = []
    rows = []
    for day, (is_work, name) in year_calendar.days().items():
        before = cal.is_workday(day)
        if before != is_work:
            changes.append(CalendarChange(day, before, is_work, name))
        rows.append(Workday(date=day, is_workday=is_work, name=name, source=Workday.Source.LOADED))
    Workday.objects.filter(date__year=year_calendar.year).delete()
    Workday.objects.bulk_create(rows, batch_size=500)
    confcache.bump(CALENDAR)
    return changes

