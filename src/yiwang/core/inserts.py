"""Inserts compiled before the transaction, so a write lock is held only for the executes.

SQLite has one writer at a time; case intake holds its lock for the whole transaction. Compiling
an INSERT (field preparation, JSON encoding, SQL text) takes longer than executing it, so intake
compiles both of its INSERTs first and then runs BEGIN, two executes, COMMIT (bench/intake.py:
lock hold 1.0 → 0.35 ms median).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, router
from django.db.models import Model
from django.db.models.sql import InsertQuery


@dataclass
class CompiledInsert:
    sql: str
    params: list
    fields: list
    using: str
    returning_params: tuple

    def set(self, attname: str, value) -> None:
        """Change one column's value after compiling (e.g. a foreign key known only later)."""
        index = next(i for i, f in enumerate(self.fields) if f.attname == attname)
        self.params[index] = value

    def execute(self):
        """Run the INSERT and return the new primary key; call inside the transaction."""
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            return connection.ops.fetch_returned_insert_columns(cursor, self.returning_params)[0]


def compile_insert(obj: Model) -> CompiledInsert:
    """Compile an INSERT of ``obj`` that returns its primary key (an auto id the database assigns)."""
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = [model._meta.pk]
    [(sql, params)] = compiler.as_sql()
    if len(params) != len(fields):
        raise ValueError(f"cannot precompile an insert of {model.__name__}: a field spans several parameters")
    return CompiledInsert(sql=sql, params=list(params), fields=fields, using=using,
                          returning_params=tuple(compiler.returning_params))
