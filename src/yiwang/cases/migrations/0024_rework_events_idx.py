"""A partial index of the events that send work back (cases.models.REWORK_ACTIONS): `yiwang verify` and
the tally rebuild read which closed cases were reworked from it alone, not from every event of every
closed case, and a closing's month-tally upsert finds the case's rework there too.

Small (a few rework events per hundred cases), but building it reads the whole event table: on a big
PostgreSQL database create it by hand first, without locking out writes, then migrate; this migration then
finds it (docs/SCALING.md §6):
    CREATE INDEX CONCURRENTLY case_event_rework_idx ON cases_caseevent (case_id)
        WHERE action IN ('rework', 'not_resolved', 'reopen');
"""

from django.db import migrations, models

INDEX = models.Index(fields=["case"], condition=models.Q(action__in=("rework", "not_resolved", "reopen")),
                     name="case_event_rework_idx")


# PostgreSQL keeps the predicate in the form it prints (pg_get_indexdef), so yiwang import
# --rebuild-indexes, which drops and recreates indexes from that text, gives back the same index.
CREATE = {
    "postgresql": "CREATE INDEX IF NOT EXISTS case_event_rework_idx ON cases_caseevent (case_id) "
                  "WHERE ((action)::text = ANY ('{rework,not_resolved,reopen}'::text[]))",
    "sqlite": "CREATE INDEX IF NOT EXISTS case_event_rework_idx ON cases_caseevent (case_id) "
              "WHERE action IN ('rework', 'not_resolved', 'reopen')",
}


def forward(apps, schema_editor):
    schema_editor.execute(CREATE[schema_editor.connection.vendor])


def backward(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS case_event_rework_idx")


class Migration(migrations.Migration):
    # Named 0024: 0023 is the search walk's (issue 20), committed first.
    dependencies = [
        ("cases", "0023_search_walk_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="caseevent", index=INDEX)],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
