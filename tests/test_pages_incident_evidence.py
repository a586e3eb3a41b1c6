"""An incident's evidence on the pages: up to 9 re-encoded photos per report and per handling or
verification step, thumbnails, the map for the handling unit, photos served only to those who may see
the case; and the reporter's 已解决吗？ on their case page and through the SMS link."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.cases.services.confirmation import confirmation_token
from yiwang.cases.tests.photos import gps_jpeg, jpeg

pytestmark = pytest.mark.django_db
PIN = {"lat": "34.4051", "lng": "108.7052"}


def png_with_alpha() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (40, 40), (255, 0, 0, 128)).save(out, "PNG")
    return out.getvalue()


def photo(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def signed_in(world, username: str) -> Client:
    client = Client()
    client.force_login(world.users[username])
    return client


def report(client, photos, **extra):
    return client.post("/report/", {"category": "INC_PARKING", "region_code": "KG-DZ-XFL", "description": "楼下乱停车",
                                    **PIN, "photos": photos, **extra})


def step(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


@pytest.fixture
def reported(world):
    """Wang's report with 3 photos, dispatched to 底张街道综合执法队 and acknowledged there."""
    response = report(signed_in(world, "resident_wang"),
                      [photo("a.jpg", gps_jpeg()), photo("b.png", png_with_alpha()), photo("c.jpg", jpeg())])
    assert response.status_code == 302, response.content.decode()[:500]
    case = Case.objects.get()
    step(world, "operator_kg", case, "register")
    step(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    return step(world, "handler_en", case, "acknowledge")


def handle_on_the_workbench(world, case, photos):
    handler = signed_in(world, "handler_en")
    return handler.post(f"/work/cases/{case.number}/act/handle/",
                        {"version": Case.objects.get(pk=case.pk).version, "result": "已拖移车辆", "photos": photos},
                        HTTP_HX_REQUEST="true")


def test_a_report_keeps_three_photos_as_pixels_only_with_thumbnails(reported, settings):
    photos = reported.materials
    assert [p["code"] for p in photos] == ["photo"] * 3
    assert (reported.lat, reported.lng) == (34.4051, 108.7052)  # the place is the pin, not the file's GPS
    for entry in photos:
        with Image.open(settings.MEDIA_ROOT / entry["reference"]) as stored:
            assert stored.format == "JPEG" and not stored.getexif()
            assert set(stored.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "progressive",
                                        "progression", "dpi"}
        with Image.open(settings.MEDIA_ROOT / entry["thumbnail"]) as thumb:
            assert max(thumb.size) <= 320
    raw = (settings.MEDIA_ROOT / photos[0]["reference"]).read_bytes()
    assert b"SpyPhone" not in raw and b"SERIAL" not in raw and b"=1+1" not in raw
    with Image.open(settings.MEDIA_ROOT / photos[1]["reference"]) as flattened:
        assert flattened.getpixel((20, 20))[1] > 100  # half-transparent red laid on white, not on black


def test_a_tenth_photo_a_non_image_and_a_decompression_bomb_are_refused_by_field(world, settings):
    client = signed_in(world, "resident_wang")
    response = report(client, [photo(f"p{i}.jpg", jpeg(size=(8, 8 + i))) for i in range(10)])
    assert "最多上传 9 张照片" in response.content.decode()
    response = report(client, [photo("ok.jpg", jpeg()), photo("x.jpg", b"\xff\xd8\xff\xe0<script>alert(1)</script>")])
    assert "x.jpg 已损坏或不是有效的图片" in response.content.decode()
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000)).save(bomb, "PNG")  # 144 megapixels in a few kilobytes
    response = report(client, [SimpleUploadedFile("bomb.png", bomb.getvalue(), content_type="image/png")])
    assert "bomb.png 像素过多" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert not Case.objects.exists()


