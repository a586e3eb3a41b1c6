"""POST requests: a report becomes an incident case (channel open311) through the case engine."""

import pytest

from yiwang.cases.models import Case
from yiwang.cases.tests.photos import gps_jpeg, stored_metadata
from yiwang.open311.models import Submission
from yiwang.open311.services import api_key_create, api_key_revoke

from .conftest import IN_XFL_G1


def post(o311, key, fmt="json", **fields):
    return o311(f"requests.{fmt}", "post", api_key=key, **fields)


def test_it_files_a_report_as_an_open311_case_in_the_grid_of_its_pin(o311, streetlight, api_key):
    response, body = post(o311, api_key, service_code="INC_STREETLIGHT", description="两盏灯不亮",
                          first_name="三", last_name="张", phone="138-0000-1111", email="zs@example.cn",
                          device_id="dev-1", account_id="acc-9", **IN_XFL_G1,
                          **{"attribute[fault]": "不亮", "attribute[lamps_out]": "2", "attribute[danger]": "true",
                             "attribute[noticed_on]": "2026-06-01T08:00:00+08:00"})
    assert response.status_code == 201
    (answer,) = body
    case = Case.objects.get()
    assert answer["service_request_id"] == case.number and answer["account_id"] == "acc-9"
    assert "空港新城综合执法指挥中心" in answer["service_notice"]
    assert case.channel == "open311" and case.kind == "incident" and case.state == "reported"
    assert case.title == "两盏灯不亮"  # the description names it in the queues
    assert case.region_path.endswith("/KG-DZ-XFL-G1/") and case.holder_unit.code == "KG-CC"
    assert case.form_data == {"fault": "不亮", "lamps_out": 2, "danger": True, "noticed_on": "2026-06-01"}
    assert (case.applicant_name, case.applicant_phone) == ("张三", "13800001111")
    submission = Submission.objects.get()
    assert submission.token == answer["token"] and submission.case == case and submission.email == "zs@example.cn"
    assert submission.region_path == case.region_path and submission.device_id == "dev-1"
    # The timeline says which key sent it; the e-mail stays out of the hash-chained timeline.
    first = case.events.get()
    assert first.action == "submit" and first.payload["channel"] == "open311"
    assert first.payload["open311"] == {"key": "test-app", "device_id": "dev-1", "account_id": "acc-9"}
    assert "zs@example.cn" not in str(first.payload)
    assert first.actor.username == "open311-test-app"


@pytest.mark.parametrize("key", [None, "", "o311_wrong"])
def test_it_needs_a_valid_api_key(o311, world, key):
    fields = {"service_code": "INC_PARKING", **IN_XFL_G1}
    if key is not None:
        fields["api_key"] = key
    response, body = o311("requests.json", "post", **fields)
    assert response.status_code == 403 and body[0]["code"] == 403 and "api_key" in body[0]["description"]
    assert not Case.objects.exists()


def test_a_revoked_key_is_refused(o311, world, api_key):
    assert api_key_revoke(name="test-app") == 1
    response, _body = post(o311, api_key, service_code="INC_PARKING", **IN_XFL_G1)
    assert response.status_code == 403 and not Case.objects.exists()


def test_a_key_revoked_after_use_is_refused_at_once_though_keys_are_remembered(o311, world, api_key):
    # The key and its account are read once per few seconds (services.reporter_for); revoking it here
    # forgets it at once, so the next report is refused and nothing is filed.
    response, _body = post(o311, api_key, service_code="INC_PARKING", **IN_XFL_G1)
    assert response.status_code == 201
    assert api_key_revoke(name="test-app") == 1
    response, _body = post(o311, api_key, service_code="INC_PARKING", **IN_XFL_G1)
    assert response.status_code == 403 and Case.objects.count() == 1
    response, _body = post(o311, api_key[:-1] + "x", service_code="INC_PARKING", **IN_XFL_G1)  # a guessed key
    assert response.status_code == 403 and Case.objects.count() == 1


def test_the_key_may_come_in_the_query_string(client, world, api_key):
    response = client.post(f"/open311/v2/requests.json?api_key={api_key}&jurisdiction_id=KG",
                           {"service_code": "INC_PARKING", **IN_XFL_G1})
    assert response.status_code == 201, response.content
    assert Case.objects.get().number == response.json()[0]["service_request_id"]


