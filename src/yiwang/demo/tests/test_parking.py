"""The demo's parking loads through the services on a small loaded demo and leaves every chain intact."""

import datetime as dt
import time
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.demo import parking as demo
from yiwang.demo.loader import load
from yiwang.org.selectors import viewer_for
from yiwang.parking.models import ParkingSession, Penalty, TaggedPlace, Violation, Zone
from yiwang.parking.selectors import HotspotFilters, hotspots

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_the_demo_parking_is_seeded(db):
    lines: list[str] = []
    started = time.monotonic()
    loaded = load(cases=0, now=NOW, log=lines.append, apps=("yiwang.demo.parking",))
    made = loaded.extras["parking"]
    seconds = time.monotonic() - started
    assert any(line.startswith("  parking:") for line in lines)
    assert TaggedPlace.objects.count() == made["places"] == len(demo.PLACES)
    assert Zone.objects.count() == made["zones"] and all(z.periods.exists() for z in Zone.objects.all())
    assert ParkingSession.objects.filter(exited_at__isnull=False, fee__isnull=False).count() == made["sessions"]
    assert ParkingSession.objects.filter(exited_at__isnull=True).count() == made["parked_now"] > 0
    violations = Violation.objects.select_related("case")
    assert violations.count() == made["violations"] > 150
    assert {v.case.channel for v in violations} == {"camera", "patrol", "online"}
    assert all(v.case.matter.code == "INC_PARKING" and v.region_path == v.case.region_path for v in violations)
    assert Violation.objects.filter(observed_at__gt=NOW).count() == 0
    assert Penalty.objects.filter(decision="fine").exists() and Penalty.objects.filter(decision="warning").exists()
    assert Penalty.objects.filter(state="paid").exists() and made.get("appeals", 0) > 0
    assert Case.objects.filter(parking_violation__isnull=False, state="closed").count() == made["closed"]
    # The report's question answered: by schools the violations gather in the school-run hours.
    leader = viewer_for(loaded.users["area_leader"])
    with clock.frozen_at(NOW):
        spots = hotspots(viewer=leader, filters=HotspotFilters.last_days(demo.HISTORY_DAYS, place_kind="school"))
    busiest = max(range(24), key=lambda h: spots.by_hour[h])
    assert busiest in (7, 8, 16, 17) and spots.by_weekday[5] + spots.by_weekday[6] < spots.total / 5
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
    print(f"demo load with parking: {seconds:.1f} s, {made}")
