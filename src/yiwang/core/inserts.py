"""Inserts compiled before the transaction, so a write lock is held only for the executes.

SQLite has one writer at a time; case intake holds its lock for the whole transaction. Compiling
an INSERT (field preparation, JSON encoding, SQL text) takes longer than executing it, so intake
compiles both of its INSERTs first and then runs BEGIN, two executes, COMMIT (bench/intake.py:
lock hold 1.0 → 0.35 ms median).

The SQL text of a model's INSERT is the same for every row, so it is built by Django's compiler
once per model and database and kept; each row then costs only its fields' ``pre_save`` and
``get_db_prep_save``, the calls Django's compiler makes for a value, and not even those where the
answer is known without them: a plain attribute read instead of ``pre_save`` (no auto_now), a str
as it is for CharField and TextField, NULL for None where the field stores None as NULL (asked of
the field once, when the plan is made). A value that is an expression goes through Django's
compiler. Compiling a case's INSERT: 85 µs through Django's compiler, 24 µs from the plan; case
intake as a whole: -10 % of its CPU (bench/README.md, intake).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, router
from django.db.models import CharField, DateField, DateTimeField, Field, Model, TextField
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


@dataclass(frozen=True)
class _Plan:
    sql: str
    fields: list
    returning_params: tuple
    # Per field: (field, attname, pre_save is a plain read, a str is its own parameter, None is NULL).
    steps: tuple[tuple[Field, str, bool, bool, bool], ...]


# (model, database alias) → the INSERT's SQL, built once per process by Django's compiler.
_plans: dict[tuple[type[Model], str], _Plan] = {}
_PLAIN_PRE_SAVE = (Field.pre_save, DateField.pre_save, DateTimeField.pre_save)


def _step(field: Field, connection) -> tuple[Field, str, bool, bool, bool]:
    plain = type(field).pre_save in _PLAIN_PRE_SAVE and not getattr(field, "auto_now", False) \
        and not getattr(field, "auto_now_add", False)
    try:
        null = field.get_db_prep_save(None, connection) is None
    except Exception:  # a field that refuses None: it always takes the full path
        null = False
    return field, field.attname, plain, type(field) in (CharField, TextField), null


def _compile(obj: Model, model: type[Model], using: str, fields: list) -> CompiledInsert:
    query = InsertQuery(model)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = [model._meta.pk]
    [(sql, params)] = compiler.as_sql()
    if len(params) != len(fields):
        raise ValueError(f"cannot precompile an insert of {model.__name__}: a field spans several parameters")
    return CompiledInsert(sql=sql, params=list(params), fields=fields, using=using,
                          returning_params=tuple(compiler.returning_params))


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
    for field, attname, plain, text, null in plan.steps:
        value = getattr(obj, attname) if plain else field.pre_save(obj, True)
        if (value is None and null) or (text and type(value) is str):
            params.append(value)
            continue
        if hasattr(value, "resolve_expression"):
            return _compile(obj, model, using, plan.fields)
        value = field.get_db_prep_save(value, connection)
        if hasattr(value, "as_sql"):
            return _compile(obj, model, using, plan.fields)
        params.append(value)
    return CompiledInsert(sql=plan.sql, params=params, fields=plan.fields, using=using,
                          returning_params=plan.returning_params)
