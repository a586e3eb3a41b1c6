"""Uploads are judged by their content and held to a size before they are kept; anything too big is
a 4xx naming the field (or a 413), never a 500."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory

from yiwang.cases.attachments import MAX_UPLOAD_BYTES
from yiwang.cases.models import Case
from yiwang.core.security import FileSizeLimitUploadHandler

HTML = b"<!doctype html><script>alert(document.cookie)</script>"

def _real_jpeg() -> bytes:
    # A photo that decodes: reports keep only re-encoded pixels (cases.attachments.photos_store).
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(out, "JPEG")
    return out.getvalue()


JPEG = _real_jpeg()
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def resident(world):
    client = Client()
    client.force_login(world.users["resident_wang"])
    return client


def report(client, photo):
    return client.post("/report/", {"category": "INC_PARKING", "region_code": "KG-DZ-XFL", "description": "乱停车",
                                    "lat": "34.405", "lng": "108.705", "photo": photo})


def test_a_page_refuses_html_named_jpg(resident, settings):
    response = report(resident, SimpleUploadedFile("photo.jpg", HTML, content_type="image/jpeg"))
    assert response.status_code == 422
    assert "photo.jpg 不是 JPEG 或 PNG" in response.content.decode()
    assert not Case.objects.exists() and not stored_files(settings)


def test_an_application_refuses_html_named_pdf(resident, settings):
    response = resident.post("/matters/SENIOR_CARD/apply/", {
        "f_birth_date": "1950-01-01", "region_code": "KG-DZ-XFL",
        "m_id_card": SimpleUploadedFile("id.pdf", HTML, content_type="application/pdf"),
        "m_photo": SimpleUploadedFile("photo.jpg", JPEG, content_type="image/jpeg")})
    assert response.status_code == 200
    assert "id.pdf 不是 PDF、JPEG 或 PNG" in response.content.decode()
    assert not Case.objects.exists() and not stored_files(settings)


def test_a_real_photo_is_kept_by_its_content_not_its_name(resident, settings):
    response = report(resident, SimpleUploadedFile("photo.gif", JPEG, content_type="image/gif"))
    assert response.status_code == 302
    photo = Case.objects.get().materials[0]
    assert photo["content_type"] == "image/jpeg" and photo["reference"].endswith(".jpg")


def test_a_page_refuses_an_oversized_photo_naming_it(resident, settings):
    big = JPEG + b"\x00" * MAX_UPLOAD_BYTES
    response = report(resident, SimpleUploadedFile("big.jpg", big, content_type="image/jpeg"))
    assert response.status_code == 422
    assert "big.jpg 超过 5 MB" in response.content.decode()
    assert not Case.objects.exists() and not stored_files(settings)


def test_a_file_beyond_any_form_is_dropped_while_it_arrives(settings):
    """The upload handler keeps YIWANG_MAX_FILE_BYTES and one chunk, so the size checks still see it is too big."""
    settings.YIWANG_MAX_FILE_BYTES = 1024 * 1024
    body = JPEG + b"\x00" * (5 * 1024 * 1024)
    request = RequestFactory().post("/", {"photo": SimpleUploadedFile("big.jpg", body, content_type="image/jpeg")})
    upload = request.FILES["photo"]
    assert 1024 * 1024 < upload.size <= 1024 * 1024 + FileSizeLimitUploadHandler.chunk_size
    assert upload.read(3) == b"\xff\xd8\xff"


def test_the_upload_handler_keeps_enough_of_a_file_for_every_size_check(settings):
    from yiwang.grid.imports import MAX_FILE_BYTES

    assert max(MAX_UPLOAD_BYTES, MAX_FILE_BYTES) <= settings.YIWANG_MAX_FILE_BYTES
    assert settings.FILE_UPLOAD_HANDLERS[0] == "yiwang.core.security.FileSizeLimitUploadHandler"
    assert settings.YIWANG_MAX_REQUEST_BYTES >= 5 * MAX_UPLOAD_BYTES  # five ledger evidence files


def test_a_request_beyond_the_limit_is_a_413_before_it_is_read(resident, settings):
    settings.YIWANG_MAX_REQUEST_BYTES = 1024 * 1024
    response = report(resident, SimpleUploadedFile("big.jpg", JPEG + b"\x00" * (2 * 1024 * 1024)))
    assert response.status_code == 413
    assert "不能超过 1 MB" in response.content.decode()
    assert not Case.objects.exists()


def test_an_api_request_beyond_the_limit_is_a_413_in_the_apis_format(api, settings):
    settings.YIWANG_MAX_REQUEST_BYTES = 1024 * 1024
    response = api("post", "/cases", "clerk_xfl", {"matter_code": "SENIOR_CARD", "description": "x" * 2_000_000})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_json_body_beyond_data_upload_max_memory_size_is_a_413(api, settings):
    response = api("post", "/cases", "clerk_xfl",
                   {"matter_code": "SENIOR_CARD", "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def violation(api, photo: str):
    return api("post", "/parking/violations", "operator_kg",
               {"plate": "陕A12345", "lat": 34.405, "lng": 108.705, "source": "patrol", "photo": photo})


def test_the_api_refuses_html_sent_as_a_base64_photo(api, settings):
    response = violation(api, "data:image/jpeg;base64," + base64.b64encode(HTML).decode())
    assert response.status_code == 422
    assert "photo" in response.json()["errors"]
    assert not stored_files(settings)


def test_the_api_refuses_a_base64_photo_over_5_mb_naming_the_field(api, settings):
    photo = base64.b64encode(JPEG + b"\x00" * MAX_UPLOAD_BYTES).decode()
    assert len(photo) < 7_000_000  # within the field's length: the decoded size is what refuses it
    response = violation(api, photo)
    assert response.status_code == 422
    assert "超过 5 MB" in response.json()["errors"]["photo"][0]
    assert not stored_files(settings)


def test_the_api_refuses_an_overlong_base64_field_by_its_length(api):
    response = violation(api, "A" * 7_000_004)
    assert response.status_code == 422
    assert "photo" in response.json()["errors"]


def test_the_api_takes_a_photo_up_to_5_mb(api, settings):
    photo = base64.b64encode(JPEG + b"\x00" * (MAX_UPLOAD_BYTES - len(JPEG))).decode()
    response = violation(api, photo)
    assert response.status_code == 201, response.content[:300]
    # Re-encoded from its pixels (cases.attachments.photos_store): the photo and its thumbnail.
    assert sorted(p.name.split(".", 1)[1] for p in stored_files(settings)) == ["jpg", "thumb.jpg"]


def test_the_patrol_api_refuses_html_as_its_photo(api, world, settings):
    # A check-in patrol of the grid worker's own grid, so that the finding reaches the photo check.
    log = api("post", "/patrol/logs", "gridder_xfl", {"lat": 34.405, "lng": 108.705})
    assert log.status_code == 201, log.content
    response = api("post", f"/patrol/logs/{log.json()['id']}/findings", "gridder_xfl",
                   {"description": "路灯坏了", "category": "INC_THEFT", "lat": 34.405, "lng": 108.705,
                    "photo_base64": base64.b64encode(HTML).decode()})
    assert response.status_code == 422, response.content
    assert "photo" in response.json()["errors"]
    assert not Case.objects.exists() and not stored_files(settings)


def import_file(client, token, name: str, data: bytes):
    return client.post("/api/v1/grids/imports", {"kind": "residents", "file": SimpleUploadedFile(name, data)},
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_grid_import_beyond_10_mb_is_refused_naming_the_file(world, client):
    from yiwang.org.services import token_create

    token = token_create(username="gridder_xfl")
    csv = "网格编码,姓名\n".encode() + b"KG-DZ-XFL-G1,x\n" * (11 * 1024 * 1024 // 15)
    response = import_file(client, token, "people.csv", csv)
    assert response.status_code == 422
    assert response.json()["errors"]["file"] == ["文件超过 10 MB，请分批导入。"]


def test_a_grid_import_that_is_not_a_table_is_refused(world, client):
    from yiwang.org.services import token_create

    token = token_create(username="gridder_xfl")
    response = import_file(client, token, "people.xlsx", b"PK\x03\x04 not really a workbook")
    assert response.status_code == 422
    assert "file" in response.json()["errors"]


def test_too_many_files_in_one_request_is_a_400_not_a_500(resident, settings):
    files = {f"m_{i}": SimpleUploadedFile(f"{i}.jpg", JPEG) for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)}
    response = resident.post("/matters/SENIOR_CARD/apply/", {"f_birth_date": "1950-01-01", **files})
    assert response.status_code == 400
    assert not Case.objects.exists() and not stored_files(settings)