def test_it_answers_in_xml(o311, world, api_key):
    response, root = post(o311, api_key, "xml", service_code="INC_PARKING", **IN_XFL_G1)
    assert response.status_code == 201 and response["Content-Type"] == "text/xml; charset=utf-8"
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == Case.objects.get().number
    assert root.findtext("request/token") == Submission.objects.get().token


def test_an_address_string_places_the_report_in_the_region_it_names(o311, world, api_key):
    response, _body = post(o311, api_key, service_code="INC_PARKING", address_string="底张街道幸福里社区东门口")
    assert response.status_code == 201
    case = Case.objects.get()
    assert case.region_path.endswith("/KG-DZ-XFL/") and case.address == "底张街道幸福里社区东门口"
    assert case.lat is None


def test_an_address_naming_no_region_goes_to_the_jurisdiction(o311, world, api_key):
    response, _body = post(o311, api_key, service_code="INC_PARKING", address_string="人民路 18 号",
                           jurisdiction_id="QH")
    assert response.status_code == 201 and Case.objects.get().region_path == "/XX/QH/"


def test_address_id_names_the_region_by_code(o311, world, api_key):
    response, _body = post(o311, api_key, service_code="INC_PARKING", address_id="QH-WC-SPD")
    assert response.status_code == 201 and Case.objects.get().region_path.endswith("/QH-WC-SPD/")
    response, body = post(o311, api_key, service_code="INC_PARKING", address_id="NOPE")
    assert response.status_code == 400 and body[0]["description"].startswith("address_id: ")


def test_a_pin_outside_the_jurisdiction_is_refused(o311, world, api_key):
    response, body = post(o311, api_key, service_code="INC_PARKING", jurisdiction_id="QH", **IN_XFL_G1)
    assert response.status_code == 400 and body[0]["description"].startswith("lat: ")
    response, body = post(o311, api_key, service_code="INC_PARKING", jurisdiction_id="NOWHERE", **IN_XFL_G1)
    assert response.status_code == 404
    assert not Case.objects.exists()


@pytest.mark.parametrize(("fields", "argument"), [
    ({}, "lat"),
    ({"lat": "34.405"}, "long"),
    ({"lat": "north", "long": "108.705"}, "lat"),
    ({"lat": "34.405", "long": "999"}, "long"),
])
def test_it_needs_a_usable_location(o311, world, api_key, fields, argument):
    response, body = post(o311, api_key, service_code="INC_PARKING", **fields)
    assert response.status_code == 400 and body[0]["description"].startswith(f"{argument}: ")
    assert not Case.objects.exists() and not Submission.objects.exists()


def test_it_names_every_bad_attribute(o311, streetlight, api_key):
    response, body = post(o311, api_key, service_code="INC_STREETLIGHT", **IN_XFL_G1,
                          **{"attribute[lamps_out]": "many", "attribute[danger]": "maybe"})
    assert response.status_code == 400
    descriptions = sorted(e["description"].split(":")[0] for e in body)
    assert descriptions == ["attribute[danger]", "attribute[lamps_out]"]
    response, body = post(o311, api_key, service_code="INC_STREETLIGHT", **IN_XFL_G1,
                          **{"attribute[lamps_out]": "99", "attribute[colour]": "red"})
    assert response.status_code == 400
    assert {e["description"].split(":")[0] for e in body} == {
        "attribute[fault]", "attribute[lamps_out]", "attribute[colour]"}
    assert not Case.objects.exists()


def test_it_refuses_two_values_for_a_single_valued_attribute(client, streetlight, api_key):
    response = client.post("/open311/v2/requests.json", {
        "api_key": api_key, "service_code": "INC_STREETLIGHT", **IN_XFL_G1, "attribute[fault]": ["不亮", "闪烁"]})
    assert response.status_code == 400 and "attribute[fault]" in response.json()[0]["description"]


@pytest.mark.parametrize("code", ["NOPE", "SENIOR_CARD"])
def test_it_answers_404_for_a_code_that_is_not_a_service(o311, world, api_key, code):
    response, body = post(o311, api_key, service_code=code, **IN_XFL_G1)
    assert response.status_code == 404 and body[0]["code"] == 404 and code in body[0]["description"]
    assert not Case.objects.exists() and not Submission.objects.exists()


