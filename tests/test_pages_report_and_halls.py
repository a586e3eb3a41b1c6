"""Reporting a problem with a map pin and a photo; finding the nearest service hall."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import Case
from yiwang.org.models import Region, Unit


def _real_jpeg() -> bytes:
    # A photo that decodes: reports keep only re-encoded pixels (cases.attachments.photos_store).
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(out, "JPEG")
    return out.getvalue()


JPEG = _real_jpeg()


@pytest.fixture
def wang(client, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.login(username="resident_wang", password="pw-wang")
    return client


def test_a_resident_reports_a_problem_that_becomes_a_routed_incident(wang, world):
    response = wang.post("/report/", {
        "category": "INC_PARKING", "description": "学校门口乱停车", "region_code": "KG-DZ-XFL",
        "lat": "34.4301", "lng": "108.7512", "photo": SimpleUploadedFile("p.jpg", JPEG), "idempotency_key": "r1",
    })
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.kind == "incident" and case.holder_unit_id == world.units["kg_cc"].id
    assert (case.lat, case.lng) == (34.4301, 108.7512)
    assert case.materials[0]["content_type"] == "image/jpeg"


def test_the_report_page_works_without_map_tiles(wang, settings):
    settings.YIWANG_TILE_URL = ""
    body = wang.get("/report/").content.decode()
    # No tiles: the page's base is empty and map.js draws the grid outlines (yiwang.core.maps).
    assert 'data-map-config="map-config"' in body and '<script id="map-base" type="application/json">[]</script>' in body


def test_an_impossible_pin_is_refused_naming_the_location(wang):
    response = wang.post("/report/", {"category": "INC_PARKING", "description": "x", "region_code": "KG-DZ-XFL",
                                      "lat": "123", "lng": "108"})
    assert response.status_code == 422 and "地图位置无效" in response.content.decode()
    assert Case.objects.count() == 0


def test_halls_are_listed_nearest_first_from_a_community(client, world):
    Region.objects.filter(code="QH-WC-SPD").update(lat=34.36, lng=108.72)
    Unit.objects.filter(code="QH-WC-SPD-SH").update(lat=34.361, lng=108.721, address="三普东路 1 号")
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(lat=34.45, lng=108.80)
    body = client.get("/halls/", {"near": "QH-WC-SPD"}).content.decode()
    assert body.index("玻璃厂三普东社区便民服务站") < body.index("幸福里社区便民服务站")
    assert "老年证办理" in body  # a community hall handles the senior card


def test_the_report_map_carries_the_grid_outlines(wang, world):
    body = wang.get("/report/").content.decode()
    outlines = body[body.index('"outlines": '):]
    assert outlines.count('"type": "Feature"') == 3
    assert '"name": "\\u5e78\\u798f\\u91cc\\u7b2c\\u4e00\\u7f51\\u683c"' in outlines  # 幸福里第一网格
