"""The one working-day calculator (工作日), over the Workday table.

The table is seeded from chinese-calendar for the years it knows (2004–2026) and extended by
administrators each autumn, when the State Council publishes the next year's holidays. For a year
the table does not know, days count Monday–Friday and a warning is logged once per year and
process: a deadline is never refused for lack of a calendar.

Counting convention: N working days after a date D are counted from the day after D; the deadline
is the end (23:59:59 local time) of the N-th working day. 5 working days from Friday 2019-09-27
is Thursday 2019-10-10, because Sunday 2019-09-29 was a make-up workday and 10-01…10-07 were off.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import ValidationFailed
from yiwang.core.text import check_text

log = logging.getLogger("yiwang.calendar")

END_OF_DAY = dt.time(23, 59, 59)


@dataclass
class Calendar:
    days: dict[dt.date, bool]
    years: frozenset[int]
    warned: set[int] = field(default_factory=set)

    def is_workday(self, day: dt.date) -> bool:
        if day.year in self.years:
            known = self.days.get(day)
            if known is not None:
                return known
        elif day.year not in self.warned:
            self.warned.add(day.year)
            log.warning(
                "the working-day calendar has no entries for %s: counting Monday–Friday; "
                "load the State Council's holidays with `yiwang calendar load FILE`", day.year,
            )
        return day.weekday() < 5


def _load_calendar() -> Calendar:
    from yiwang.cases.models import Workday

    days = dict(Workday.objects.values_list("date", "is_workday"))
    return Calendar(days=days, years=frozenset(d.year for d in days))


calendar_cache: ConfigCache[Calendar] = ConfigCache("cases.calendar", _load_calendar)


def is_workday(day: dt.date) -> bool:
    return calendar_cache.get().is_workday(day)


def add_workdays(start: dt.date, n: int) -> dt.date:
    """The N-th working day after ``start`` (N=0 gives ``start`` itself)."""
    if n < 0:
        raise ValueError("n must not be negative")
    cal = calendar_cache.get()
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        if cal.is_workday(day):
            n -= 1
    return day


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; zero when end is not after start."""
    cal = calendar_cache.get()
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if cal.is_workday(day):
            count += 1
    return count


def end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, END_OF_DAY))


def due_after(start: dt.datetime, limit: int, unit: str) -> dt.datetime:
    """Deadline ``limit`` working days (or hours) after the moment ``start``."""
    if unit == "hours":
        return start + dt.timedelta(hours=limit)
    return end_of_day(add_workdays(timezone.localdate(start), limit))


def due_after_suspension(due: dt.datetime, suspended: dt.datetime, resumed: dt.datetime, unit: str) -> dt.datetime:
    """Move ``due`` so that the time between suspension and resumption does not count."""
    if unit == "hours":
        return resumed + max(due - suspended, dt.timedelta(0))
    remaining = workdays_between(timezone.localdate(suspended), timezone.localdate(due))
    return end_of_day(add_workdays(timezone.localdate(resumed), remaining))


def compute_due(
    started: dt.datetime, limit: int, unit: str, suspensions: Iterable[tuple[dt.datetime, dt.datetime | None]]
) -> dt.datetime:
    """Replay a deadline from its start and its suspensions (used to recompute after a calendar change)."""
    due = due_after(started, limit, unit)
    for suspended, resumed in suspensions:
        if resumed is None:
            break
        due = due_after_suspension(due, suspended, resumed, unit)
    return due


# --- loading a year's official calendar -------------------------------------------------------


@dataclass
class YearCalendar:
    year: int
    holidays: dict[dt.date, str]
    workdays: dict[dt.date, str]

    def days(self) -> dict[dt.date, tuple[bool, str]]:
        """Every day of the year: (is_workday, name)."""
        out = {}
        day = dt.date(self.year, 1, 1)
        while day.year == self.year:
            if day in self.holidays:
                out[day] = (False, self.holidays[day])
            elif day in self.workdays:
                out[day] = (True, self.workdays[day])
            else:
                out[day] = (day.weekday() < 5, "")
            day += dt.timedelta(days=1)
        return out


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(_("%(where)s：“%(v)s”不是日期(应为 2027-01-01 这样的格式)。") % {"where": where, "v": value}) from None


