"""Open311 forwarding without a second server: which cases go, what a failure does, which pulls are
due, and what a remote "closed" does to a case whose workflow has no "closed" state."""

from __future__ import annotations

import datetime as dt

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.core import clock
from yiwang.integrations import forwarding, services
from yiwang.integrations.models import Forwarded, ForwardingRule, ForwardStatus
from yiwang.integrations.tests.receiver import free_port

T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)


def rule(world, **kw) -> ForwardingRule:
    fields = dict(name="上级平台", base_url=f"http://127.0.0.1:{free_port()}/open311/v2", api_key="k",
                  service_codes={"INC_PARKING": "P", "SENIOR_CARD": "S"}, region=world.regions["dz"])
    fields.update(kw)
    made = ForwardingRule.objects.create(**fields)
    services.config_changed()
    return made


def report(world, **kw) -> Case:
    fields = dict(matter_code="INC_PARKING", lat=34.405, lng=108.705, title="楼下乱停车", channel="online")
    fields.update(kw)
    return case_create(viewer=world.viewer("resident_wang"), **fields).case


def test_only_the_rules_matters_in_its_region_go(world):
    rule(world, region=world.regions["xfl"])
    inside = report(world)
    report(world, lat=34.405, lng=108.745, region_code="KG-DZ-CJC")  # the neighbouring community
    case_create(viewer=world.viewer("resident_wang"), matter_code="MEDICAL_REIMBURSE")  # not in the table
    assert list(Forwarded.objects.values_list("case_id", flat=True)) == [inside.pk]


def test_a_server_that_refuses_is_tried_again_later_and_a_disabled_rule_waits(world):
    made = rule(world)
    with clock.frozen_at(T0):
        report(world)
        assert forwarding.forward_due() == {"failed": 1}
        row = Forwarded.objects.get()
        assert row.status == ForwardStatus.FAILED and row.attempts == 1 and "Connection" in row.last_error
        assert row.next_attempt_at == T0 + dt.timedelta(seconds=30)
        assert forwarding.forward_due() == {}  # waiting out its backoff
    made.active = False
    made.save()
    with clock.frozen_at(T0 + dt.timedelta(hours=1)):
        assert forwarding.forward_due() == {}
    assert not CaseEvent.objects.filter(action="forward_open311").exists()


def forwarded(world, case: Case, made: ForwardingRule, number: str) -> Forwarded:
    row = Forwarded.objects.get(case=case)
    row.status, row.service_request_id = ForwardStatus.FORWARDED, number
    row.save()
    return row


def test_only_due_pulls_are_made_however_many_are_not(world, monkeypatch):
    made = rule(world, pull_minutes=10)
    asked = []
    monkeypatch.setattr(forwarding, "pull_one", lambda row: asked.append(row.service_request_id) or "unchanged")
    with clock.frozen_at(T0):
        rows = [forwarded(world, report(world), made, f"R{i}") for i in range(4)]
    for row in rows[:3]:
        Forwarded.objects.filter(pk=row.pk).update(pulled_at=T0)
    with clock.frozen_at(T0 + dt.timedelta(minutes=5)):
        assert forwarding.pull_due(batch=2) == {"unchanged": 1}
    assert asked == ["R3"]
    with clock.frozen_at(T0 + dt.timedelta(minutes=11)):
        forwarding.pull_due(batch=10)
    assert sorted(asked) == ["R0", "R1", "R2", "R3", "R3"]


def test_remote_notes_are_masked_and_an_application_is_not_closed_by_them(world, monkeypatch):
    made = rule(world)
    application = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                              form={"birth_date": "1950-01-01"}, materials=[{"code": "id_card"}, {"code": "photo"}]).case
    row = forwarded(world, application, made, "R9")
    notes = "已办结。=1+1 申请人身份证61040219500101123X 电话13800000001"
    monkeypatch.setattr(forwarding, "_call", lambda url, data=None: [
        {"service_request_id": "R9", "status": "closed", "status_notes": notes}])
    assert forwarding.pull_one(row) == "closed"
    event = CaseEvent.objects.get(case=application, action="remote_status")
    assert "61040219500101123X" not in event.payload["status_notes"]
    assert "13800000001" not in event.payload["status_notes"] and event.payload["status_notes"].startswith("已办结")
    application.refresh_from_db()
    assert application.state == "submitted" and application.closed_at is None  # staff close it themselves
    row.refresh_from_db()
    assert row.status == ForwardStatus.CLOSED


def test_staff_read_what_the_other_platform_said_and_the_reporter_does_not(world, client, monkeypatch):
    made = rule(world, name="<b>上级</b>=1+1")
    case = report(world)
    row = forwarded(world, case, made, "REMOTE-77")
    monkeypatch.setattr(forwarding, "_call", lambda url, data=None: [
        {"service_request_id": "REMOTE-77", "status": "open", "status_notes": "已派遣 <script>x</script> 13800000001"}])
    assert forwarding.pull_one(row) == "updated"
    client.force_login(world.users["operator_kg"])
    page = client.get(f"/work/cases/{case.number}/").content.decode()
    assert "REMOTE-77" in page and "&lt;b&gt;上级&lt;/b&gt;=1+1" in page and "已派遣 &lt;script&gt;" in page
    assert "13800000001" not in page.split("外部平台进展", 1)[1]
    client.force_login(world.users["resident_wang"])
    mine = client.get(f"/cases/{case.number}/").content.decode()
    assert "外部平台进展" in mine and "REMOTE-77" not in mine and "已派遣 &lt;script" not in mine
