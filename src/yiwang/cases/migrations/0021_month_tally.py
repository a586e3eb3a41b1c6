from django.db import migrations, models


def fill(apps, schema_editor):
    # Counted by 0022_received_tally instead: rollups.rebuild() now also writes a table that does not
    # exist yet at this point, and 0022 recounts every case tally anyway.
    pass


class Migration(migrations.Migration):
    # Named 0021: 0020 may be taken by another change in flight when this was written.
    dependencies = [
        ("cases", "0019_retention"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="casedaytally", name="case_day_tally_key"),
        migrations.AddField(
            model_name="casedaytally",
            name="kind",
            field=models.CharField(default="", max_length=20),
        ),
        migrations.AddConstraint(
            model_name="casedaytally",
            constraint=models.UniqueConstraint(fields=("region_path", "day", "kind"), name="case_day_tally_kind_key"),
        ),
        migrations.CreateModel(
            name="CaseMonthTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("region_path", models.CharField(max_length=255)),
                ("kind", models.CharField(max_length=20)),
                ("state", models.CharField(max_length=20)),
                ("unit_id", models.BigIntegerField()),
                ("month", models.DateField()),
                ("closed", models.BigIntegerField(default=0)),
                ("with_due", models.BigIntegerField(default=0)),
                ("on_time", models.BigIntegerField(default=0)),
                ("seconds", models.BigIntegerField(default=0)),
                ("reworked", models.BigIntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["month"], name="case_month_tally_month_idx")],
                "constraints": [models.UniqueConstraint(fields=("region_path", "kind", "state", "unit_id", "month"),
                                                        name="case_month_tally_key")],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
