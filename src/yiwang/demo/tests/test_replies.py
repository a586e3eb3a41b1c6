"""The demo's 常用回复 are offered in the workbench, and its closed applications say how their result
was delivered."""

import datetime as dt

from django.utils import timezone

from yiwang.cases.models import CannedReply, Case
from yiwang.cases.selectors import canned_replies, case_outcome, case_timeline
from yiwang.demo.loader import load

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_the_demo_offers_canned_replies_and_records_deliveries(db):
    made = load(cases=40, now=NOW, apps=("yiwang.demo.replies",)).extras["replies"]
    assert made["canned_replies"] == CannedReply.objects.count() == 8
    senior = Case.objects.filter(matter__code="SENIOR_CARD").first() or Case.objects.filter(kind="application").first()
    offered = canned_replies(senior, ["request_supplement"])["request_supplement"]
    assert {r.title for r in offered} >= {"材料不清晰", "缺少材料"}
    closed = Case.objects.filter(kind="application", state="closed")
    assert closed.exists()
    for case in closed:
        delivery = case_outcome(case_timeline(case)).delivery
        assert delivery["method"] in ("pickup", "post"), case.number
