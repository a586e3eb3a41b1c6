"""A case forwarded over Open311 GeoReport v2 to a second yiwang, handled and closed there, comes back
closed with its notes.

The second yiwang is a real `yiwang serve` on 127.0.0.1 with its own database (tests/scratch_site.py),
seeded with the test world and an api_key. This instance forwards INC_PARKING reports of 空港新城 to it
(a ForwardingRule) and pulls their status back. About 15 s, most of it migrating the second database.
"""

from __future__ import annotations

import json

import pytest
from tests.scratch_site import SEED_WORLD, migrated_site
from tests.test_crash_safety import Server

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.integrations import forwarding, services
from yiwang.integrations.models import Forwarded, ForwardingRule, ForwardStatus

SEED_KEY = SEED_WORLD + """
from yiwang.open311.services import api_key_create
_key, plain = api_key_create(name="xixian-lower", unit_code="KG-CC")
print(plain)
"""

# The other platform's staff walk the report to 结案 through its services.
CLOSE_THERE = """
import json, sys
from django.contrib.auth import get_user_model
from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.org.selectors import viewer_for

number, steps = sys.argv[1], json.loads(sys.argv[2])
case = next(c for c in Case.objects.order_by("-pk") if c.number == number)
for who, action, kw in steps:
    fresh = Case.objects.get(pk=case.pk)
    viewer = viewer_for(get_user_model().objects.get(username=who))
    case_act(viewer=viewer, case_id=fresh.pk, action=action, version=fresh.version, **kw)
case = Case.objects.get(pk=case.pk)
print(json.dumps({"state": case.state, "received": [case.description, case.applicant_name, case.applicant_phone]},
                 ensure_ascii=False))
"""

DISPATCH = [["operator_kg", "register", {}], ["operator_kg", "dispatch", {"unit_code": "KG-DZ-EN"}]]
CLOSE = [["handler_en", "acknowledge", {}], ["handler_en", "handle", {"result": "车辆已拖离，路口已畅通"}],
         ["operator_kg", "verify", {}], ["operator_kg", "close", {}]]


@pytest.fixture
def remote(tmp_path):
    site = migrated_site(tmp_path / "remote")
    key = site.python(SEED_KEY).strip().splitlines()[-1]
    server = Server(site, tmp_path / "remote.log")
    try:
        server.wait_ready()
        yield site, server, key
    finally:
        server.stop()
        site.drop()


def run_there(site, number: str, steps: list) -> dict:
    code = CLOSE_THERE.replace("sys.argv[1], json.loads(sys.argv[2])", f"{number!r}, json.loads({json.dumps(steps)!r})")
    return json.loads(site.python(code).strip().splitlines()[-1])


def test_a_forwarded_case_comes_back_closed_with_its_notes(world, remote):
    site, server, key = remote
    ForwardingRule.objects.create(
        name="上级平台", base_url=f"http://127.0.0.1:{server.port}/open311/v2", api_key=key,
        service_codes={"INC_PARKING": "INC_PARKING"}, region=world.regions["kg"], pull_minutes=10)
    services.config_changed()
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="路口乱停车", description="路口有车辆长期占道，电话13800000001", channel="online").case
    other = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                        form={"birth_date": "1950-01-01"},
                        materials=[{"code": "id_card"}, {"code": "photo"}]).case
    assert Forwarded.objects.get().case_id == case.pk  # only the forwarded matter
    assert not Forwarded.objects.filter(case=other).exists()

    assert forwarding.forward_due()["forwarded"] == 1
    row = Forwarded.objects.get()
    assert row.status == ForwardStatus.FORWARDED and row.service_request_id.startswith("YW")
    assert forwarding.forward_due()["claimed"] == 0  # never twice

    # There: registered and dispatched. Here: the pull records "open" and its notes.
    there = run_there(site, row.service_request_id, DISPATCH)
    assert there["state"] == "dispatched"
    # It got the public fields only, masked: never the reporter's name or phone.
    description, name, phone = there["received"]
    assert "路口有车辆长期占道" in description and "13800000001" not in description
    assert name != "王大爷" and phone == ""
    assert forwarding.pull_due(force=True)["updated"] == 1
    assert forwarding.pull_due(force=True)["unchanged"] == 1  # nothing new: no event

    # There: handled, verified, closed. Here: closed through the engine, the notes as the result.
    assert run_there(site, row.service_request_id, CLOSE)["state"] == "closed"
    assert forwarding.pull_due(force=True)["closed"] == 1
    case = Case.objects.get(pk=case.pk)
    assert case.state == "closed" and case.closed_at is not None
    assert "车辆已拖离" in case.result
    actions = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("action", flat=True))
    assert actions == ["submit", "forward_open311", "remote_status", "remote_close"]
    closing = CaseEvent.objects.get(case=case, action="remote_close")
    assert closing.payload["remote_status"] == "closed" and "车辆已拖离" in closing.payload["status_notes"]
    assert closing.payload["service_request_id"] == row.service_request_id
    row.refresh_from_db()
    assert row.status == ForwardStatus.CLOSED and row.remote_status == "closed"
    assert forwarding.pull_due(force=True) == {}  # closed: never asked again