def test_the_handler_sees_the_map_and_photos_and_handles_with_after_photos(reported, world):
    response = handle_on_the_workbench(world, reported, [photo("after1.jpg", jpeg("white")),
                                                          photo("after2.jpg", jpeg("black"))])
    assert response.status_code == 200 and 'class="field-error"' not in response.content.decode()
    case = Case.objects.get(pk=reported.pk)
    handle = case.events.get(action="handle")
    assert [p["filename"] for p in handle.payload["photos"]] == ["after1.jpg", "after2.jpg"]
    body = signed_in(world, "operator_kg").get(f"/work/cases/{case.number}/").content.decode()
    assert 'id="evidence-map"' in body and "data-map-json" in body and "34.405100, 108.705200" in body
    assert body.count(f"/cases/{case.number}/photos/1/") == 6  # 3 before: link and thumbnail each
    assert body.count(f"/cases/{case.number}/photos/{handle.seq}/") == 4  # 2 after


def test_photos_on_a_step_that_takes_none_are_refused_by_field(reported, world):
    case = Case.objects.get(pk=reported.pk)
    response = signed_in(world, "handler_en").post(
        f"/work/cases/{case.number}/act/claim/", {"version": case.version, "photos": [photo("a.jpg", jpeg())]},
        HTTP_HX_REQUEST="true")
    assert "“认领”不能附照片" in response.content.decode()
    assert Case.objects.get(pk=case.pk).version == case.version


def test_photos_are_served_only_to_those_who_may_see_the_case(reported, world):
    handle_on_the_workbench(world, reported, [photo("after.jpg", jpeg("white"))])
    case = Case.objects.get(pk=reported.pk)
    step(world, "operator_kg", case, "verify", photos=[photo("check.jpg", jpeg("blue"))])
    handle_seq = case.events.get(action="handle").seq
    verify_seq = case.events.get(action="verify").seq
    operator, wang = signed_in(world, "operator_kg"), signed_in(world, "resident_wang")
    full = operator.get(f"/cases/{case.number}/photos/1/0/")
    thumb = operator.get(f"/cases/{case.number}/photos/1/0/?size=thumb")
    assert full.status_code == thumb.status_code == 200 and full["Content-Type"] == "image/jpeg"
    assert len(b"".join(thumb.streaming_content)) < len(b"".join(full.streaming_content))
    assert "private" in full["Cache-Control"]
    assert operator.get(f"/cases/{case.number}/photos/{verify_seq}/0/").status_code == 200
    # The reporter sees their report's photos and the handling's after photos, not the centre's check.
    assert wang.get(f"/cases/{case.number}/photos/1/2/").status_code == 200
    assert wang.get(f"/cases/{case.number}/photos/{handle_seq}/0/").status_code == 200
    assert wang.get(f"/cases/{case.number}/photos/{verify_seq}/0/").status_code == 404
    # Guessed steps and indexes, another resident, staff of the neighbouring community, anonymous.
    for seq, index in [(1, 3), (1, 99), (2, 0), (handle_seq, 1), (999, 0)]:
        assert operator.get(f"/cases/{case.number}/photos/{seq}/{index}/").status_code == 404
    for username in ("resident_li", "secretary_cjc", "clerk_spd"):
        assert signed_in(world, username).get(f"/cases/{case.number}/photos/1/0/").status_code == 404
    assert Client().get(f"/cases/{case.number}/photos/1/0/").status_code == 302  # to the login page
    # A resident's API token opens no photo: files are served to pages only.
    from yiwang.org.services import token_create

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token_create(username='resident_li')}"}
    assert Client().get(f"/cases/{case.number}/photos/1/0/", **bearer).status_code in (302, 404)


def verified_and_asked(world, case):
    step(world, "handler_en", case, "handle", result="已拖移车辆")
    step(world, "operator_kg", case, "verify")
    return step(world, "operator_kg", case, "ask_confirmation")


