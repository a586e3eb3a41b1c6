"""The demo's 程家村 branch: members, four characteristic groups and three assistance pairs, made
through the services on a loaded demo, leaving every case chain intact."""

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.demo import party as demo
from yiwang.demo.loader import load
from yiwang.party.models import AssistancePair, GroupMembership, IncomeRecord, PartyGroup, PartyMember

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_chengjia_village_is_seeded(db):
    lines = []
    made = load(cases=0, now=NOW, log=lines.append, apps=("yiwang.demo.party",)).extras["party"]  # the loader runs the app's seed
    branch_members = PartyMember.objects.filter(branch__code__endswith="-CJC-PB")
    assert branch_members.count() == made["members"] == demo.MEMBERS
    secretary = branch_members.get(name="张保权")
    assert secretary.user.username == "cjc_secretary"
    groups = list(PartyGroup.objects.order_by("position"))
    assert [g.name for g in groups] == [name for name, _kind in demo.GROUPS]
    assert groups[0].leader == secretary and GroupMembership.objects.get(member=secretary).group == groups[0]
    sizes = [g.memberships.count() for g in groups]
    assert sum(sizes) == demo.MEMBERS and max(sizes) - min(sizes) <= 1

    pairs = {p.resident.name: p for p in AssistancePair.objects.select_related("case", "resident")}
    assert len(pairs) == made["pairs"] == 3
    cheng = pairs["程濛濛"]
    assert cheng.member == secretary and cheng.case.state == "monitoring"
    kinds = list(cheng.measures.order_by("taken_at").values_list("kind", flat=True))
    assert kinds == ["industry", "land_transfer", "subsistence", "job_info"]
    application = cheng.measures.get(kind="subsistence").application
    assert application.matter.code == "SUBSISTENCE" and application.state == "closed"
    assert application.decision == "approved" and application.applicant_id == cheng.resident_id
    assert sorted(p.case.state for p in pairs.values()) == ["active", "closed", "monitoring"]
    assert IncomeRecord.objects.count() == made["incomes"] > 30
    assert not Case.objects.filter(created_at__gt=NOW).exists()
    assert any("程家村党支部" in line for line in lines)
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()
