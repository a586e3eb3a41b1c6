from django.db import migrations, models


def fill(apps, schema_editor):
    from yiwang.feedback import rollups

    rollups.rebuild()


class Migration(migrations.Migration):

    dependencies = [
        ("feedback", "0002_rating_tally"),
    ]

    operations = [
        migrations.CreateModel(
            name="RatingMonthTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("region_path", models.CharField(max_length=255)),
                ("handling_unit_id", models.BigIntegerField()),
                ("rating", models.PositiveSmallIntegerField()),
                ("month", models.DateField()),
                ("n", models.BigIntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["month"], name="rating_month_tally_month_idx")],
                "constraints": [models.UniqueConstraint(fields=("region_path", "handling_unit_id", "rating", "month"),
                                                        name="rating_month_tally_key")],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
