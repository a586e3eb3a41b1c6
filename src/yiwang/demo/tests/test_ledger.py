"""The demo's research topics and ledgers load through the services, as the 2019 report counts them,
and leave every case chain intact."""

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.demo import ledger as demo
from yiwang.demo.loader import load
from yiwang.ledger import selectors
from yiwang.ledger.models import Batch, RectificationItem, ResearchTopic, ResearchVisit
from yiwang.org.selectors import viewer_for

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_the_demo_ledger_is_seeded(db, django_user_model):
    lines = []
    made = load(cases=0, now=NOW, log=lines.append, apps=("yiwang.demo.ledger",)).extras["ledger"]  # the loader runs the app's seed
    with clock.frozen_at(NOW):
        admin = viewer_for(django_user_model.objects.get(username="admin"))
        figures = selectors.topic_counts(viewer=admin)
        batches = dict(selectors.batch_list(viewer=admin))
    assert made["topics"] == ResearchTopic.objects.count() == figures.topics == 827
    assert made["visits"] == ResearchVisit.objects.count() == figures.visits > 2500
    assert {r.key for r in figures.by_level} == {"area", "city", "town"}
    assert {r.key for r in figures.by_field} == {f for f, _label in demo.Field.choices}
    first, second = Batch.objects.order_by("id")
    assert first.lists.count() + second.lists.count() == 65
    assert batches[first].stage == "passed" and first.accepted_at < NOW
    assert batches[second].stage in ("rectifying", "acceptance") and batches[second].by_state["submitted"] > 0
    assert RectificationItem.objects.count() == made["items"] + made["finding_items"]
    assert made["finding_items"] > 0 and RectificationItem.objects.filter(visit__isnull=False).exists()
    assert not Case.objects.filter(created_at__gt=NOW).exists()
    assert any("827 research topics" in line for line in lines)
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
