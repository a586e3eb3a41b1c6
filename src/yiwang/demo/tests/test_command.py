"""The demo's 智能派单: trained on a small loaded history, with fresh reports dispatched or waiting."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from yiwang.cases.models import Case, CaseEvent
from yiwang.command import selectors, services
from yiwang.command.models import DispatchModel
from yiwang.core import clock
from yiwang.demo.command import FRESH_REPORTS, seed
from yiwang.demo.loader import load
from yiwang.org.models import Region

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_seed_trains_on_the_history_and_files_fresh_reports():
    load(cases=150, now=NOW, apps=())
    services.dispatch_settings_update(auto_enabled=False, auto_threshold=0.5, min_training_cases=20)
    with clock.frozen_at(NOW):
        made = seed(random.Random(1), lambda message: None)
    model = DispatchModel.objects.get(active=True)
    assert made["model"] == model.pk and made["trained_on"] == model.trained_on >= 20
    assert model.trained_on == Case.objects.filter(kind="incident", state="closed").count()
    assert selectors.dispatch_config() == selectors.DispatchConfig(True, 0.9, 20)
    fresh = Case.objects.filter(kind="incident", created_at=NOW, description__in=[
        f"{grid}：{text}。" for grid in Region.objects.filter(level="grid").values_list("name", flat=True)
        for _code, text in FRESH_REPORTS])
    assert fresh.count() == made["reports"] == 8
    auto = CaseEvent.objects.filter(case__in=fresh, action="dispatch", actor__isnull=True)
    assert auto.count() == made["auto_dispatched"]
    assert all(e.payload["smart_dispatch"]["confidence"] >= 0.9 for e in auto)
    assert fresh.filter(state="reported").count() == 8 - made["auto_dispatched"]


def test_seed_without_enough_history_trains_nothing_and_says_so():
    load(cases=0, now=NOW, apps=())
    # Other apps' demo data may close incidents of their own (parking violations): ask for more than any.
    services.dispatch_settings_update(auto_enabled=False, auto_threshold=0.9, min_training_cases=1_000_000)
    said = []
    made = seed(random.Random(1), said.append)
    assert made["model"] is None and not DispatchModel.objects.exists()
    assert "no model trained" in said[0]
