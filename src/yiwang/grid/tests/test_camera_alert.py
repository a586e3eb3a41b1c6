"""A camera's alert opens an incident where the camera stands; a resend returns the first case."""

import base64

import pytest

from yiwang.cases.models import Case
from yiwang.cases.tests.photos import gps_jpeg, jpeg, stored_metadata
from yiwang.core.errors import ValidationFailed
from yiwang.grid.services import camera_create
from yiwang.org.models import Region

JPEG = jpeg()


@pytest.fixture
def camera(world, media):
    return camera_create(code="CAM-XFL-1", name="幸福里东门探头", lat=34.405, lng=108.705,
                         owner_unit=world.units["kg_cc"])


def alert(api, username="operator_kg", code="CAM-XFL-1", **body):
    payload = {"alert_id": "a-1", "category": "INC_PARKING", "occurred_at": "2025-03-01T08:30:00+08:00",
               "description": "占用消防通道", **body}
    return api("post", f"/cameras/{code}/alerts", username, payload)


def test_a_camera_is_placed_in_the_grid_it_stands_in(camera):
    assert camera.grid.code == "KG-DZ-XFL-G1" and camera.region_path == camera.grid.path


def test_a_camera_outside_every_grid_is_placed_in_the_nearest_community(world, media):
    far = camera_create(code="CAM-FAR", name="田间", lat=34.33, lng=108.71, owner_unit=world.units["qh_cc"])
    assert far.grid is None and far.region_path == Region.objects.get(code="QH-WC-SPD").path


def test_an_impossible_camera_point_is_refused(world):
    with pytest.raises(ValidationFailed) as caught:
        camera_create(code="CAM-X", name="x", lat=123, lng=108, owner_unit=world.units["kg_cc"])
    assert caught.value.field == "lat"


def test_an_alert_opens_an_incident_in_the_cameras_grid(api, camera):
    response = alert(api, snapshot=base64.b64encode(JPEG).decode())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grid"] == "KG-DZ-XFL-G1" and body["replayed"] is False
    case = Case.objects.get()
    assert (case.channel, case.kind, case.lat, case.lng) == ("camera", "incident", 34.405, 108.705)
    assert case.region_path == camera.grid.path and case.number == body["number"]
    assert "CAM-XFL-1" in case.description and "占用消防通道" in case.description
    photo, record = case.materials
    assert photo["content_type"] == "image/jpeg" and record["alert_id"] == "a-1"
    assert case.events.get().action == "submit"


def test_a_replayed_alert_returns_the_first_case(api, camera):
    first = alert(api).json()["number"]
    again = alert(api)
    assert again.status_code == 200 and again.json() == {**again.json(), "number": first, "replayed": True}
    assert Case.objects.count() == 1
    assert alert(api, alert_id="a-2").status_code == 201 and Case.objects.count() == 2


def test_a_snapshot_link_is_kept_not_fetched(api, camera):
    assert alert(api, snapshot_url="https://video.example.cn/s/1.jpg").status_code == 201
    assert Case.objects.get().materials[0]["url"] == "https://video.example.cn/s/1.jpg"


def test_a_token_of_another_region_is_refused(api, camera):
    assert alert(api, "clerk_spd").status_code == 403
    assert alert(api, "resident_wang").status_code == 403
    assert Case.objects.count() == 0


def test_staff_of_the_grids_community_and_the_superuser_may_send_alerts(api, camera):
    assert alert(api, "gridder_xfl").status_code == 201
    assert alert(api, "admin", alert_id="a-9").status_code == 201
    assert Case.objects.filter(channel="camera").count() == 2


def test_an_unknown_camera_is_404(api, camera):
    response = alert(api, code="CAM-NOPE")
    assert response.status_code == 404 and "code" in response.json()["errors"]


def test_no_token_is_401(client, camera):
    assert client.post("/api/v1/cameras/CAM-XFL-1/alerts", {}, content_type="application/json").status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"category": "NO_SUCH"}, "category"),
    ({"category": "SENIOR_CARD"}, "category"),  # an application matter is no incident category
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"alert_id": ""}, "alert_id"),
    ({"snapshot": "%%%not base64"}, "snapshot"),
    ({"snapshot": base64.b64encode(b"MZ not an image").decode()}, "snapshot"),
    ({"snapshot_url": "file:///etc/passwd"}, "snapshot_url"),
])
def test_a_bad_alert_is_422_naming_the_field(api, camera, body, field):
    response = alert(api, **body)
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert Case.objects.count() == 0


def test_a_missing_field_is_422(api, camera):
    response = api("post", "/cameras/CAM-XFL-1/alerts", "operator_kg", {"alert_id": "x", "category": "INC_PARKING"})
    assert response.status_code == 422 and "occurred_at" in response.json()["errors"]


def test_an_inactive_camera_takes_no_alerts(api, camera):
    camera.active = False
    camera.save()
    response = alert(api)
    assert response.status_code == 422, response.content
    assert response.json()["errors"]["code"] == ["摄像头 CAM-XFL-1 已停用。"]
    assert Case.objects.count() == 0


def test_a_snapshot_is_re_encoded_and_its_exif_gps_never_stored(api, camera, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    original = gps_jpeg()
    response = alert(api, snapshot="data:image/jpeg;base64," + base64.b64encode(original).decode())
    assert response.status_code == 201, response.content
    photo, _record = Case.objects.get().materials
    assert photo["content_type"] == "image/jpeg" and (tmp_path / photo["thumbnail"]).exists()
    kept = stored_metadata(photo["reference"])
    assert kept["exif"] == {} and kept["info"] == [] and b"SpyPhone" not in kept["raw"]
    assert not any(p.read_bytes() == original for p in tmp_path.rglob("*") if p.is_file())


def test_a_snapshot_that_does_not_decode_is_refused_by_field(api, camera):
    fake = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 64).decode()
    response = alert(api, snapshot=fake)
    assert response.status_code == 422 and "snapshot" in response.content.decode()
    assert Case.objects.count() == 0
