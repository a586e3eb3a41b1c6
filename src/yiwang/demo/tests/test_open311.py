"""The demo's Open311 reports are filed through the endpoint's services and keep every chain intact."""

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.demo import open311 as demo
from yiwang.demo.loader import load
from yiwang.open311.models import ApiKey, Submission
from yiwang.open311.selectors import api_key_for

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_seed_files_reports_through_a_key(db, client):
    import random

    from yiwang.core import clock

    lines = []
    made = load(cases=0, now=NOW, log=lines.append, apps=("yiwang.demo.open311",)).extras["open311"]
    assert made["reports"] == Submission.objects.count() == Case.objects.filter(channel="open311").count() > 20
    assert made["closed"] == Case.objects.filter(channel="open311", state="closed").count() > 0
    assert api_key_for(made["api_key"]) == ApiKey.objects.get(name=demo.KEY_NAME)
    assert not Case.objects.filter(channel="open311", created_at__gt=NOW).exists()
    assert any("open311" in line for line in lines)
    # The category with a form is served with attributes, and its reports carry typed form data.
    assert len(client.get("/open311/v2/services/INC_STREETLIGHT.json").json()["attributes"]) == 4
    assert Case.objects.filter(matter__code="INC_STREETLIGHT", form_data__fault="不亮").exists()
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
    # Seeding again adds nothing.
    with clock.frozen_at(NOW):
        assert demo.seed(random.Random(1), lines.append)["reports"] == 0
