"""Published Open311 clients, which this project did not write, against a real HTTP server.

- ``georeport`` (PyPI, the dev extra): services, service definitions and requests, in JSON and XML.
  It has no call for POST requests or tokens.
- ``civicbot`` (PyPI): its stdlib GeoReport v2 client covers POST requests and tokens too; it runs
  where installed (see docs/open311.md) and is skipped otherwise.
"""

import datetime as dt
from importlib import import_module

import pytest
from django.utils import timezone

from yiwang.core import clock

from .conftest import STREETLIGHT_FORM

georeport = pytest.importorskip("georeport")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(transactional_db, live_server):
    """The small Xixian committed for the live server's thread, a category with a form, and a key."""
    from django.apps import apps

    from yiwang.cases.models import Workday
    from yiwang.cases.services import case_create
    from yiwang.catalog.services import matter_create
    from yiwang.open311.services import api_key_create
    from yiwang.org.models import UnitKind
    from yiwang.testing import build_world

    if not Workday.objects.exists():  # transactional_db empties the migration-seeded calendar
        import_module("yiwang.cases.migrations.0002_seed_calendar").seed(apps, None)
    world = build_world()
    matter_create(code="INC_STREETLIGHT", name="路灯故障", kind="incident", handling_levels=["town", "city"],
                  responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.ENFORCEMENT,
                  time_limit=2, form_schema=STREETLIGHT_FORM)
    with clock.frozen_at(timezone.now() - dt.timedelta(days=1)):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", description="车堵门",
                           lat=34.405, lng=108.705, channel="online").case
    return {"url": live_server.url + "/open311/v2", "key": api_key_create(name="conformance")[1], "case": case}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_and_requests(served, fmt):
    client = georeport.GeoReport(served["url"], jurisdiction="KG", output_format=fmt)
    services = client.get_service_list()
    assert [s["service_code"] for s in services] == ["INC_PARKING", "INC_STREETLIGHT", "INC_THEFT"]
    definition = client.get_service_definition("INC_STREETLIGHT")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    fault = next(a for a in attributes if a["code"] == "fault")
    assert str(fault["required"]).lower() == "true" and fault["datatype"] == "singlevaluelist"
    number = served["case"].number
    found = client.get_service_requests(service_code="INC_PARKING", status="open")
    found = found if isinstance(found, list) else [found]  # xmltodict: one <request> is a dict
    assert [r["service_request_id"] for r in found] == [number]
    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    assert one["agency_responsible"] == "空港新城综合执法指挥中心" and one["expected_datetime"]
    assert "王大爷" not in str(one) and "13800000001" not in str(one)


def test_georeport_sees_http_errors(served):
    import requests

    client = georeport.GeoReport(served["url"], jurisdiction="NOWHERE")
    with pytest.raises(requests.HTTPError) as raised:
        client.get_service_list()
    assert raised.value.response.status_code == 404
    assert raised.value.response.json()[0]["code"] == 404


def test_civicbot_posts_a_report_and_follows_its_token(served):
    civicbot = pytest.importorskip("civicbot")
    from civicbot.http import HttpError, HttpTransport, RateLimiter
    from civicbot.registry import Endpoint

    endpoint = Endpoint(id="yiwang", name="一网", base_url=served["url"], write=True)
    client = civicbot.Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
                                    jurisdiction_id="KG")
    sent = client.create_request(
        "INC_STREETLIGHT", dry_run=False, confirm="SEND", api_key=served["key"], validate_remote=True,
        lat=34.405, lng=108.705, description="两盏路灯不亮", device_id="conformance-1", account_id="acct-1",
        first_name="三", last_name="张", phone="13800009999",
        attributes={"fault": "不亮", "lamps_out": 2, "danger": "true"},
    )
    (answer,) = sent.response
    number, token = answer["service_request_id"], answer["token"]
    assert answer["account_id"] == "acct-1"
    assert client.get_token(token) == [{"service_request_id": number, "token": token}]
    row = client.get_request(number)
    assert row["service_code"] == "INC_STREETLIGHT" and row["address_id"] == "KG-DZ-XFL-G1"
    assert "13800009999" not in str(row) and "张三" not in str(row)
    assert [r["service_request_id"] for r in client.list_requests(service_request_ids=[number])] == [number]
    # A client-side-valid report with the wrong key is refused by the server with 403.
    with pytest.raises(HttpError) as raised:
        client.create_request("INC_PARKING", dry_run=False, confirm="SEND", api_key="o311_wrong",
                              lat=34.405, lng=108.705)
    assert raised.value.status == 403
