"""Rating tallies: evaluations counted by region, handling unit and level (``RatingTally``), and the
same by local month of rating (``RatingMonthTally``).

Written by ``evaluation_create`` in the evaluation's transaction; ``recompute()`` is the same
figures as one GROUP BY of the evaluations (`yiwang verify` compares them; ``rebuild()`` after a
bulk import).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from yiwang.cases.rollups import as_date, local_month_sql, lock_for_rebuild, mismatches, month_of, upsert_add
from yiwang.feedback.models import Evaluation, RatingMonthTally, RatingTally

KEY_COLUMNS = ("region_path", "handling_unit_id", "rating")
MONTH_KEY_COLUMNS = (*KEY_COLUMNS, "month")


def record(evaluation: Evaluation) -> None:
    """Count a new evaluation; call inside the transaction that inserts it."""
    key = (evaluation.region_path, evaluation.handling_unit_id, evaluation.rating)
    upsert_add(RatingTally, KEY_COLUMNS, ("n",), [(key, (1,))])
    upsert_add(RatingMonthTally, MONTH_KEY_COLUMNS, ("n",), [((*key, month_of(evaluation.created_at)), (1,))])


def _group_by_sql() -> str:
    return (f"SELECT region_path, handling_unit_id, rating, COUNT(*) FROM {Evaluation._meta.db_table} "
            "GROUP BY region_path, handling_unit_id, rating")


def recompute() -> dict[tuple[str, int, int], int]:
    with connection.cursor() as cursor:
        cursor.execute(_group_by_sql(), [])
        return {(r[0], r[1], r[2]): r[3] for r in cursor.fetchall()}


def stored() -> dict[tuple[str, int, int], int]:
    return {tuple(r[:3]): r[3] for r in RatingTally.objects.exclude(n=0).values_list(*KEY_COLUMNS, "n")}


def _month_group_by_sql() -> str:
    return (f"SELECT region_path, handling_unit_id, rating, {local_month_sql('created_at')}, COUNT(*) "
            f"FROM {Evaluation._meta.db_table} GROUP BY 1, 2, 3, 4")


def recompute_months() -> dict[tuple[str, int, int, dt.date], int]:
    with connection.cursor() as cursor:
        cursor.execute(_month_group_by_sql(), [])
        return {(r[0], r[1], r[2], as_date(r[3])): r[4] for r in cursor.fetchall()}


def stored_months() -> dict[tuple[str, int, int, dt.date], int]:
    return {tuple(r[:4]): r[4] for r in RatingMonthTally.objects.exclude(n=0).values_list(*MONTH_KEY_COLUMNS, "n")}


def differences(limit: int = 10) -> list[str]:
    out = mismatches("rating tally", "evaluations", recompute(), stored(), limit)
    return out + mismatches("rating month tally", "evaluations", recompute_months(), stored_months(),
                            limit - len(out))


def rebuild() -> int:
    table = RatingTally._meta.db_table
    months = RatingMonthTally._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_for_rebuild(cursor, table, months)
        cursor.execute(f"DELETE FROM {table}", [])
        cursor.execute(f"INSERT INTO {table} (region_path, handling_unit_id, rating, n) {_group_by_sql()}", [])
        rows = cursor.rowcount
        cursor.execute(f"DELETE FROM {months}", [])
        cursor.execute(f"INSERT INTO {months} ({', '.join(MONTH_KEY_COLUMNS)}, n) {_month_group_by_sql()}", [])
        return rows + cursor.rowcount
