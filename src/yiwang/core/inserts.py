"""Inserts compiled before the transaction, so a write lock is held only for the executes.

SQLite has one writer at a time; case intake holds its lock for the whole transaction. Compiling
an INSERT (field preparation, JSON encoding, SQL text) takes longer than executing it, so intake
compiles both of its INSERTs first and then runs BEGIN, two executes, COMMIT (bench/intake.py:
lock hold 1.0 → 0.35 ms median).

The SQL text of a model's INSERT is the same for every row, so it is built by Django's compiler
once per model and database and kept; each row then costs only its fields' ``pre_save`` and
``get_db_prep_save``, the calls Django's compiler makes for a value, and not even those where the
answer is known without them: a plain attribute read instead of ``pre_save`` (no auto_now), a str
as it is for CharField and TextField, NULL for None where the field stores None as NULL, an int or
a bool as it is where the field passes it through unchanged (integers and foreign keys on SQLite;
psycopg's typed integers on PostgreSQL are not), a UTC datetime as the field would write it (asked
of each field once, with a probe value, when the plan is made). A value that is an expression goes
through Django's compiler. Compiling a case's INSERT: 85 µs through Django's compiler, 24 µs from
the plan; case intake as a whole: -10 % of its CPU (bench/README.md, intake).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connections, router
from django.db.models import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    Field,
    IntegerField,
    Model,
    TextField,
)
from django.db.models.sql import InsertQuery


@dataclass
class CompiledInsert:
    sql: str
    params: list
    fields: list
    using: str
    returning_params: tuple | None  # None: the new id is the cursor's lastrowid (SQLite)

    def set(self, attname: str, value) -> None:
        """Change one column's value after compiling (e.g. a foreign key known only later)."""
        index = next(i for i, f in enumerate(self.fields) if f.attname == attname)
        self.params[index] = value

    def execute(self):
        """Run the INSERT and return the new primary key; call inside the transaction."""
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            if self.returning_params is None:
                return cursor.lastrowid
            return connection.ops.fetch_returned_insert_columns(cursor, self.returning_params)[0]


@dataclass(frozen=True)
class _Plan:
    sql: str
    fields: list
    returning_params: tuple | None
    steps: tuple[_Step, ...]


# (model, database alias) → the INSERT's SQL, built once per process by Django's compiler.
_plans: dict[tuple[type[Model], str], _Plan] = {}
_PLAIN_PRE_SAVE = (Field.pre_save, DateField.pre_save, DateTimeField.pre_save)


_PROBE_TIME = dt.datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)


class _Step(NamedTuple):
    """How one field's value becomes its parameter, decided once per field and database."""

    field: Field
    attname: str
    plain: bool  # pre_save is a plain attribute read
    own: type | None  # a value of exactly this type is its own parameter
    null: bool  # None is NULL
    utc: str | None  # a UTC datetime: "text" → its naive ISO text (SQLite), "same" → itself


def _probe(field: Field, connection, value):
    try:
        return field.get_db_prep_save(value, connection)
    except Exception:  # a field that refuses the probe: such values take the full path
        return _probe


def _step(field: Field, connection) -> _Step:
    plain = type(field).pre_save in _PLAIN_PRE_SAVE and not getattr(field, "auto_now", False) \
        and not getattr(field, "auto_now_add", False)
    own = None
    if type(field) in (CharField, TextField):
        own = str
    elif isinstance(field, BooleanField):
        own = bool if _probe(field, connection, True) is True else None
    elif isinstance(field, IntegerField) or (field.is_relation and field.many_to_one):
        probed = _probe(field, connection, 12345)
        own = int if type(probed) is int and probed == 12345 else None
    utc = None
    if isinstance(field, DateTimeField):
        probed = _probe(field, connection, _PROBE_TIME)
        utc = "same" if probed is _PROBE_TIME else "text" if probed == str(_PROBE_TIME.replace(tzinfo=None)) else None
    return _Step(field, field.attname, plain, own, _probe(field, connection, None) is None, utc)


def _compile(obj: Model, model: type[Model], using: str, fields: list) -> CompiledInsert:
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    # SQLite tells the new rowid without RETURNING, which costs a result row to fetch while the
    # write lock is held (a trigger's own INSERTs do not change it: the FTS index's, here).
    lastrowid = connections[using].vendor == "sqlite"
    compiler.returning_fields = None if lastrowid else [model._meta.pk]
    [(sql, params)] = compiler.as_sql()
    if len(params) != len(fields):
        raise ValueError(f"cannot precompile an insert of {model.__name__}: a field spans several parameters")
    return CompiledInsert(sql=sql, params=list(params), fields=fields, using=using,
                          returning_params=None if lastrowid else tuple(compiler.returning_params))


def compile_insert(obj: Model) -> CompiledInsert:
    """Compile an INSERT of ``obj`` that returns its primary key (an auto id the database assigns)."""
    model = type(obj)
    using = router.db_for_write(model, instance=obj)
    plan = _plans.get((model, using))
    if plan is None:
        fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
        compiled = _compile(obj, model, using, fields)
        # Only plain "%s" placeholders can be reused for another row's values.
        if not any(hasattr(f, "get_placeholder") for f in fields) and compiled.sql.count("%s") == len(fields):
            steps = tuple(_step(f, connections[using]) for f in fields)
            _plans[(model, using)] = _Plan(compiled.sql, fields, compiled.returning_params, steps)
        return compiled
    connection = connections[using]
    params = []
    for field, attname, plain, own, null, utc in plan.steps:
        value = getattr(obj, attname) if plain else field.pre_save(obj, True)
        if type(value) is own or (value is None and null):
            params.append(value)
            continue
        if utc and type(value) is dt.datetime and value.tzinfo is dt.UTC:
            params.append(value if utc == "same" else str(value.replace(tzinfo=None)))
            continue
        if hasattr(value, "resolve_expression"):
            return _compile(obj, model, using, plan.fields)
        value = field.get_db_prep_save(value, connection)
        if hasattr(value, "as_sql"):
            return _compile(obj, model, using, plan.fields)
        params.append(value)
    return CompiledInsert(sql=plan.sql, params=params, fields=plan.fields, using=using,
                          returning_params=plan.returning_params)
