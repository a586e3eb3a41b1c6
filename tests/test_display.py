"""What every resident's page shares: the maps' base layer, 长辈版, material names and a localised 500."""

import json
import re

import pytest
from django.test import RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from yiwang.core.maps import base_layers
from yiwang.core.security import site_policy, tile_source


def map_base(html: str) -> list:
    return json.loads(re.search(r'<script id="map-base" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_without_a_tile_server_the_maps_have_no_tiles_and_the_grid_outlines_are_served(client, world, settings):
    settings.YIWANG_TILE_URL = settings.YIWANG_TIANDITU_KEY = ""
    assert map_base(client.get("/halls/").content.decode()) == []
    answer = client.get("/maps/outlines.json")
    assert answer.status_code == 200 and "public" in answer["Cache-Control"]
    features = answer.json()["features"]
    assert {f["properties"]["code"] for f in features} >= {"KG-DZ-XFL-G1"} and features[0]["geometry"]["type"] == "Polygon"
    assert client.post("/maps/outlines.json").status_code == 405


def test_tianditu_with_a_key_is_the_base_and_the_csp_allows_its_hosts(settings):
    settings.YIWANG_TILE_URL = ""
    settings.YIWANG_TIANDITU_KEY = "k3y"
    layers = base_layers()
    assert [("LAYER=vec" in x["url"], "LAYER=cva" in x["url"]) for x in layers] == [(True, False), (False, True)]
    assert all(x["url"].startswith("https://t{s}.tianditu.gov.cn/") and x["url"].endswith("tk=k3y") for x in layers)
    assert "https://*.tianditu.gov.cn" in site_policy()["img-src"]


def test_any_xyz_server_wins_over_tianditu(settings, client, world):
    settings.YIWANG_TIANDITU_KEY = "k3y"
    settings.YIWANG_TILE_URL = "https://{s}.tiles.example.gov.cn/{z}/{x}/{y}.png"
    settings.YIWANG_TILE_SUBDOMAINS = "12"
    assert [x["url"] for x in map_base(client.get("/halls/").content.decode())] == [settings.YIWANG_TILE_URL]
    assert base_layers()[0]["subdomains"] == "12"
    assert tile_source(settings.YIWANG_TILE_URL) == "https://*.tiles.example.gov.cn"


def test_care_mode_is_chosen_kept_and_left(client, world):
    assert 'class="portal"' in client.get("/").content.decode()
    answer = client.post("/care/", {"on": "1", "next": "/halls/"})
    assert answer.status_code == 302 and answer["Location"] == "/halls/"
    assert answer.cookies["yiwang_care"]["httponly"]
    page = client.get("/halls/").content.decode()
    assert 'class="portal care"' in page and "标准版" in page
    answer = client.post("/care/", {"on": "0", "next": "/"})
    assert 'class="portal"' in client.get("/").content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_care_mode_never_redirects_off_the_site(client, world, target):
    answer = client.post("/care/", {"on": "1", "next": target})
    assert answer["Location"] == "/"


def test_care_mode_is_not_switched_by_a_get(client, world):
    assert client.get("/care/?on=1").status_code == 405


def test_a_missing_material_is_named_not_coded(client, world):
    client.force_login(world.users["resident_wang"])
    from yiwang.cases.services import case_create
    from yiwang.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                    form={"birth_date": "1950-01-01"}, materials=[{"code": "photo"}])
    assert refused.value.errors["materials"] == ["缺少必需的材料：身份证。"]


@pytest.mark.parametrize("language, text", [("zh-hans", "系统繁忙"), ("zh-hant", "系統繁忙"), ("en", "try again later")])
def test_the_500_page_is_in_the_readers_language(language, text):
    with translation.override(language):
        page = server_error(RequestFactory().get("/")).content.decode()
    assert text in page and "Server Error (500)" not in page


def test_a_traditional_page_shows_stored_catalogue_data_in_traditional(client, world):
    client.cookies["django_language"] = "zh-hant"
    page = client.get("/matters/SENIOR_CARD/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "老年證辦理" in page and "老年证办理" not in page  # the matter's name, as stored
    assert "身份證" in page
    del client.cookies["django_language"]
    simplified = client.get("/matters/SENIOR_CARD/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "老年证办理" in simplified.content.decode()


def test_what_a_reader_typed_is_not_converted_and_the_place_name_is_kept():
    from yiwang.core.script import html_to_traditional

    html = ('<p>西咸新区 老年证</p><input name="q" value="老年证"><textarea name="d">这里发现问题</textarea>'
            "<option value='办理'>办理</option>")
    assert html_to_traditional(html) == ('<p>西咸新區 老年證</p><input name="q" value="老年证">'
                                         '<textarea name="d">这里发现问题</textarea><option value=\'办理\'>辦理</option>')


def test_a_form_without_its_csrf_token_gets_a_page_in_chinese(world):
    from django.test import Client

    answer = Client(enforce_csrf_checks=True).post("/care/", {"on": "1"})
    assert answer.status_code == 403
    text = answer.content.decode()
    assert "页面已过期" in text and "CSRF" not in text and "Forbidden" not in text


def test_too_many_files_get_a_400_page_in_chinese(client, world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    client.force_login(world.users["resident_wang"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = {f"f{i}": SimpleUploadedFile(f"{i}.png", b"x") for i in range(3)}
    answer = client.post("/report/", files)
    assert answer.status_code == 400
    assert "请求有误" in answer.content.decode()
