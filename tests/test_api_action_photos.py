"""Photos on a step through the REST API: an incident's handle, verify and rework take up to 9 photos
cited by the handles POST /api/v1/uploads answered, re-encoded like the pages' photos; every refusal is
a 4xx beside the field, and a refused step leaves the uploads for their owner to cite again."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from yiwang.cases.attachments import photo_uploads_cite, photo_uploads_read
from yiwang.cases.models import Case, Upload
from yiwang.cases.services import case_act, case_create
from yiwang.cases.tests.photos import gps_jpeg, jpeg, stored_metadata
from yiwang.core.errors import ValidationFailed
from yiwang.org.services import token_create

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
HOSTILE_NAME = "=HYPERLINK(1) 61040219500101123X.jpg"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Caller:
    def __init__(self, username: str):
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token_create(username=username)}"}

    def upload(self, name: str, data: bytes) -> str:
        response = self.client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, data)}, **self.auth)
        assert response.status_code == 201, response.content
        return response.json()["upload"]

    def act(self, case: Case, action: str, **body):
        body = {"version": Case.objects.get(pk=case.pk).version, **body}
        return self.client.post(f"/api/v1/cases/{case.number}/actions/{action}", json.dumps(body),
                                content_type="application/json", **self.auth)


def step(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


@pytest.fixture
def acknowledged(world):
    """Wang's parking report in 幸福里, dispatched to 底张街道综合执法队 and acknowledged there."""
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                       description="楼下乱停车", lat=34.4051, lng=108.7052, channel="online").case
    step(world, "operator_kg", case, "register")
    step(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    return step(world, "handler_en", case, "acknowledge")


def test_the_handler_brings_after_photos_re_encoded_and_cited_once(acknowledged, world):
    handler = Caller("handler_en")
    handles = [handler.upload("after.jpg", gps_jpeg()), handler.upload(HOSTILE_NAME, jpeg("white"))]
    response = handler.act(acknowledged, "handle", result="已拖移车辆", photos=handles)
    assert response.status_code == 200, response.content
    event = Case.objects.get(pk=acknowledged.pk).events.get(action="handle")
    photos = event.payload["photos"]
    assert [p["filename"] for p in photos] == ["after.jpg", HOSTILE_NAME]
    kept = stored_metadata(photos[0]["reference"])
    assert kept["exif"] == {} and b"SpyPhone" not in kept["raw"] and b"SERIAL" not in kept["raw"]
    assert all(p["thumbnail"].endswith(".thumb.jpg") for p in photos)
    assert set(Upload.objects.values_list("case_id", flat=True)) == {acknowledged.pk}
    # The answer shows the step with its photos; an ID number in a file name is masked there.
    answer = json.dumps(response.json(), ensure_ascii=False)
    assert "61040219500101123X" not in answer and "=HYPERLINK(1)" in answer
    # The workbench renders the hostile name nowhere as markup, and the photos as thumbnails.
    page = Client()
    page.force_login(world.users["operator_kg"])
    body = page.get(f"/work/cases/{acknowledged.number}/").content.decode()
    assert body.count(f"/cases/{acknowledged.number}/photos/{event.seq}/") == 4
    assert "61040219500101123X" not in body
    # Cited once: the same handle on another step is refused by its index.
    with pytest.raises(ValidationFailed) as refused:
        photo_uploads_read(viewer=world.viewer("handler_en"), handles=[handles[1]])
    assert refused.value.field == "photos.0"
    with pytest.raises(ValidationFailed) as refused:  # and by the citing, inside another step's transaction
        photo_uploads_cite(viewer=world.viewer("handler_en"), handles=[handles[1]], case_id=acknowledged.pk)
    assert refused.value.field == "photos"


def test_ten_photos_are_refused_beside_the_field(acknowledged):
    handler = Caller("handler_en")
    handles = [handler.upload(f"p{i}.jpg", jpeg(size=(8, 8 + i))) for i in range(10)]
    response = handler.act(acknowledged, "handle", result="已处置", photos=handles)
    assert response.status_code == 422
    assert "最多上传 9 张照片" in response.json()["errors"]["photos"][0]
    assert Case.objects.get(pk=acknowledged.pk).state == "acknowledged"
    assert not Upload.objects.filter(case__isnull=False).exists()


def test_a_pdf_as_a_photo_is_refused_by_its_name_and_stays_the_callers(acknowledged):
    handler = Caller("handler_en")
    handles = [handler.upload("ok.jpg", jpeg()), handler.upload("scan.pdf", PDF)]
    response = handler.act(acknowledged, "handle", result="已处置", photos=handles)
    assert response.status_code == 422
    assert "scan.pdf" in response.json()["errors"]["photos"][0]
    assert Case.objects.get(pk=acknowledged.pk).state == "acknowledged"
    assert not Upload.objects.filter(case__isnull=False).exists()
    assert handler.act(acknowledged, "handle", result="已处置", photos=handles[:1]).status_code == 200


def test_photos_on_an_action_without_evidence_are_refused(acknowledged, world):
    step(world, "handler_en", acknowledged, "handle", result="已处置")
    operator = Caller("operator_kg")
    handle = operator.upload("a.jpg", jpeg())
    # 督办 on a handled case takes a note and no photos.
    response = operator.act(acknowledged, "supervise", note="请尽快核查", photos=[handle])
    assert response.status_code == 422 and "不能附照片" in response.json()["errors"]["photos"][0]
    assert not Upload.objects.get(token=handle).case_id
    # 核查 takes them.
    assert operator.act(acknowledged, "verify", photos=[handle]).status_code == 200
    assert Case.objects.get(pk=acknowledged.pk).events.get(action="verify").payload["photos"][0]["filename"] == "a.jpg"


def test_a_handle_that_is_not_the_callers_own_is_refused_as_unknown(acknowledged):
    someone_else = Caller("operator_kg").upload("theirs.jpg", jpeg())
    response = Caller("handler_en").act(acknowledged, "handle", result="已处置", photos=[someone_else, "nope"])
    assert response.status_code == 422 and "没有找到该上传文件" in response.json()["errors"]["photos.0"][0]
    assert not Upload.objects.get(token=someone_else).case_id
    assert Case.objects.get(pk=acknowledged.pk).state == "acknowledged"


def test_a_neighbouring_communitys_clerk_and_a_residents_token_take_no_step(acknowledged):
    for username, status in [("clerk_spd", 404), ("resident_li", 404), ("resident_wang", 403)]:
        caller = Caller(username)
        handle = caller.upload("x.jpg", jpeg())
        response = caller.act(acknowledged, "handle", result="已处置", photos=[handle])
        assert response.status_code == status, (username, response.content)
        assert not Upload.objects.get(token=handle).case_id
    assert Case.objects.get(pk=acknowledged.pk).state == "acknowledged"


def test_the_openapi_document_describes_the_photos(client):
    schema = client.get("/api/v1/openapi.json").json()
    action_in = schema["components"]["schemas"]["ActionIn"]["properties"]["photos"]
    assert action_in["type"] == "array" and "uploads" in action_in["description"]


def test_photos_are_re_encoded_before_the_case_is_locked(acknowledged, world, monkeypatch):
    """Decoding nine phone photos takes seconds: done under the case's row lock, every other actor on
    the case would wait for it. The step re-encodes them first, outside its transaction."""
    from django.db import connection

    from yiwang.cases import attachments
    from yiwang.cases.services import actions

    depth_at_call = connection.savepoint_ids[:]
    seen = []
    real = attachments.photos_store

    def watched(*args, **kwargs):
        seen.append(connection.savepoint_ids[:])
        return real(*args, **kwargs)

    monkeypatch.setattr(actions, "photos_store", watched)
    photo = SimpleUploadedFile("after.jpg", jpeg("blue"))
    case = step(world, "handler_en", acknowledged, "handle", result="已清理", photos=[photo])
    assert seen == [depth_at_call]  # not inside case_act's own atomic block, where the lock is taken
    assert len(case.events.order_by("-seq").first().payload["photos"]) == 1
    # An action that never takes photos refuses them before decoding any.
    seen.clear()
    with pytest.raises(ValidationFailed) as refused:
        step(world, "operator_kg", case, "claim", photos=[SimpleUploadedFile("x.jpg", jpeg())])
    assert refused.value.field == "photos" and "不能附照片" in refused.value.message and seen == []


def test_a_report_through_the_api_brings_its_photos_re_encoded(world):
    """POST /api/v1/cases: a reported problem takes up to 9 photos by upload handle, as a step does."""
    wang = Caller("resident_wang")
    handles = [wang.upload("phone.jpg", gps_jpeg()), wang.upload(HOSTILE_NAME, jpeg("red"))]
    report = {"matter_code": "INC_PARKING", "region_code": "KG-DZ-XFL", "description": "楼下乱停车",
              "lat": 34.4051, "lng": 108.7052, "photos": handles}
    response = wang.client.post("/api/v1/cases", json.dumps(report), content_type="application/json",
                                HTTP_IDEMPOTENCY_KEY="report-1", **wang.auth)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=Case.parse_number(response.json()["number"])[1])
    photos = [m for m in case.materials if m.get("thumbnail")]
    assert len(photos) == 2
    for photo in photos:  # no EXIF: no GPS, no maker, no serial number
        kept = stored_metadata(photo["reference"])
        assert kept["exif"] == {} and b"SpyPhone" not in kept["raw"] and b"SERIAL" not in kept["raw"]
    assert set(Upload.objects.values_list("case_id", flat=True)) == {case.pk}
    replay = wang.client.post("/api/v1/cases", json.dumps(report), content_type="application/json",
                              HTTP_IDEMPOTENCY_KEY="report-1", **wang.auth)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    # Cited once: a second report citing them is refused beside the photo, and writes no case.
    again = wang.client.post("/api/v1/cases", json.dumps(report), content_type="application/json", **wang.auth)
    assert again.status_code == 422 and "photos.0" in again.json()["errors"]
    # Another person's handle is the same refusal; an application takes no photos.
    li = Caller("resident_li")
    theirs = li.upload("x.jpg", jpeg())
    refused = wang.client.post("/api/v1/cases", json.dumps({**report, "photos": [theirs]}),
                               content_type="application/json", **wang.auth)
    assert refused.status_code == 422 and "photos.0" in refused.json()["errors"]
    application = {"matter_code": "SENIOR_CARD", "photos": [li.upload("y.jpg", jpeg())]}
    refused = li.client.post("/api/v1/cases", json.dumps(application), content_type="application/json", **li.auth)
    assert refused.status_code == 422 and "photos" in refused.json()["errors"]
    assert Case.objects.count() == 1
