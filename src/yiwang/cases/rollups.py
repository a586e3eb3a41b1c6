"""Case tallies (``CaseTally``, ``CaseDayTally``, ``CaseMonthTally``, ``CaseReceivedTally``): indicator
rollups written in the same transaction as the timeline.

Every case contributes one to exactly one tally row, keyed by what the indicators group on. When a
timeline write changes a case's key or its measures, the old row loses the case and the new row
gains it, by an upsert that adds (never sets), so concurrent writers compose. ``recompute()`` is the
same figures as one GROUP BY of the case table: `yiwang verify` compares the two, and
``rebuild()`` replaces the tallies with it after a bulk import.

The month tally counts closed cases only, so only a closing or a reopening moves a case there (one
more upsert on those events, none on the others). Whether a case was sent back before it closed is
in its timeline, not its row: the upsert reads it there itself, from the events before the one
being written, so working out the statements still needs no query.

The received tally counts each case once, for the unit that first held it, in the month it was
submitted: one more row in the submission's upsert batch, none on later steps (a case's region, kind
and submission time do not change; were one to, the upsert would read that unit from the case's first
event, as the month tally reads its rework).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yiwang.cases.deadlines import is_on_time
from yiwang.cases.models import (
    REWORK_ACTIONS,
    Case,
    CaseDayTally,
    CaseEvent,
    CaseMonthTally,
    CaseReceivedTally,
    CaseTally,
)

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


DAY_KEY_COLUMNS = ("region_path", "day", "kind")
DAY_MEASURE_COLUMNS = ("submitted", "closed")
DayKey = tuple[str, dt.date, str]
MONTH_KEY_COLUMNS = ("region_path", "kind", "state", "unit_id", "month")
MONTH_MEASURE_COLUMNS = ("closed", "with_due", "on_time", "seconds")  # and "reworked", read by the upsert
MonthKey = tuple[str, str, str, int, dt.date]
# REWORK_ACTIONS (cases.models): a case counts once in the rework rate however often it was sent back.
__all__ = ["REWORK_ACTIONS"]
# (case id, events before the one being written): where the month tally's upsert reads "reworked".
Probe = tuple[int, int] | None
RECEIVED_KEY_COLUMNS = ("region_path", "kind", "unit_id", "month")
# The unit is None once the case is stored: the upsert then reads it from the case's first event.
ReceivedKey = tuple[str, str, int | None, dt.date]
Contribution = tuple[tuple[Key, Measures], dict[DayKey, tuple[int, int]], dict[MonthKey, Measures], Probe,
                     dict[ReceivedKey, tuple[int]]]


def month_of(moment: dt.datetime) -> dt.date:
    """The first day of the local month of ``moment``: the month a figure by month counts it in."""
    return timezone.localdate(moment).replace(day=1)


def contributions(case: Case) -> Contribution:
    """Everything a case adds to the tallies: its CaseTally row, its CaseDayTally days, its
    CaseMonthTally row once closed, where its rework is read (None for a case not yet stored), and its
    CaseReceivedTally row (the unit that receives a new case is its holder, cases.models)."""
    days: dict[DayKey, list[int]] = {}
    days.setdefault((case.region_path, timezone.localdate(case.created_at), case.kind), [0, 0])[0] += 1
    key, measures = contribution(case)
    months: dict[MonthKey, Measures] = {}
    if case.closed_at is not None:
        days.setdefault((case.region_path, timezone.localdate(case.closed_at), case.kind), [0, 0])[1] += 1
        months[(case.region_path, case.kind, case.state, case.handling_unit_id or case.holder_unit_id,
                month_of(case.closed_at))] = measures
    probe = (case.id, case.event_count) if case.id is not None else None
    received = {(case.region_path, case.kind, case.holder_unit_id if probe is None else None,
                 month_of(case.created_at)): (1,)}
    return (key, measures), {k: tuple(v) for k, v in days.items()}, months, probe, received


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
        statement = upsert_statement(model, key_columns, measure_columns, _deltas(old, new, len(measure_columns)))
        if statement is not None:
            statements.append(statement)
    old_months = before[2] if before else {}
    if old_months != after[2]:
        # The events before this one are the same on both sides: a case's rework is the same in the row
        # it leaves and the row it enters (None: a new case, sent back never).
        statement = month_statement(_deltas(old_months, after[2], len(MONTH_MEASURE_COLUMNS)),
                                    before[3] if before else None)
        if statement is not None:
            statements.append(statement)
    old_received = before[4] if before else {}
    if old_received != after[4]:
        statement = received_statement(_deltas(old_received, after[4], 1), after[3])
        if statement is not None:
            statements.append(statement)
    return statements


def _deltas(old: dict, new: dict, width: int) -> list[tuple[tuple, list[int]]]:
    deltas: dict[tuple, list[int]] = {}
    for sign, part in ((-1, old), (1, new)):
        for key, values in part.items():
            sums = deltas.setdefault(key, [0] * width)
            for i, value in enumerate(values):
                sums[i] += sign * value
    return list(deltas.items())


def month_statement(rows: Iterable[tuple[tuple, Iterable[int]]], probe: Probe) -> Statement | None:
    """The upsert of CaseMonthTally rows (key, measures): each row also adds its case count times
    whether the case was sent back before event ``probe[1]`` (a subquery on the case's own events,
    by the unique (case, seq) index), so the rework needs no query of its own. One statement."""
    rows = sorted((tuple(key), tuple(values)) for key, values in rows if any(values))
    if not rows:
        return None
    table = CaseMonthTally._meta.db_table
    columns = (*MONTH_KEY_COLUMNS, *MONTH_MEASURE_COLUMNS, "reworked")
    if probe is None:
        reworked, extra = "0", []
    else:
        actions = ", ".join(["%s"] * len(REWORK_ACTIONS))
        reworked = (f"%s * (CASE WHEN EXISTS (SELECT 1 FROM {CaseEvent._meta.db_table} WHERE case_id = %s "
                    f"AND seq <= %s AND action IN ({actions})) THEN 1 ELSE 0 END)")
        extra = [*probe, *REWORK_ACTIONS]
    row_sql = "(" + ", ".join(["%s"] * (len(MONTH_KEY_COLUMNS) + len(MONTH_MEASURE_COLUMNS)) + [reworked]) + ")"
    params: list = []
    for key, values in rows:
        params.extend((*key, *values))
        if probe is not None:
            params.extend([values[0], *extra])  # values[0]: this row gains (+1) or loses (-1) the case
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns[len(MONTH_KEY_COLUMNS):])
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_sql] * len(rows))} "
           f"ON CONFLICT ({', '.join(MONTH_KEY_COLUMNS)}) DO UPDATE SET {updates}")
    return sql, params


def received_statement(rows: Iterable[tuple[tuple, Iterable[int]]], probe: Probe) -> Statement | None:
    """The upsert of CaseReceivedTally rows (key, [received]); a key whose unit is None takes the
    unit of event 1 of case ``probe[0]`` (by the unique (case, seq) index). One statement."""
    rows = sorted(((tuple(key), tuple(values)) for key, values in rows if any(values)),
                  key=lambda row: (row[0][0], row[0][1], row[0][2] or 0, row[0][3]))
    if not rows:
        return None
    if probe is None and any(key[2] is None for key, _values in rows):
        raise ValueError("a stored case's receiving unit is read from its first event: its id is needed")
    table = CaseReceivedTally._meta.db_table
    first_unit = f"(SELECT to_unit_id FROM {CaseEvent._meta.db_table} WHERE case_id = %s AND seq = 1)"
    sql_rows, params = [], []
    for (path, kind, unit, month), (received,) in rows:
        sql_rows.append(f"(%s, %s, {'%s' if unit is not None else first_unit}, %s, %s)")
        params.extend((path, kind, unit if unit is not None else probe[0], month, received))
    sql = (f"INSERT INTO {table} ({', '.join(RECEIVED_KEY_COLUMNS)}, received) VALUES {', '.join(sql_rows)} "
           f"ON CONFLICT ({', '.join(RECEIVED_KEY_COLUMNS)}) DO UPDATE SET received = {table}.received + "
           "excluded.received")
    return sql, params


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


def _measures_sql() -> str:
    """COUNT, with a deadline, on time and seconds, as ``contribution()`` counts them, in SQL."""
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
        f"COUNT(*), SUM(CASE WHEN {with_due} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {with_due} AND closed_at <= due_at THEN 1 ELSE 0 END), "  # deadlines.on_time_q
        f"COALESCE(SUM(CASE WHEN {closed} THEN {whole('closed_at')} - {whole('created_at')} ELSE 0 END), 0)"
    )


def _group_by_sql() -> str:
    return (
        f"SELECT region_path, kind, state, closed_at IS NOT NULL, holder_unit_id, COALESCE(handling_unit_id, 0), "
        f"{_measures_sql()} FROM {Case._meta.db_table} GROUP BY 1, 2, 3, 4, 5, 6"
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
        f"SELECT region_path, day, kind, SUM(submitted), SUM(closed) FROM ("
        f"SELECT region_path, {_local_day_sql('created_at')} AS day, kind, 1 AS submitted, 0 AS closed FROM {table} "
        f"UNION ALL SELECT region_path, {_local_day_sql('closed_at')}, kind, 0, 1 FROM {table} "
        f"WHERE closed_at IS NOT NULL) AS d GROUP BY region_path, day, kind"
    )


def as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def recompute_days() -> dict[DayKey, tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_day_group_by_sql(), [])
        return {(path, as_date(day), kind): (int(submitted), int(closed))
                for path, day, kind, submitted, closed in cursor.fetchall()}


def stored_days() -> dict[DayKey, tuple[int, int]]:
    return {(p, d, k): (a, b) for p, d, k, a, b in CaseDayTally.objects.exclude(submitted=0, closed=0)
            .values_list(*DAY_KEY_COLUMNS, *DAY_MEASURE_COLUMNS)}


def local_month_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('month', {column} AT TIME ZONE '{settings.TIME_ZONE}')::date"
    return f"date({_local_day_sql(column)}, 'start of month')"


def _month_group_by_sql() -> str:
    case, events = Case._meta.db_table, CaseEvent._meta.db_table
    actions = ", ".join(f"'{a}'" for a in REWORK_ACTIONS)
    # One set of the cases ever sent back, read once from the partial index of rework events
    # (case_event_rework_idx), instead of an EXISTS probing every event of each closed case: at 109,000
    # cases 0.80 s -> 0.26 s of CPU on SQLite. Every such event of a closed case precedes its last closing.
    return (
        f"SELECT region_path, kind, state, COALESCE(handling_unit_id, holder_unit_id), "
        f"{local_month_sql('closed_at')}, {_measures_sql()}, "
        f"SUM(CASE WHEN id IN (SELECT case_id FROM {events} WHERE action IN ({actions})) "
        f"THEN 1 ELSE 0 END) FROM {case} WHERE closed_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
    )


MonthRow = tuple[int, int, int, int, int]  # closed, with a deadline, on time, seconds, reworked


def recompute_months() -> dict[MonthKey, MonthRow]:
    """The month tallies as the cases and their timelines say they should be."""
    with connection.cursor() as cursor:
        cursor.execute(_month_group_by_sql(), [])
        return {(r[0], r[1], r[2], int(r[3]), as_date(r[4])): tuple(int(v) for v in r[5:10])
                for r in cursor.fetchall()}


def stored_months() -> dict[MonthKey, MonthRow]:
    return {tuple(r[:5]): tuple(r[5:]) for r in CaseMonthTally.objects.exclude(closed=0)
            .values_list(*MONTH_KEY_COLUMNS, *MONTH_MEASURE_COLUMNS, "reworked")}


def _received_group_by_sql() -> str:
    case, events = Case._meta.db_table, CaseEvent._meta.db_table
    return (
        f"SELECT {case}.region_path, {case}.kind, COALESCE(e.to_unit_id, 0), {local_month_sql(f'{case}.created_at')}, "
        f"COUNT(*) FROM {case} JOIN {events} e ON e.case_id = {case}.id AND e.seq = 1 GROUP BY 1, 2, 3, 4"
    )


def recompute_received() -> dict[tuple[str, str, int, dt.date], int]:
    """The received tallies as the cases and their first events say they should be."""
    with connection.cursor() as cursor:
        cursor.execute(_received_group_by_sql(), [])
        return {(r[0], r[1], int(r[2]), as_date(r[3])): int(r[4]) for r in cursor.fetchall()}


def stored_received() -> dict[tuple[str, str, int, dt.date], int]:
    return {tuple(r[:4]): r[4] for r in CaseReceivedTally.objects.exclude(received=0)
            .values_list(*RECEIVED_KEY_COLUMNS, "received")}


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
    out += mismatches("day tally", "cases", recompute_days(), stored_days(), limit - len(out))
    out += mismatches("month tally", "cases and their timelines", recompute_months(), stored_months(),
                      limit - len(out))
    return out + mismatches("received tally", "cases and their first events", recompute_received(),
                            stored_received(), limit - len(out))


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
    months = CaseMonthTally._meta.db_table
    month_columns = ", ".join((*MONTH_KEY_COLUMNS, *MONTH_MEASURE_COLUMNS, "reworked"))
    received = CaseReceivedTally._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_for_rebuild(cursor, table, days, months, received)
        cursor.execute(f"DELETE FROM {table}", [])
        cursor.execute(f"INSERT INTO {table} ({columns}) {_group_by_sql()}", [])
        rows = cursor.rowcount
        cursor.execute(f"DELETE FROM {days}", [])
        cursor.execute(f"INSERT INTO {days} (region_path, day, kind, submitted, closed) {_day_group_by_sql()}", [])
        rows += cursor.rowcount
        cursor.execute(f"DELETE FROM {months}", [])
        cursor.execute(f"INSERT INTO {months} ({month_columns}) {_month_group_by_sql()}", [])
        rows += cursor.rowcount
        cursor.execute(f"DELETE FROM {received}", [])
        cursor.execute(f"INSERT INTO {received} ({', '.join(RECEIVED_KEY_COLUMNS)}, received) "
                       f"{_received_group_by_sql()}", [])
        return rows + cursor.rowcount
