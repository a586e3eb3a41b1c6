from django.db import migrations, models


def fill(apps, schema_editor):
    # Counted from the cases and their first events, with every other tally.
    from yiwang.cases import rollups

    rollups.rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0021_month_tally"),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseReceivedTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("region_path", models.CharField(max_length=255)),
                ("kind", models.CharField(max_length=20)),
                ("unit_id", models.BigIntegerField()),
                ("month", models.DateField()),
                ("received", models.BigIntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["month"], name="case_received_tally_month_idx")],
                "constraints": [models.UniqueConstraint(fields=("region_path", "kind", "unit_id", "month"),
                                                        name="case_received_tally_key")],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
