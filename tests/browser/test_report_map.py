"""The report page's map works with no tile server: grid outlines drawn, a click places the pin."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SQUARE = {"type": "Polygon", "coordinates": [[[108.75, 34.43], [108.76, 34.43], [108.76, 34.44],
                                              [108.75, 34.44], [108.75, 34.43]]]}


def test_a_pin_is_placed_on_a_blank_map_with_grid_outlines(page, world, login, shot, settings):
    from yiwang.cases.models import Case
    from yiwang.org.models import Level
    from yiwang.org.services import region_create

    settings.YIWANG_TILE_URL = ""
    region_create(code="KG-DZ-XFL-G1", name="第一网格", level=Level.GRID, parent=world.regions["xfl"], boundary=SQUARE)
    login(page, "resident_wang", next_url="/report/")
    expect(page.locator("path.leaflet-interactive")).to_have_count(1)  # the grid outline
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
