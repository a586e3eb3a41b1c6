"""The parking pages: who may open them, and that they show the figures the selectors give."""

import datetime as dt
import re

import pytest

from yiwang.cases.tests.photos import jpeg
from yiwang.core import clock
from yiwang.parking import services
from yiwang.parking.models import ParkingSession, Penalty, Violation
from yiwang.parking.tests.conftest import NOW, SCHOOL, XFL_G1, XFL_G2

pytestmark = pytest.mark.django_db


def as_user(client, world, username):
    client.force_login(world.users[username])
    return client


def test_the_zone_page_shows_occupancy_and_the_gate_desk_charges(client, world, parking):
    services.session_enter(viewer=world.viewer("operator_kg"), zone_code="XFL-P1", plate="陕A12345",
                           at=NOW - dt.timedelta(hours=2))
    page = as_user(client, world, "operator_kg").get("/parking/")
    html = page.content.decode()
    assert page.status_code == 200 and "幸福路路内泊位" in html and "每24小时最高 30.00 元" in html
    row = re.search(r'<tr data-zone="XFL-P1".*?</tr>', html, re.S).group(0)
    assert '<td class="num" data-figure="occupied">1</td>' in row
    r = client.post("/parking/gate/", {"zone": "XFL-P1", "plate": "陕A12345", "direction": "exit"}, follow=True)
    assert "应收停车费 4.00 元" in r.content.decode()
    assert ParkingSession.objects.get().fee == 4
    r = client.post("/parking/gate/", {"zone": "XFL-P1", "plate": "bad", "direction": "entry"}, follow=True)
    assert "格式不正确" in r.content.decode()


def test_residents_are_refused_and_visitors_sent_to_log_in(client, world, parking):
    v = services.violation_record(viewer=world.viewer("operator_kg"), plate="陕A12345", source="camera",
                                  lat=XFL_G1[0], lng=XFL_G1[1])
    visitor = client.get("/parking/")
    assert visitor.status_code == 302 and visitor["Location"] == "/login/?next=/parking/"
    gate = client.post("/parking/gate/", {"zone": "XFL-P1", "plate": "陕A12345", "direction": "entry"})
    assert gate.status_code == 302 and gate["Location"].startswith("/login/")
    as_user(client, world, "resident_wang")
    for url in ("/parking/", "/parking/violations/", f"/parking/violations/{v.pk}/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 403 and "仅限工作人员。" in body, url
        assert "陕A12345" not in body and v.case.number not in body, url
    refused = client.post("/parking/violations/", {"plate": "陕AD12345", "source": "patrol", "lat": str(XFL_G2[0]),
                                                   "lng": str(XFL_G2[1]), "address": "幸福路"})
    assert refused.status_code == 403 and "仅限工作人员。" in refused.content.decode()
    gate = client.post("/parking/gate/", {"zone": "XFL-P1", "plate": "陕A12345", "direction": "entry"})
    assert gate.status_code == 403
    assert list(Violation.objects.values_list("pk", flat=True)) == [v.pk] and not ParkingSession.objects.exists()


def test_a_patrol_records_a_violation_from_the_page(client, world, parking, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    photo = SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")
    r = as_user(client, world, "gridder_xfl").post("/parking/violations/", {
        "plate": "陕AD12345", "source": "patrol", "lat": str(XFL_G2[0]), "lng": str(XFL_G2[1]), "photo": photo,
        "address": "幸福路", "idempotency_key": "k1"})
    v = Violation.objects.get()
    assert r.status_code == 303 and r["Location"] == f"/parking/violations/{v.pk}/"
    assert v.photos and v.case.channel == "patrol"
    listing = client.get("/parking/violations/?plate=陕AD12345").content.decode()
    assert v.case.number in listing
    r = client.post("/parking/violations/", {"plate": "陕AD12345", "source": "patrol", "lat": "", "lng": ""})
    assert r.status_code == 200 and "请在地图上点选位置" in r.content.decode()


def test_the_penalty_loop_through_the_violation_page(client, world, parking):
    v = services.violation_record(viewer=world.viewer("operator_kg"), plate="陕A12345", source="camera",
                                  lat=XFL_G1[0], lng=XFL_G1[1])
    assert ">作出处罚决定</button>" not in as_user(client, world, "operator_kg").get(f"/parking/violations/{v.pk}/").content.decode()
    handler = as_user(client, world, "handler_en")
    assert ">作出处罚决定</button>" in handler.get(f"/parking/violations/{v.pk}/").content.decode()
    handler.post(f"/parking/violations/{v.pk}/penalty/", {"note": "驾驶人不在现场"})
    penalty = Penalty.objects.get()
    assert penalty.amount == 100
    handler.post(f"/parking/violations/{v.pk}/appeal/", {"penalty": penalty.pk, "reason": "临时停靠"})
    leader = as_user(client, world, "leader_kg")
    page = leader.get(f"/parking/violations/{v.pk}/").content.decode()
    assert ">撤销处罚</button>" in page
    assert ">撤销处罚</button>" not in as_user(client, world, "handler_en").get(f"/parking/violations/{v.pk}/").content.decode()
    leader = as_user(client, world, "leader_kg")
    leader.post(f"/parking/violations/{v.pk}/appeal/decision/",
                {"appeal": penalty.appeal.pk, "outcome": "overturned", "note": "属实"})
    penalty.refresh_from_db()
    assert penalty.state == "waived"
    assert as_user(client, world, "clerk_spd").get(f"/parking/violations/{v.pk}/").status_code == 404


def test_the_hotspot_page_shows_the_heat_table_for_leaders_only(client, world, parking):
    for day in range(3):
        with clock.frozen_at(NOW.replace(hour=7, minute=40) - dt.timedelta(days=day)):
            services.violation_record(viewer=world.viewer("operator_kg"), plate="陕A12345", source="camera",
                                      lat=SCHOOL[0], lng=SCHOOL[1])
    assert as_user(client, world, "handler_en").get("/parking/hotspots/").status_code == 403
    page = as_user(client, world, "leader_kg").get("/parking/hotspots/?days=7&tag=school")
    html = page.content.decode()
    assert page.status_code == 200
    # Mon, Tue and Wed at 7 o'clock: one each, the busiest shade.
    for weekday in (0, 1, 2):
        assert f'<td class="heat-5" data-weekday="{weekday}" data-hour="7">1</td>' in html
    assert "7:00–8:00" in html and "幸福里小学" in html
    assert len(Violation.objects.all()) == 3
