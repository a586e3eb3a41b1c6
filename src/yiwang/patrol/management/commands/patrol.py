"""`yiwang patrol …`: draw night shifts from the shell.

  yiwang patrol schedule --team ID --from DATE --to DATE [--seed N] [--replace] [--as USER] [--dry-run]
  yiwang patrol sweep          # planned shifts whose time is over become "missed"

Without --as the command acts as the system (an administrator at the console).
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yiwang.core.errors import DomainError
from yiwang.org.selectors import Viewer, viewer_for
from yiwang.patrol import selectors, services
from yiwang.patrol.models import PatrolTeam

SYSTEM = Viewer(user_id=None, username="system", is_superuser=True)


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{raw!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Draw patrol shifts for a team, or mark overdue planned shifts as missed."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        schedule = sub.add_parser("schedule", help="draw (and save) a team's shifts for a range of nights")
        schedule.add_argument("--team", type=int, required=True, help="team id")
        schedule.add_argument("--from", dest="start", required=True, help="first night, YYYY-MM-DD")
        schedule.add_argument("--to", dest="end", required=True, help="last night, YYYY-MM-DD")
        schedule.add_argument("--seed", type=int, default=None, help="random seed (same seed, same plan)")
        schedule.add_argument("--replace", action="store_true", help="redraw nights whose shifts have not started")
        schedule.add_argument("--dry-run", action="store_true", help="print the plan without saving it")
        schedule.add_argument("--as", dest="username", default=None, help="act as this user")
        sub.add_parser("sweep", help="mark planned shifts whose time is over as missed")

    def handle(self, *args, verb, **options):
        try:
            getattr(self, "do_" + verb)(**options)
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            raise CommandError(exc.message + (f" ({detail})" if detail else "")) from exc

    def do_schedule(self, team, start, end, seed, replace, dry_run, username, **_):
        viewer = SYSTEM
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            viewer = viewer_for(user)
        found = PatrolTeam.objects.select_related("unit").filter(pk=team).first()
        if found is None:
            raise CommandError(f"no patrol team with id {team}")
        start, end = _date(start), _date(end)
        names = {m.user_id: m.user.username for m in selectors.members_of(found)}
        if dry_run:
            proposal = selectors.shift_proposal(viewer=viewer, team=found, start=start, end=end, seed=seed,
                                                replace=replace)
            rows = [(p.night, p.starts_at, p.ends_at, p.member_ids) for p in proposal.shifts]
            used_seed = proposal.seed
        else:
            shifts = services.shifts_generate(viewer=viewer, team=found, start=start, end=end, seed=seed,
                                              replace=replace)
            rows = [(s.night, s.starts_at, s.ends_at, tuple(s.assignments.values_list("user_id", flat=True)))
                    for s in shifts]
            used_seed = shifts[0].seed if shifts else seed
        for night, starts_at, ends_at, member_ids in rows:
            self.stdout.write(f"{night:%Y-%m-%d %a}  {timezone.localtime(starts_at):%H:%M}–"
                              f"{timezone.localtime(ends_at):%H:%M}  {', '.join(sorted(names[u] for u in member_ids))}")
        verb = "would draw" if dry_run else "drew"
        self.stdout.write(f"{found.name}: {verb} {len(rows)} shifts, seed {used_seed}")

    def do_sweep(self, **_):
        self.stdout.write(f"{services.shifts_mark_missed()} shifts marked missed")
