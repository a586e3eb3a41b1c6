"""Rating tallies (``RatingTally``): evaluations counted by region, handling unit and level.

Written by ``evaluation_create`` in the evaluation's transaction; ``recompute()`` is the same
figures as one GROUP BY of the evaluations (`yiwang verify` compares them; ``rebuild()`` after a
bulk import).
"""

from __future__ import annotations

from django.db import connection, transaction

from yiwang.cases.rollups import lock_for_rebuild, mismatches, upsert_add
from yiwang.feedback.models import Evaluation, RatingTally

KEY_COLUMNS = ("region_path", "handling_unit_id", "rating")


def record(evaluation: Evaluation) -> None:
    """Count a new evaluation; call inside the transaction that inserts it."""
    upsert_add(RatingTally, KEY_COLUMNS, ("n",),
               [((evaluation.region_path, evaluation.handling_unit_id, evaluation.rating), (1,))])


def _group_by_sql() -> str:
    return (f"SELECT region_path, handling_unit_id, rating, COUNT(*) FROM {Evaluation._meta.db_table} "
            "GROUP BY region_path, handling_unit_id, rating")


def recompute() -> dict[tuple[str, int, int], int]:
    with connection.cursor() as cursor:
        cursor.execute(_group_by_sql(), [])
        return {(r[0], r[1], r[2]): r[3] for r in cursor.fetchall()}


def stored() -> dict[tuple[str, int, int], int]:
    return {tuple(r[:3]): r[3] for r in RatingTally.objects.exclude(n=0).values_list(*KEY_COLUMNS, "n")}


def differences(limit: int = 10) -> list[str]:
    return mismatches("rating tally", "evaluations", recompute(), stored(), limit)


def rebuild() -> int:
    table = RatingTally._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        lock_for_rebuild(cursor, table)
        cursor.execute(f"DELETE FROM {table}", [])
        cursor.execute(f"INSERT INTO {table} (region_path, handling_unit_id, rating, n) {_group_by_sql()}", [])
        return cursor.rowcount
