"""Case tallies (``CaseTally``): indicator rollups written in the same transaction as the timeline.

Every case contributes one to exactly one tally row, keyed by what the indicators group on. When a
timeline write changes a case's key or its measures, the old row loses the case and the new row
gains it, by an upsert that adds (never sets), so concurrent writers compose. ``recompute()`` is the
same figures as one GROUP BY of the case table: `yiwang verify` compares the two, and
``rebuild()`` replaces the tallies with it after a bulk import.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yiwang.cases.deadlines import is_on_time
from yiwang.cases.models import Case, CaseDayTally, CaseTally

Key = tuple[str, str, str, bool, int, int]
Measures = tuple[int, int, int, int]
KEY_COLUMNS = ("region_path", "kind", "state", "closed", "holder_unit_id", "handling_unit_id")
MEASURE_COLUMNS = ("n", "with_due", "on_time", "seconds")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_seconds(moment: dt.datetime) -> int:
    """Whole seconds since 1970 (floor), exactly as the SQL of ``recompute()`` computes them."""
    return (moment - _EPOCH) // dt.timedelta(seconds=1)


def contribution(case: Case) -> tuple[Key, Measures]:
    closed = case.closed_at is not None
    with_due = closed and case.due_at is not None
    on_time = is_on_time(case)
    seconds = epoch_seconds(case.closed_at) - epoch_seconds(case.created_at) if closed else 0
    key = (case.region_path, case.kind, case.state, closed, case.holder_unit_id, case.handling_unit_id or 0)
    return key, (1, int(with_due), int(on_time), seconds)


DAY_KEY_COLUMNS = ("region_path", "day")
DAY_MEASURE_COLUMNS = ("submitted", "closed")
Contribution = tuple[tuple[Key, Measures], dict[tuple[str, dt.date], tuple[int, int]]]


def contributions(case: Case) -> Contribution:
    """Everything a case adds to the tallies: its CaseTally row and its CaseDayTally days."""
    days: dict[tuple[str, dt.date], list[int]] = {}
    days.setdefault((case.region_path, timezone.localdate(case.created_at)), [0, 0])[0] += 1
    if case.closed_at is not None:
        days.setdefault((case.region_path, timezone.localdate(case.closed_at)), [0, 0])[1] += 1
    return contribution(case), {key: tuple(v) for key, v in days.items()}


Statement = tuple[str, list]


def track(before: Contribution | None, after: Contribution) -> None:
    """Move a case's contributions from ``before`` (None for a new case) to ``after``; call inside
    the transaction that writes the case."""
    execute(changes(before, after))


def changes(before: Contribution | None, after: Contribution) -> list[Statement]:
    """The upserts that ``track(before, after)`` runs, worked out without the database: case
    intake works them out before it takes the write lock and runs them (``execute``) holding it."""
    statements = []
    for model, key_columns, measure_columns, old, new in (
        (CaseTally, KEY_COLUMNS, MEASURE_COLUMNS, dict([before[0]]) if before else {}, dict([after[0]])),
        (CaseDayTally, DAY_KEY_COLUMNS, DAY_MEASURE_COLUMNS, before[1] if before else {}, after[1]),
    ):
        if old == new:
            continue
        deltas: dict[tuple, list[int]] = {}
        for sign, part in ((-1, old), (1, new)):
            for key, values in part.items():
                sums = deltas.setdefault(key, [0] * len(measure_columns))
                for i, value in enumerate(values):
                    sums[i] += sign * value
        statement = upsert_statement(model, key_columns, measure_columns, deltas.items())
        if statement is not None:
            statements.append(statement)
    return statements


def execute(statements: Iterable[Statement]) -> None:
    """Run statements from ``changes`` or ``upsert_statement``; call inside the writing transaction."""
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def upsert_add(model, key_columns: tuple[str, ...], measure_columns: tuple[str, ...],
               rows: Iterable[tuple[tuple, Iterable[int]]]) -> None:
    """Add ``rows`` (key, measures) to a tally table: insert new keys, add to existing ones.

    The table needs a unique constraint on ``key_columns``. Call inside the writing transaction.
    """
    statement = upsert_statement(model, key_columns, measure_columns, rows)
    if statement is not None:
        execute([statement])


def upsert_statement(model, key_columns: tuple[str, ...], measure_columns: tuple[str, ...],
                     rows: Iterable[tuple[tuple, Iterable[int]]]) -> Statement | None:
    """The statement of ``upsert_add``, rows whose measures are all zero left out; None if none is left."""
    # Sorted, so two transactions touching the same rows lock them in the same order.
    rows = sorted((tuple(key), tuple(values)) for key, values in rows if any(values))
    if not rows:
        return None
    params = [value for key, values in rows for value in (*key, *values)]
    return _upsert_sql(model._meta.db_table, key_columns, measure_columns, len(rows)), params


@functools.lru_cache(maxsize=256)
def _upsert_sql(table: str, key_columns: tuple[str, ...], measure_columns: tuple[str, ...], n_rows: int) -> str:
    columns = ", ".join(key_columns + measure_columns)
    placeholders = ", ".join(["(" + ", ".join(["%s"] * (len(key_columns) + len(measure_columns))) + ")"] * n_rows)
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in measure_columns)
    return (f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}")


def _group_by_sql() -> str:
    if connection.vendor == "postgresql":
        def whole(col: str) -> str:
            return f"EXTRACT(EPOCH FROM date_trunc('second', {col}))::bigint"
    else:
        # Whole seconds from the text itself: SQLite rounds fractions to milliseconds, so .9996 s
        # would otherwise count as the next second.
        def whole(col: str) -> str:
            return f"CAST(strftime('%%s', substr({col}, 1, 19)) AS INTEGER)"
    closed = "closed_at IS NOT NULL"
    with_due = f"({closed} AND due_at IS NOT NULL)"
    return (
        f"SELECT region_path, kind, state, {closed}, holder_unit_id, COALESCE(handling_unit_id, 0), COUNT(*), "
        f"SUM(CASE WHEN {with_due} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {with_due} AND closed_at <= due_at THEN 1 ELSE 0 END), "  # deadlines.on_time_q
        f"COALESCE(SUM(CASE WHEN {closed} THEN {whole('closed_at')} - {whole('created_at')} ELSE 0 END), 0) "
        f"FROM {Case._meta.db_table} GROUP BY 1, 2, 3, 4, 5, 6"
    )


def recompute() -> dict[Key, Measures]:
    """The tallies as the case table says they should be: one GROUP BY over every case."""
    with connection.cursor() as cursor:
        cursor.execute(_group_by_sql(), [])
        return {(r[0], r[1], r[2], bool(r[3]), r[4], r[5]): tuple(int(v) for v in r[6:10]) for r in cursor.fetchall()}


def _local_day_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE '{settings.TIME_ZONE}')::date"
    # SQLite has no time zones: the zone's offset now (Asia/Shanghai has had no daylight saving since 1991).
    offset = timezone.localtime().utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    # Whole seconds only: SQLite turns the stored microseconds into a floating-point day, and a
    # moment in the last millisecond before midnight rounded up into the next day (the write path,
    # timezone.localdate in Python, kept it on its day; `yiwang verify` then saw the tallies differ).
    return f"date(substr({column}, 1, 19), '{minutes:+d} minutes')"


def _day_group_by_sql() -> str:
    table = Case._meta.db_table
    return (
        f"SELECT region_path, day, SUM(submitted), SUM(closed) FROM ("
        f"SELECT region_path, {_local_day_sql('created_at')} AS day, 1 AS submitted, 0 AS closed FROM {table} "
        f"UNION ALL SELECT region_path, {_local_day_sql('closed_at')}, 0, 1 FROM {table} "
        f"WHERE closed_at IS NOT NULL) AS d GROUP BY region_path, day"
    )


def recompute_days() -> dict[tuple[str, dt.date], tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_day_group_by_sql(), [])
        out = {}
        for path, day, submitted, closed in cursor.fetchall():
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
            out[(path, day)] = (int(submitted), int(closed))
        return out


def stored_days() -> dict[tuple[str, dt.date], tuple[int, int]]:
    return {(p, d): (a, b) for p, d, a, b in CaseDayTally.objects.exclude(submitted=0, closed=0)
            .values_list("region_path", "day", "submitted", "closed")}


def stored() -> dict[Key, Measures]:
    return {
        tuple(row[:6]): tuple(row[6:])
        for row in CaseTally.objects.exclude(n=0).values_list(*KEY_COLUMNS, *MEASURE_COLUMNS)
    }


def mismatches(label: str, source: str, want: dict, have: dict, limit: int) -> list[str]:
    """Keys where a stored tally (``have``) differs from its recomputation from ``source`` (``want``)."""
    out: list[str] = []
    if limit <= 0:
        return out
    for key in sorted(set(want) | set(have), key=repr):
        if want.get(key) != have.get(key):
            out.append(f"{label} {key}: stored {have.get(key)} but the {source} give {want.get(key)}")
            if len(out) >= limit:
                break
    return out


def differences(limit: int = 10) -> list[str]:
    """Where the stored tallies and a recomputation disagree (empty when they agree)."""
    out = mismatches("tally", "cases", recompute(), stored(), limit)
    return out + mismatches("day tally", "cases", recompute_days(), stored_days(), limit - len(out))


def lock_for_rebuild(cursor, *tables: str) -> None:
    """Before a tally table is emptied and recomputed: one rebuild at a time, and no upsert in between.

    Two imports that rebuild at once would otherwise each delete what their snapshot saw and both
    insert, and the second would fail on the tally's unique key after its whole import. Readers go
    on (EXCLUSIVE admits them); a case written meanwhile waits the few seconds of the rebuild.
    SQLite's single writer already serializes them."""
    if connection.vendor == "postgresql":
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")


def rebuild() -> int:
    """Replace every tally with a recomputation (after a bulk import); returns the number of rows."""
    table = CaseTally._meta.db_table
    columns = ", ".join(KEY_COLUMNS + MEASURE_COLUMNS)
    days = CaseDayTally._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_for_rebuild(cursor, table, days)
        cursor.execute(f"DELETE FROM {table}", [])
        cursor.execute(f"INSERT INTO {table} ({columns}) {_group_by_sql()}", [])
        rows = cursor.rowcount
        cursor.execute(f"DELETE FROM {days}", [])
        cursor.execute(f"INSERT INTO {days} (region_path, day, submitted, closed) {_day_group_by_sql()}", [])
        return rows + cursor.rowcount
