"""PostgreSQL: the indexes a scoped search walks newest first (cases.search.newest_matching).

A clerk's search reads their own regions' and units' newest cases, one ordered index scan per
region path and per unit, merged by PostgreSQL (Merge Append) and stopped after RECENT_WALK rows:
``region_path = …`` and ``holder_unit_id = …``, each then ``created_at`` and ``id`` descending (read
backwards). case_region_idx cannot serve it: its opclass is for prefixes, and its second column is
the state. SQLite answers searches from its FTS5 table, so it gets neither index (each one only costs
every case written), as it has no search_vector (0014).

On a big database, create both by hand first, without locking out writes, then migrate; the
IF NOT EXISTS here then finds them (docs/SCALING.md §6):
    CREATE INDEX CONCURRENTLY case_region_walk_idx ON cases_case (region_path, created_at, id);
    CREATE INDEX CONCURRENTLY case_holder_walk_idx ON cases_case (holder_unit_id, created_at, id);
"""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS case_region_walk_idx ON cases_case (region_path, created_at, id)",
    "CREATE INDEX IF NOT EXISTS case_holder_walk_idx ON cases_case (holder_unit_id, created_at, id)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS case_region_walk_idx",
    "DROP INDEX IF EXISTS case_holder_walk_idx",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0022_received_tally"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