def test_it_needs_a_service_code(o311, world, api_key):
    response, body = post(o311, api_key, **IN_XFL_G1)
    assert response.status_code == 400 and body[0]["description"].startswith("service_code: ")
    assert not Case.objects.exists() and not Submission.objects.exists()


def test_a_retry_from_the_same_device_is_the_same_report(o311, world, api_key):
    fields = {"service_code": "INC_PARKING", "description": "车堵门", "device_id": "phone-7", **IN_XFL_G1}
    first, body1 = post(o311, api_key, **fields)
    again, body2 = post(o311, api_key, **fields)
    assert (first.status_code, again.status_code) == (201, 200)
    assert body1 == body2 and Case.objects.count() == Submission.objects.count() == 1
    other, _body = post(o311, api_key, **{**fields, "description": "又有车堵门"})
    assert other.status_code == 201 and Case.objects.count() == 2


def test_without_a_device_id_every_post_is_a_new_report(o311, world, api_key):
    for _ in range(2):
        assert post(o311, api_key, service_code="INC_PARKING", **IN_XFL_G1)[0].status_code == 201
    assert Case.objects.count() == 2


def test_a_media_url_is_kept_with_the_case(o311, world, api_key):
    response, _body = post(o311, api_key, service_code="INC_PARKING", media_url="https://img.example.cn/1.jpg",
                           **IN_XFL_G1)
    assert response.status_code == 201
    assert Case.objects.get().materials == [{"code": "media_url", "name": "照片链接", "url": "https://img.example.cn/1.jpg"}]
    response, body = post(o311, api_key, service_code="INC_PARKING", media_url="javascript:alert(1)", **IN_XFL_G1)
    assert response.status_code == 400 and body[0]["description"].startswith("media_url: ")


def test_an_uploaded_photo_is_stored_like_a_web_report(client, world, api_key, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    original = gps_jpeg()
    photo = SimpleUploadedFile("pothole.jpg", original, content_type="image/jpeg")
    response = client.post("/open311/v2/requests.json",
                           {"api_key": api_key, "service_code": "INC_PARKING", **IN_XFL_G1, "media": photo})
    assert response.status_code == 201
    (material,) = Case.objects.get().materials
    # Re-encoded from its pixels, with a thumbnail: the phone's GPS, maker and serial are gone, and the
    # uploaded bytes are stored nowhere.
    assert material["content_type"] == "image/jpeg" and (tmp_path / material["thumbnail"]).exists()
    kept = stored_metadata(material["reference"])
    assert kept["exif"] == {} and kept["info"] == [] and b"SERIAL-123456" not in kept["raw"]
    assert b"hidden" not in kept["raw"] and kept["raw"] != original
    assert not any(p.read_bytes() == original for p in tmp_path.rglob("*") if p.is_file())
    fake = SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    response = client.post("/open311/v2/requests.json",
                           {"api_key": api_key, "service_code": "INC_PARKING", **IN_XFL_G1, "media": fake})
    assert response.status_code == 400 and response.json()[0]["description"].startswith("media: ")


def test_a_key_issued_for_a_resident_reports_as_that_resident(o311, world):
    _key, plain = api_key_create(name="wang-phone", username="resident_wang")
    response, _body = post(o311, plain, service_code="INC_PARKING", **IN_XFL_G1)
    assert response.status_code == 201
    case = Case.objects.get()
    assert case.applicant == world.residents["wang"] and case.created_by == world.users["resident_wang"]


def test_a_long_description_is_refused(o311, world, api_key):
    response, body = post(o311, api_key, service_code="INC_PARKING", description="灯" * 4001, **IN_XFL_G1)
    assert response.status_code == 400 and body[0]["description"].startswith("description: ")
    assert "4000" in body[0]["description"]
    assert not Case.objects.exists() and not Submission.objects.exists()
    # One character fewer is filed, whole.
    response, _body = post(o311, api_key, service_code="INC_PARKING", description="灯" * 4000, **IN_XFL_G1)
    assert response.status_code == 201 and Case.objects.get().description == "灯" * 4000
