"""GET requests and requests/{id}: public fields only, GeoReport's filters and 90-day window."""

import datetime as dt

import pytest
from django.utils import timezone

from yiwang.cases.services import case_act, case_create
from yiwang.core import clock

from .conftest import IN_XFL_G1

T0 = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 0))


def report(world, *, at=T0, matter="INC_PARKING", description="车堵门", lat=34.405, lng=108.705, **kwargs):
    with clock.frozen_at(at):
        return case_create(viewer=world.viewer("resident_wang"), matter_code=matter, description=description,
                           lat=lat, lng=lng, channel="online", **kwargs).case


def close(world, case, at):
    """The command centre's closed loop (GB/T 30428): register … close, by the units that hold it; 结案
    after the reporter answers "已解决吗？"."""
    steps = [("operator_kg", "register", {}), ("operator_kg", "dispatch", {"unit_code": "KG-DZ-EN"}),
             ("handler_en", "acknowledge", {}), ("handler_en", "handle", {"result": "已劝离，联系人 13900001111"}),
             ("operator_kg", "verify", {}), ("operator_kg", "ask_confirmation", {}), ("resident_wang", "confirm", {})]
    for i, (user, action, kwargs) in enumerate(steps):
        with clock.frozen_at(at + dt.timedelta(hours=i)):
            case = case_act(viewer=world.viewer(user), case_id=case.pk, action=action, version=case.version, **kwargs)
    return case


@pytest.fixture
def now():
    with clock.frozen_at(T0 + dt.timedelta(days=1)):
        yield T0 + dt.timedelta(days=1)


def test_a_request_shows_public_fields_and_never_the_reporter(o311, world, now):
    case = report(world, description="门口被堵，请联系 13800000001，身份证 61040219500101123X",
                  address="幸福里 3 号楼")
    response, body = o311(f"requests/{case.number}.json")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "*"
    (row,) = body
    assert row == {
        "service_request_id": case.number, "status": "open", "status_notes": "已上报", "service_name": "乱停车",
        "service_code": "INC_PARKING", "description": "门口被堵，请联系 138****0001，身份证 6104************3X",
        "agency_responsible": "空港新城综合执法指挥中心", "service_notice": "承诺 2 个工作日内处置。",
        "requested_datetime": "2026-06-15T10:00:00+08:00", "updated_datetime": "2026-06-15T10:00:00+08:00",
        "expected_datetime": "2026-06-17T23:59:59+08:00", "address": "幸福里 3 号楼", "address_id": "KG-DZ-XFL-G1",
        "zipcode": None, "lat": 34.405, "long": 108.705, "media_url": None,
    }
    text = response.content.decode()
    assert "王大爷" not in text and "13800000001" not in text and "61040219500101123X" not in text


def test_a_closed_request_says_what_was_done_by_whom_and_by_when(o311, world, now):
    case = close(world, report(world), T0 + dt.timedelta(minutes=30))
    _response, (row,) = o311(f"requests/{case.number}.json")
    assert row["status"] == "closed"
    assert row["status_notes"] == "已结案：已劝离，联系人 139****1111"
    assert row["agency_responsible"] == "底张街道综合执法队"  # the unit that handled it
    assert row["expected_datetime"] == timezone.localtime(case.due_at).isoformat(timespec="seconds")
    assert row["updated_datetime"] == "2026-06-15T16:30:00+08:00"  # the reporter's 已解决, six hours after registering


def test_a_request_in_xml(o311, world, now):
    case = report(world)
    response, root = o311(f"requests/{case.number}.xml")
    assert response["Content-Type"] == "text/xml; charset=utf-8" and root.tag == "service_requests"
    (request,) = root.findall("request")
    assert request.findtext("service_request_id") == case.number and request.findtext("status") == "open"
    assert request.find("zipcode").text is None and request.findtext("long") == "108.705"


@pytest.mark.parametrize("number", ["YW2026061500009999", "nonsense"])
def test_an_unknown_request_is_404(o311, world, now, number):
    other = report(world)  # a request that does exist is not answered in its place
    response, body = o311(f"requests/{number}.json")
    assert response.status_code == 404 and body[0]["code"] == 404 and number in body[0]["description"]
    assert other.number not in response.content.decode() and [set(e) for e in body] == [{"code", "description"}]
    response, root = o311(f"requests/{number}.xml")
    assert response.status_code == 404 and root.tag == "errors" and number in root.findtext("error/description")


def test_an_application_is_not_a_public_request(o311, world, now):
    from yiwang.testing import SENIOR_OK

    with clock.frozen_at(T0):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    assert o311(f"requests/{case.number}.json")[0].status_code == 404
    assert o311("requests.json")[1] == []


