"""The report page's map works with no tile server: grid outlines drawn, a click places the pin."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_pin_is_placed_on_a_blank_map_with_grid_outlines(page, world, login, shot, settings):
    from yiwang.cases.models import Case

    settings.YIWANG_TILE_URL = ""
    login(page, "resident_wang", next_url="/report/")
    expect(page.locator("path.leaflet-interactive")).to_have_count(4)  # three grid outlines and one community centre (玻璃厂三普东)
    assert page.locator("img.leaflet-tile").count() == 0
    page.locator("#map").click(position={"x": 200, "y": 150})
    expect(page.locator("#lat")).not_to_have_value("")
    shot("01-pin")
    page.get_by_label("问题描述").fill("路口乱停车")
    with page.expect_navigation():
        page.get_by_role("button", name="提交").click()
    case = Case.objects.get()
    assert case.lat is not None and case.kind == "incident"
    shot("02-reported")
