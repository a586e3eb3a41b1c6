"""The demo's history holds an incident closed unconfirmed (the reporter never answered) and one
reopened by its reporter, each taken through the engine's services: `yiwang verify` passes."""

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case, CaseEvent
from yiwang.demo.loader import load

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_the_demo_has_an_unconfirmed_closing_and_a_reopening_and_verifies(db):
    loaded = load(cases=60, now=NOW, apps=())
    unconfirmed = CaseEvent.objects.filter(action="close_unconfirmed").select_related("case")
    reopened = CaseEvent.objects.filter(action="reopen").select_related("case")
    assert unconfirmed.exists() and reopened.exists()
    assert loaded.outcomes["incident_unconfirmed"] == unconfirmed.count()
    assert loaded.outcomes["incident_reopened"] == reopened.count()
    for event in unconfirmed:
        case = event.case
        assert case.kind == "incident" and case.state == "closed" and event.payload.get("unconfirmed") is True
        asked = case.events.filter(action="ask_confirmation").latest("seq")
        assert event.at > asked.at + dt.timedelta(days=3) and event.at <= NOW
    for event in reopened:
        case = event.case
        assert event.payload.get("comment") or event.payload.get("reply")
        closed = case.events.filter(action="confirm", seq__lt=event.seq).latest("seq")
        assert dt.timedelta(0) < event.at - closed.at <= dt.timedelta(days=7)
        assert case.events.filter(seq__gt=event.seq, action="handle").exists()
    assert Case.objects.filter(created_at__gt=NOW).count() == 0
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