def test_a_request_outside_the_jurisdiction_is_not_found(o311, world, now):
    case = report(world)
    assert o311(f"requests/{case.number}.json", jurisdiction_id="KG")[0].status_code == 200
    assert o311(f"requests/{case.number}.json", jurisdiction_id="QH")[0].status_code == 404


def test_the_search_defaults_to_the_last_90_days_newest_first(o311, world, now):
    old = report(world, at=T0 - dt.timedelta(days=95))
    recent = [report(world, at=T0 - dt.timedelta(days=d)) for d in (80, 3)]
    response, body = o311("requests.json")
    assert response.status_code == 200
    assert [r["service_request_id"] for r in body] == [recent[1].number, recent[0].number]
    assert old.number not in response.content.decode()


def test_the_search_filters_by_dates_code_and_status(o311, world, now):
    parking = report(world, at=T0 - dt.timedelta(days=2))
    theft = report(world, at=T0 - dt.timedelta(days=1), matter="INC_THEFT")
    closed = close(world, report(world, at=T0 - dt.timedelta(days=5)), T0 - dt.timedelta(days=4))
    ids = lambda **q: [r["service_request_id"] for r in o311("requests.json", **q)[1]]  # noqa: E731
    assert ids(service_code="INC_THEFT") == [theft.number]
    assert ids(service_code="INC_THEFT,INC_PARKING") == [theft.number, parking.number, closed.number]
    assert ids(status="closed") == [closed.number]
    assert ids(status="open") == [theft.number, parking.number]
    assert ids(status="open,closed") == [theft.number, parking.number, closed.number]
    assert ids(start_date="2026-06-13T00:00:00+08:00", end_date="2026-06-14T08:00:00+08:00") == [parking.number]
    assert ids(start_date="2026-06-13T16:00:00Z") == [theft.number]  # Z is UTC: 06-14 00:00 local
    assert ids(end_date="2026-06-11") == [closed.number]


def test_a_list_of_ids_overrides_the_other_filters(o311, world, now):
    a, b = report(world, at=T0 - dt.timedelta(days=200)), report(world)
    ids = [r["service_request_id"] for r in o311("requests.json", service_request_id=f"{a.number}, {b.number},X",
                                                 status="closed")[1]]
    assert ids == [b.number, a.number]


@pytest.mark.parametrize(("query", "argument"), [
    ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, "end_date"),
    ({"start_date": "2026-06-10", "end_date": "2026-06-01"}, "end_date"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "2026-13-01"}, "end_date"),
    ({"status": "pending"}, "status"),
])
def test_bad_search_arguments_are_400_naming_the_argument(o311, world, now, query, argument):
    case = report(world)  # a bad search answers no requests, not the default search
    response, body = o311("requests.json", **query)
    assert response.status_code == 400 and body[0]["description"].startswith(f"{argument}: ")
    assert case.number not in response.content.decode()
    response, root = o311("requests.xml", **query)
    assert response.status_code == 400 and root.tag == "errors" and root.findtext("error/code") == "400"
    assert root.findtext("error/description").startswith(f"{argument}: ") and root.find("request") is None


def test_the_search_keeps_to_the_jurisdiction(o311, world, now):
    kg = report(world)
    qh = report(world, lat=34.33, lng=108.70)  # nearest community: 玻璃厂三普东社区 (off every grid)
    assert [r["service_request_id"] for r in o311("requests.json", jurisdiction_id="QH-WC")[1]] == [qh.number]
    assert [r["service_request_id"] for r in o311("requests.json", jurisdiction_id="KG-DZ-XFL")[1]] == [kg.number]
    assert o311("requests.json", jurisdiction_id="XQ")[0].status_code == 404


def test_a_merged_duplicate_points_to_its_parent(o311, world, now):
    parent, child = report(world), report(world)
    with clock.frozen_at(T0 + dt.timedelta(hours=1)):
        case_act(viewer=world.viewer("operator_kg"), case_id=child.pk, action="merge", version=child.version,
                 parent_number=parent.number)
    _response, (row,) = o311(f"requests/{child.number}.json")
    assert row["status"] == "closed" and parent.number in row["status_notes"]


def test_the_search_lists_requests_in_xml(o311, world, now, api_key):
    response, _body = o311("requests.json", "post", api_key=api_key, service_code="INC_PARKING",
                           media_url="https://img.example.cn/a.jpg", **IN_XFL_G1)
    assert response.status_code == 201
    _response, root = o311("requests.xml")
    assert root.tag == "service_requests" and len(root.findall("request")) == 1
    assert root.findtext("request/media_url") == "https://img.example.cn/a.jpg"
