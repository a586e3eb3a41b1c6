"""Seed the working-day calendar from chinese-calendar for the years it knows (2004–2026)."""

import datetime as dt

from django.db import migrations


def seed(apps, schema_editor):
    import chinese_calendar

    Workday = apps.get_model("cases", "Workday")
    rows = []
    day = dt.date(2004, 1, 1)
    while day.year <= 2026:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
        rows.append(Workday(date=day, is_workday=not is_holiday, name=name or "", source="seed"))
        day += dt.timedelta(days=1)
    Workday.objects.bulk_create(rows, batch_size=1000)


def unseed(apps, schema_editor):
    apps.get_model("cases", "Workday").objects.filter(source="seed").delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