def test_the_reporter_answers_on_their_case_page(reported, world):
    case = verified_and_asked(world, reported)
    wang = signed_in(world, "resident_wang")
    body = wang.get(f"/cases/{case.number}/").content.decode()
    assert "已解决吗？" in body and 'value="not_resolved"' in body
    assert "已解决吗？" not in signed_in(world, "operator_kg").get(f"/cases/{case.number}/").content.decode()
    hostile = "=1+1 <script>alert(1)</script> 61040219500101123X"
    response = wang.post(f"/cases/{case.number}/action/", {"action": "not_resolved", "comment": hostile})
    assert response.status_code == 302
    case = Case.objects.get(pk=case.pk)
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    body = wang.get(f"/cases/{case.number}/").content.decode()
    assert "<script>alert(1)</script>" not in body and "61040219500101123X" not in body
    # Asked again after the rework: another resident posting an answer changes nothing.
    step(world, "handler_en", case, "acknowledge")
    verified_and_asked(world, case)
    signed_in(world, "resident_li").post(f"/cases/{case.number}/action/", {"action": "confirm"})
    assert Case.objects.get(pk=case.pk).state == "confirming"
    wang.post(f"/cases/{case.number}/action/", {"action": "confirm"})
    assert Case.objects.get(pk=case.pk).state == "closed"
    assert "问题又出现了？" in wang.get(f"/cases/{case.number}/").content.decode()


def test_the_sms_link_lets_a_reporter_without_an_account_answer(reported, world):
    case = verified_and_asked(world, reported)
    token = confirmation_token(case)
    anonymous = Client()
    page = anonymous.get(f"/cases/{case.number}/answer/{token}/")
    assert page.status_code == 200 and "已解决吗？" in page.content.decode() and "已拖移车辆" in page.content.decode()
    assert anonymous.get(f"/cases/{case.number}/answer/{token}/photos/1/0/?size=thumb").status_code == 200
    # A forged or altered link, or one for another case, finds nothing.
    assert anonymous.get(f"/cases/{case.number}/answer/{token[:-3]}abc/").status_code == 404
    assert anonymous.get(f"/cases/YW2026010100000099/answer/{token}/").status_code == 404
    response = anonymous.post(f"/cases/{case.number}/answer/{token}/", {"action": "confirm"})
    assert response.status_code == 303
    case = Case.objects.get(pk=case.pk)
    assert case.state == "closed" and case.events.order_by("-seq").first().payload["via"] == "link"
    assert "问题又出现了？" in anonymous.get(f"/cases/{case.number}/answer/{token}/").content.decode()
    refused = anonymous.post(f"/cases/{case.number}/answer/{token}/", {"action": "reopen", "comment": ""})
    assert refused.status_code == 422 and "请说明问题哪里仍未解决" in refused.content.decode()


def test_the_answer_page_masks_id_numbers_and_escapes_hostile_text(world):
    number = "61040219500101123X"
    hostile = f"<script>alert(1)</script> =1+1 {number}"
    from yiwang.cases.services import case_create

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title=f"车主 {number}", description=hostile, channel="online").case
    step(world, "operator_kg", case, "register")
    step(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    step(world, "handler_en", case, "acknowledge")
    verified_and_asked(world, Case.objects.get(pk=case.pk))
    Case.objects.filter(pk=case.pk).update(result=hostile)  # as if the handler had typed it
    body = Client().get(f"/cases/{case.number}/answer/{confirmation_token(case)}/").content.decode()
    assert "已解决吗？" in body and number not in body and "<script>alert(1)</script>" not in body


def test_the_command_board_shows_a_reports_first_photo(world):
    report(signed_in(world, "resident_wang"), [photo("a.jpg", jpeg("red")), photo("b.jpg", jpeg("blue"))])
    case = Case.objects.get()
    operator = signed_in(world, "operator_kg")
    body = operator.get("/command/").content.decode()
    thumb = f"/cases/{case.number}/photos/1/0/?size=thumb"
    assert thumb in body and 'alt="现场照片 2 张"' in body
    assert operator.get(thumb).status_code == 200
