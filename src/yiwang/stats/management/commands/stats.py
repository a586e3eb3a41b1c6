"""`yiwang stats [--region CODE] [--json]`: indicators for the whole area or one region."""

import json

from django.core.management.base import BaseCommand, CommandError

from yiwang.cases.retention import retention_report
from yiwang.core.errors import DomainError
from yiwang.org.selectors import Viewer
from yiwang.stats.selectors import indicators


class Command(BaseCommand):
    help = "Print indicators (counts by state and level, on-time and satisfaction rates)."

    def add_arguments(self, parser):
        parser.add_argument("--region", default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, region, json: bool, **options):
        try:
            data = indicators(viewer=Viewer(user_id=None, is_superuser=True, username="cli"), region_code=region)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if json:
            self.stdout.write(_dumps(data))
            return
        title = data["region"]["name"] if data["region"] else "全部"
        self.stdout.write(f"{title}: {data['cases']} cases, {data['open']} open, {data['closed']} closed, "
                          f"{data['overdue_open']} overdue")
        rows = [
            ("on-time rate 按时办结率", _pct(data["on_time_rate"])),
            ("satisfaction 满意率", _pct(data["satisfaction_rate"]) + f"  ({data['ratings']} ratings, "
                                                                    f"{data['bad_reviews']} bad)"),
            ("closed at community level 村(社区)办结", _pct(data["community_share"])),
            ("average handling hours 平均办理时长", str(data["average_handling_hours"] or "-")),
        ]
        for label, value in rows:
            self.stdout.write(f"  {label:<44} {value}")
        self.stdout.write("  by state: " + ", ".join(f"{k} {v}" for k, v in data["by_state"].items()))
        self.stdout.write("  closed by level: " + ", ".join(f"{k} {v}" for k, v in data["closed_by_level"].items()))
        if region is None:
            _retention(self.stdout)
            self.stdout.write(f"database: {_database()}")


def _database() -> str:
    """The database and its version: on SQLite, the library, which must be 3.51.3 or newer (docs/operations.md)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        from yiwang.core.backends.sqlite import library

        return library()
    connection.ensure_connection()
    return f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"


def _retention(out) -> None:
    """The latest passes of the retention sweep (个人信息保留期清理, docs/retention.md)."""
    runs = retention_report()
    out.write("retention 个人信息保留期清理: " + ("no run yet" if not runs else f"last {len(runs)} runs"))
    for run in runs:
        counts = ", ".join(f"{k} {v}" for k, v in run.counts.items())
        out.write(f"  {run.started_at:%Y-%m-%d %H:%M} {run.cases} cases ({counts}), "
                  f"{run.files_deleted} files deleted, {len(run.errors)} errors")
        for error in run.errors[:3]:
            out.write(f"    ! {error}")


def _pct(value) -> str:
    return f"{value}%" if value is not None else "-"


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
