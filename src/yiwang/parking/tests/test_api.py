"""The parking API: a gate's entry and exit, a camera's violation, the penalty loop, hotspots."""

import base64
import datetime as dt

import pytest

from yiwang.cases.tests.photos import gps_jpeg, jpeg, stored_metadata
from yiwang.parking.models import Violation
from yiwang.parking.tests.conftest import NOW, XFL_G1

pytestmark = pytest.mark.django_db

JPEG = jpeg()  # a photo that decodes: photos are re-encoded from their pixels


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_a_gate_reports_entry_and_exit_and_gets_the_fee(api, parking):
    entered = (NOW - dt.timedelta(hours=14)).isoformat()
    r = api("post", "/parking/sessions/entry", "operator_kg", {"zone": "XFL-P1", "plate": "陕a·12345", "at": entered})
    assert r.status_code == 201 and r.json()["plate"] == "陕A12345" and r.json()["fee"] is None
    r = api("post", "/parking/sessions/exit", "operator_kg", {"zone": "XFL-P1", "plate": "陕A12345"})
    body = r.json()
    assert r.status_code == 200 and body["fee"] == "9.00"
    assert [c["band"] for c in body["charges"]] == ["夜间", "白天"]
    zones = {z["code"]: z for z in api("get", "/parking/zones", "operator_kg").json()}
    assert zones["XFL-P1"]["occupied"] == 0 and zones["XFL-P1"]["bands"][1]["cap"] == "5.00"


@pytest.mark.parametrize("body,status,field", [
    ({"zone": "XFL-P1", "plate": "12345"}, 422, "plate"),
    ({"zone": "NOPE", "plate": "陕A12345"}, 404, "zone"),
    ({"zone": "XFL-P1", "plate": "陕A12345", "at": "2030-01-01T00:00:00+08:00"}, 422, "at"),
])
def test_bad_entries_get_a_field_error(api, parking, body, status, field):
    r = api("post", "/parking/sessions/entry", "operator_kg", body)
    assert r.status_code == status and field in r.json()["errors"]


def test_another_citys_staff_cannot_use_the_zone(api, parking):
    r = api("post", "/parking/sessions/entry", "clerk_spd", {"zone": "XFL-P1", "plate": "陕A12345"})
    assert r.status_code == 404
    assert api("get", "/parking/zones", "clerk_spd").json() == []


def test_a_camera_records_a_violation_with_its_photo(api, parking, media):
    photo = base64.b64encode(JPEG).decode()
    body = {"plate": "陕AD12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera",
            "photo": "data:image/jpeg;base64," + photo, "idempotency_key": "cam-1"}
    r = api("post", "/parking/violations", "operator_kg", body)
    assert r.status_code == 201, r.json()
    out = r.json()
    assert out["grid"] == "KG-DZ-XFL-G1" and out["zone"] == "XFL-P1" and out["case_state"] == "dispatched"
    v = Violation.objects.get(pk=out["id"])
    assert v.photos[0]["content_type"] == "image/jpeg" and v.case.materials[0]["sha256"] == v.photos[0]["sha256"]
    assert api("post", "/parking/violations", "operator_kg", body).json()["id"] == out["id"]


def test_a_camera_photo_is_re_encoded_without_its_exif_gps(api, parking, media):
    body = {"plate": "陕AD12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera",
            "photo": base64.b64encode(gps_jpeg()).decode()}
    r = api("post", "/parking/violations", "operator_kg", body)
    assert r.status_code == 201, r.json()
    stored = Violation.objects.get().photos[0]
    kept = stored_metadata(stored["reference"])
    assert kept["exif"] == {} and kept["info"] == [] and b"SpyPhone" not in kept["raw"] and b"=1+1" not in kept["raw"]
    assert stored["thumbnail"].endswith(".thumb.jpg") and max(stored["width"], stored["height"]) <= 2560


def test_a_photo_that_is_not_an_image_is_refused(api, parking, media):
    body = {"plate": "陕A12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera",
            "photo": base64.b64encode(b"%PDF-1.4 nope").decode()}
    r = api("post", "/parking/violations", "operator_kg", body)
    assert r.status_code == 422 and "photo" in r.json()["errors"]
    assert not Violation.objects.exists()


def test_the_penalty_loop_over_the_api(api, parking):
    body = {"plate": "陕A12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera"}
    violation = api("post", "/parking/violations", "operator_kg", body).json()
    r = api("post", f"/parking/violations/{violation['id']}/penalty", "handler_kg_en", {})
    assert r.status_code == 403
    r = api("post", f"/parking/violations/{violation['id']}/penalty", "handler_en", {"note": "驾驶人不在现场"})
    assert r.status_code == 201 and r.json()["decision"] == "fine" and r.json()["amount"] == "100.00"
    penalty = r.json()["id"]
    appeal = api("post", f"/parking/penalties/{penalty}/appeal", "handler_en", {"reason": "送孩子上学临时停靠"}).json()
    assert appeal["state"] == "pending"
    r = api("post", f"/parking/appeals/{appeal['id']}/decision", "leader_kg", {"outcome": "upheld", "note": "证据确凿"})
    assert r.json()["state"] == "upheld"
    r = api("post", f"/parking/penalties/{penalty}/payment", "handler_en", {"reference": "ZF-1"})
    assert r.json()["state"] == "paid"
    listed = api("get", "/parking/violations?penalty=paid", "operator_kg").json()["items"]
    assert [v["id"] for v in listed] == [violation["id"]] and listed[0]["penalty"]["appeal"] == "upheld"
    assert api("get", f"/parking/violations/{violation['id']}", "clerk_spd").status_code == 404


def test_hotspots_over_the_api(api, parking):
    api("post", "/parking/violations", "operator_kg",
        {"plate": "陕A12345", "lat": XFL_G1[0], "lng": XFL_G1[1], "source": "camera"})
    body = api("get", "/parking/hotspots?days=7&tag=school", "leader_kg").json()
    assert body["total"] == 1 and body["heat"][2][10] == 1 and body["near"][0]["count"] == 1
    assert api("get", "/parking/hotspots", "handler_en").status_code == 403
    r = api("get", "/parking/hotspots?days=0", "leader_kg")
    assert r.status_code == 422 and "days" in r.json()["errors"]
