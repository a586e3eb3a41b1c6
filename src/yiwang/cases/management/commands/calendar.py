"""`yiwang calendar load FILE [--recompute] | show YEAR | add-workdays DATE N`."""

import datetime as dt
import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yiwang.cases import workdays
from yiwang.cases.models import Workday
from yiwang.cases.selectors import open_cases_due_from
from yiwang.cases.services import calendar_load_year, case_recompute_due, due_from_timeline
from yiwang.core.errors import DomainError

log = logging.getLogger("yiwang.calendar")


class Command(BaseCommand):
    help = "The working-day calendar: load a year's official holidays, show a year, count working days."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        load = sub.add_parser("load", help="load a year's holidays and make-up workdays (CSV or YAML)")
        load.add_argument("file", type=Path)
        load.add_argument("--recompute", action="store_true",
                          help="also move the deadlines of open cases that the new calendar changes")
        show = sub.add_parser("show", help="print a year's holidays and make-up workdays")
        show.add_argument("year", type=int)
        add = sub.add_parser("add-workdays", help="print the date N working days after DATE")
        add.add_argument("date")
        add.add_argument("n", type=int)

    def handle(self, *args, verb, **options):
        try:
            getattr(self, "do_" + verb.replace("-", "_"))(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def do_add_workdays(self, date, n, **_):
        try:
            start = dt.date.fromisoformat(date)
        except ValueError:
            raise CommandError(f"{date!r} is not a date: use YYYY-MM-DD, e.g. 2019-09-27") from None
        if n < 0:
            raise CommandError("N must be zero or more")
        self.stdout.write(workdays.add_workdays(start, n).isoformat())

    def do_show(self, year, **_):
        rows = list(Workday.objects.filter(date__year=year).order_by("date"))
        if not rows:
            self.stdout.write(f"{year}: not in the calendar; working days are guessed Monday–Friday.")
            self.stdout.write("Load the State Council's notice with `yiwang calendar load FILE`.")
            return
        sources = sorted({r.source for r in rows})
        holidays = [r for r in rows if not r.is_workday and r.date.weekday() < 5]
        makeup = [r for r in rows if r.is_workday and r.date.weekday() >= 5]
        self.stdout.write(f"{year}: {sum(r.is_workday for r in rows)} working days (source: {', '.join(sources)})")
        self.stdout.write("holidays on weekdays:")
        for r in holidays:
            self.stdout.write(f"  {r.date}  {r.name}")
        self.stdout.write("make-up workdays on weekends:")
        for r in makeup:
            self.stdout.write(f"  {r.date}  {r.name}")

    def do_load(self, file, recompute, **_):
        year_calendar = workdays.parse_calendar_file(file)
        changes = calendar_load_year(year_calendar=year_calendar)
        self.stdout.write(f"{year_calendar.year}: loaded {len(year_calendar.holidays)} holidays and "
                          f"{len(year_calendar.workdays)} make-up workdays; {len(changes)} days changed")
        for c in changes:
            what = "workday → holiday" if c.was_workday else "holiday → workday"
            log.info("calendar %s: %s %s", c.day, what, c.name)
            self.stdout.write(f"  {c.day}  {what}  {c.name}")
        # Scan from the year's first day even when nothing changed in this run: a previous run may
        # have changed the days without --recompute.
        affected = []
        for case in open_cases_due_from(dt.date(year_calendar.year, 1, 1)).iterator(chunk_size=500):
            new_due = due_from_timeline(case)
            if new_due != case.due_at:
                affected.append((case, new_due))
        self.stdout.write(f"{len(affected)} open case(s) would get a different deadline")
        for case, new_due in affected:
            old = timezone.localtime(case.due_at).date() if case.due_at else None
            self.stdout.write(f"  {case.number}  {old} → {timezone.localtime(new_due).date()}")
            if recompute:
                case_recompute_due(case=case)
        if affected and not recompute:
            self.stdout.write("deadlines were not changed; run again with --recompute to move them")
        elif affected:
            self.stdout.write(f"recomputed {len(affected)} deadline(s); each case's timeline records the change")