def _expand(entry: object, where: str) -> list[dt.date]:
    """A date, or a range "2027-02-15..2027-02-21", or {from:, to:}."""
    if isinstance(entry, dict):
        start, end = _date(entry.get("from"), where), _date(entry.get("to"), where)
    elif isinstance(entry, str) and ".." in entry:
        a, b = entry.split("..", 1)
        start, end = _date(a, where), _date(b, where)
    else:
        start = end = _date(entry, where)
    if end < start:
        raise ValidationFailed(_("%(where)s：结束日期早于开始日期。") % {"where": where})
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


class _DatesAsText(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is our clear error, not PyYAML's crash."""


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_calendar_file(path: Path) -> YearCalendar:
    """Read a year's holidays and make-up workdays from YAML or CSV, refusing anything doubtful.

    YAML: ``year: 2027`` then ``holidays:`` and ``workdays:`` lists whose items are a date, a
    range ``"2027-02-15..2027-02-21"``, or ``{name: 春节, from: …, to: …}``.
    CSV: header ``date,type,name`` where type is ``holiday`` or ``workday``.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValidationFailed(_("无法读取文件 %(p)s：%(e)s") % {"p": path, "e": exc.strerror}) from exc
    holidays: dict[dt.date, str] = {}
    workdays: dict[dt.date, str] = {}
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"date", "type"} <= set(reader.fieldnames):
            raise ValidationFailed(_("CSV 须有表头 date,type,name。"))
        for i, row in enumerate(reader, start=2):
            where = _("第 %(n)s 行") % {"n": i}
            kind = (row.get("type") or "").strip()
            if kind not in {"holiday", "workday"}:
                raise ValidationFailed(_("%(where)s：type 须为 holiday 或 workday。") % {"where": where})
            for day in _expand((row.get("date") or "").strip(), where):
                target = holidays if kind == "holiday" else workdays
                if day in holidays or day in workdays:
                    raise ValidationFailed(_("%(where)s：日期 %(d)s 重复。") % {"where": where, "d": day})
                target[day] = (row.get("name") or "").strip()
                check_text(target[day], field=f"{where} name")
        years = {d.year for d in [*holidays, *workdays]}
        if len(years) != 1:
            raise ValidationFailed(_("文件须且只能包含同一年的日期。"))
        year = years.pop()
    else:
        try:
            data = yaml.load(text, Loader=_DatesAsText)
        except yaml.YAMLError as exc:
            raise ValidationFailed(_("YAML 格式错误：%(e)s") % {"e": exc}) from exc
        if not isinstance(data, dict) or not isinstance(data.get("year"), int):
            raise ValidationFailed(_("YAML 须有整数 year 以及 holidays、workdays 列表。"))
        year = data["year"]
        for key, target in (("holidays", holidays), ("workdays", workdays)):
            entries = data.get(key) or []
            if not isinstance(entries, list):
                raise ValidationFailed(_("%(key)s 须为列表。") % {"key": key})
            for i, entry in enumerate(entries, start=1):
                where = f"{key}[{i}]"
                name = entry.get("name", "") if isinstance(entry, dict) else ""
                check_text(name, field=f"{where}.name")
                value = entry["date"] if isinstance(entry, dict) and "date" in entry else entry
                for day in _expand(value, where):
                    if day in holidays or day in workdays:
                        raise ValidationFailed(_("%(where)s：日期 %(d)s 重复。") % {"where": where, "d": day})
                    target[day] = name
    for day in [*holidays, *workdays]:
        if day.year != year:
            raise ValidationFailed(_("日期 %(d)s 不在 %(y)s 年内。") % {"d": day, "y": year})
    for day in workdays:
        if day.weekday() < 5:
            raise ValidationFailed(_("调休上班日 %(d)s 本来就是工作日(周一至周五)。") % {"d": day})
    if not holidays:
        raise ValidationFailed(_("文件中没有任何节假日。"))
    return YearCalendar(year=year, holidays=holidays, workdays=workdays)
