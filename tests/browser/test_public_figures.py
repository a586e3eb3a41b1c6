"""An outsider on a 390 px phone reads the public figures, drills down to a community, opens the map of
incidents, and an operator hides a report from that map on the workbench (docs/public-figures.md)."""

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_create

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SECRET = "欧阳秘密 13912345678"


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_an_outsider_reads_the_figures_and_the_map_and_an_operator_hides_a_report(new_page, world, login, shot,
                                                                                   settings):
    settings.YIWANG_TILE_URL = settings.YIWANG_TIANDITU_KEY = ""
    case = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.405123,
                       lng=108.705678, title=SECRET, description=SECRET, channel="grid").case
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/open/")
    expect(page.locator('[data-figure="received"] b')).to_have_text("1")
    assert fits(page), "/open/ scrolls sideways at 390 px"
    page.locator("#region-table").get_by_role("link", name="空港新城").click()
    page.locator("#region-table").get_by_role("link", name="底张街道").click()
    page.locator("#region-table").get_by_role("link", name="幸福里社区").click()
    expect(page.locator("h1")).to_contain_text("幸福里社区")
    expect(page.locator('[data-figure="received"] b')).to_have_text("1")
    shot("figures-community-phone", of=page)
    page.get_by_role("button", name="长辈版").click()  # site-wide CSS: the figures stay readable
    expect(page.locator("body")).to_have_class("portal care")
    assert fits(page), "/open/ in 长辈版 scrolls sideways at 390 px"

    page.goto("/open/map/")
    expect(page.locator("#map path.leaflet-interactive:not(.map-outline)").first).to_be_visible()  # a report, not a base outline
    expect(page.locator("#incident-list li")).to_have_count(1)
    expect(page.locator("#incident-list")).to_contain_text("乱停车")
    assert SECRET.split()[0] not in page.content() and "13912345678" not in page.content()
    assert fits(page), "/open/map/ scrolls sideways at 390 px"
    shot("map-phone", of=page)

    staff = new_page()
    login(staff, "operator_kg", f"/work/cases/{case.number}/")
    staff.goto(f"/work/cases/{case.number}/")
    box = staff.locator("#public-moderation")
    box.get_by_label("不在公开地图上显示").check()
    box.get_by_role("button", name="保存").click()
    expect(staff.locator("#public-moderation")).to_contain_text("此事件不在公开地图上显示")
    staff.locator("#public-moderation summary").click()
    expect(staff.locator("#public-moderation .public-log")).to_contain_text("operator_kg")
    shot("moderation", of=staff)

    page.goto("/open/map/")
    expect(page.locator("#incident-list li")).to_have_text("—")


def _outlines_on_screen(page) -> int:
    """How many of the map's grid outlines are at least partly inside the map's box."""
    return page.evaluate("""() => {
        const map = document.querySelector('#map').getBoundingClientRect();
        return [...document.querySelectorAll('#map path.map-outline')].filter(p => {
            const r = p.getBoundingClientRect();
            return r.right > map.left && r.left < map.right && r.bottom > map.top && r.top < map.bottom;
        }).length;
    }""")


def test_a_phone_map_cannot_be_dragged_away_from_the_district(new_page, world, settings):
    settings.YIWANG_TILE_URL = settings.YIWANG_TIANDITU_KEY = ""
    # org.district's south,west,north,east: around the test world's three grids
    settings.YIWANG_MAP_BOUNDS = "34.40,108.70,34.41,108.75"
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/open/map/")
    expect(page.locator("#map path.map-outline").first).to_be_attached()
    assert _outlines_on_screen(page) > 0
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for _ in range(8):  # 2,400 px east: without the bounds every outline leaves the screen
        page.mouse.move(x + 150, y)
        page.mouse.down()
        page.mouse.move(x - 150, y, steps=5)
        page.mouse.up()
    page.wait_for_timeout(300)  # Leaflet eases the map back inside its bounds
    assert _outlines_on_screen(page) > 0
