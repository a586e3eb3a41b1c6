"""catalog 0008 on a database that already holds the catalogue: internal matters stop facing residents,
and a consultation published twice (the old double click) keeps its first FAQ entry."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = ("catalog", "0007_search"), ("catalog", "0008_resident_catalogue")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_internal_matters_from_residents_and_one_faq_per_consultation():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    Matter, MatterFAQ = old.get_model("catalog", "Matter"), old.get_model("catalog", "MatterFAQ")
    common = {"handling_levels": ["community"], "responsible_unit_kind": "office"}
    rect = Matter.objects.create(code="RECT_X", name="整改", kind="rectification", **common)
    app = Matter.objects.create(code="APP_X", name="老年证", kind="application", **common)
    at = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    first = MatterFAQ.objects.create(matter=app, question="问", answer="答", published_at=at, source_case_id=7)
    MatterFAQ.objects.create(matter=app, question="问", answer="答", published_at=at, source_case_id=7)
    MatterFAQ.objects.create(matter=app, question="另一个", answer="答", published_at=at, source_case_id=None)

    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    new = executor.loader.project_state([AFTER]).apps
    Matter, MatterFAQ = new.get_model("catalog", "Matter"), new.get_model("catalog", "MatterFAQ")
    assert dict(Matter.objects.filter(pk__in=[rect.pk, app.pk]).values_list("code", "resident_can_apply")) == {
        "RECT_X": False, "APP_X": True}
    assert list(MatterFAQ.objects.filter(source_case_id=7).values_list("pk", flat=True)) == [first.pk]
    assert MatterFAQ.objects.filter(created_at=at).count() == 2  # kept entries stay published as they were
