"""The demo's 瑞凝村 night patrol loads through the services and leaves every case chain intact."""

import datetime as dt
from collections import Counter
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.demo import patrol as demo
from yiwang.demo.loader import load
from yiwang.patrol.models import Finding, PatrolLog, PatrolTeam, ShiftMember, ShiftState

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_the_ruining_patrol_is_seeded(db):
    lines = []
    made = load(cases=0, now=NOW, log=lines.append, apps=("yiwang.demo.patrol",)).extras["patrol"]  # the loader runs the patrol seed
    team = PatrolTeam.objects.get(pk=made["team"])
    assert team.name == "瑞凝村党员夜巡队" and team.unit.code == "JH-JG-RNC-PB" and team.team_size == 3
    window = team.windows.get()
    assert (window.earliest_start, window.latest_start) == (dt.time(0, 30), dt.time(3, 0))
    shifts = team.shifts.all()
    assert shifts.count() == made["shifts"] == demo.PAST_NIGHTS + demo.FUTURE_NIGHTS + 1
    assert all(s.assignments.count() == 3 for s in shifts)
    assert all(dt.time(0, 30) <= timezone.localtime(s.starts_at).time() <= dt.time(3, 0) for s in shifts)
    # Every night whose patrol is over was walked; the rest lie ahead.
    assert shifts.filter(state=ShiftState.DONE).count() == made["logs"] == shifts.filter(ends_at__lt=NOW).count()
    assert shifts.filter(state=ShiftState.PLANNED, starts_at__gt=NOW).count() >= demo.FUTURE_NIGHTS
    counts = Counter(ShiftMember.objects.filter(shift__team=team).values_list("user_id", flat=True))
    assert max(counts.values()) - min(counts.values()) <= 1
    findings = Finding.objects.filter(log__shift__team=team)
    assert findings.count() == made["findings"] == len(demo.FINDINGS)
    assert all(f.case.channel == "patrol" and f.case.region_path.startswith(team.region_path) for f in findings)
    assert not Case.objects.filter(created_at__gt=NOW).exists()
    assert PatrolLog.objects.filter(shift__isnull=True, user__username="rnc_grid").count() == made["check_ins"] == 1
    assert any("瑞凝村党员夜巡队" in line for line in lines)
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
