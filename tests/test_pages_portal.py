"""Resident portal pages through Django's test client (the browser tests drive the same pages)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import Case
from yiwang.cases.services import case_act

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64


@pytest.fixture
def wang(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.login(username="resident_wang", password="pw-wang")
    return client


def apply(client, key="k1", **files):
    data = {"f_birth_date": "1950-01-01", "idempotency_key": key,
            "m_id_card": SimpleUploadedFile("id.pdf", PDF), "m_photo": SimpleUploadedFile("me.png", PNG), **files}
    return client.post("/matters/SENIOR_CARD/apply/", data)


@pytest.mark.parametrize("q", ["老年证", "老年證", "lnz", "laonianzheng"])
def test_the_home_search_finds_the_senior_card(client, world, q):
    response = client.get("/", {"q": q})
    assert "老年证办理" in response.content.decode()


def test_the_home_page_groups_matters_by_life_event_and_level(client, world):
    body = client.get("/").content.decode()
    assert "按人生事件" in body and "按办理层级" in body


def test_the_guide_shows_materials_and_time_limit(client, world):
    body = client.get("/matters/SENIOR_CARD/").content.decode()
    assert "一寸照片" in body and "5" in body


def test_applying_needs_a_login(client, world, settings, tmp_path):
    from urllib.parse import parse_qs, urlsplit

    settings.MEDIA_ROOT = tmp_path
    response = client.get("/matters/SENIOR_CARD/apply/")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/"
    assert parse_qs(location.query)["next"] == ["/matters/SENIOR_CARD/apply/"]  # and back to the form after
    assert "一寸照片" not in response.content.decode()  # the form itself is not shown
    # A post without a login files nothing and keeps no file.
    posted = apply(client)
    assert posted.status_code == 302 and urlsplit(posted["Location"]).path == "/login/"
    assert not Case.objects.exists() and not any(tmp_path.rglob("*.*"))


def test_a_resident_applies_with_uploads_and_sees_the_case_number(wang):
    response = apply(wang)
    assert response.status_code == 302
    case = Case.objects.get()
    assert response["Location"] == f"/cases/{case.number}/"
    assert {m["code"] for m in case.materials} == {"id_card", "photo"}
    assert case.materials[0]["sha256"]
    page = wang.get(response["Location"]).content.decode()
    assert case.number in page and "幸福里社区便民服务站" in page


def test_submitting_the_same_form_twice_creates_one_case(wang):
    apply(wang, key="same")
    apply(wang, key="same")
    assert Case.objects.count() == 1


def test_a_file_that_is_not_pdf_or_image_is_refused_by_content(wang):
    response = apply(wang, m_photo=SimpleUploadedFile("photo.png", b"MZ\x90\x00 not an image"))
    assert response.status_code == 200
    assert "不是 PDF、JPEG 或 PNG" in response.content.decode()
    assert Case.objects.count() == 0


def test_a_missing_field_is_shown_beside_it(wang):
    response = wang.post("/matters/SENIOR_CARD/apply/", {"idempotency_key": "x"})
    body = response.content.decode()
    assert "此项为必填项" in body and "缺少必需的材料" in body


def test_the_resident_rates_a_closed_case_on_its_page(wang, world):
    apply(wang)
    case = Case.objects.get()
    for user, action, kw in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                             ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(user), case_id=case.pk, action=action, version=case.version, **kw)
    page = wang.get(f"/cases/{case.number}/").content.decode()
    assert "请评价本次服务" in page
    wang.post(f"/cases/{case.number}/action/", {"action": "rate", "rating": "5", "tags": ["efficiency"]})
    assert case.evaluation.rating == 5
    assert "我的评价" in wang.get(f"/cases/{case.number}/").content.decode()


def test_anyone_finds_a_case_by_number_and_phone(client, wang):
    apply(wang)
    case = Case.objects.get()
    client.logout()
    found = client.get("/lookup/", {"number": case.number, "phone": "13800000001"}).content.decode()
    assert "办理进度" in found
    wrong = client.get("/lookup/", {"number": case.number, "phone": "13900000000"}).content.decode()
    assert "没有找到" in wrong


@pytest.mark.parametrize("lang, text", [("zh-hant", "搜索事項"), ("en", "Search")])
def test_pages_switch_language(client, world, lang, text):
    client.post("/i18n/setlang/", {"language": lang, "next": "/"})
    assert text in client.get("/").content.decode()


def test_every_input_on_the_apply_page_has_a_label(wang):
    import re

    body = wang.get("/matters/SENIOR_CARD/apply/").content.decode()
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', body))
    labelled = set(re.findall(r'<label for="([^"]+)"', body))
    assert ids and ids <= labelled


_ = io
