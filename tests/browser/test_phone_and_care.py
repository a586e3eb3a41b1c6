"""A resident on a 360 px phone: a compact header with 44 px targets, no page wider than the screen,
maps with the grid outlines as their base when no tiles are configured, and 长辈版."""

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
PAGES = ["/", "/matters/SENIOR_CARD/", "/report/", "/lookup/", "/halls/", "/login/", "/signup/", "/me/cases/"]


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_every_residents_page_fits_a_phone_with_a_compact_header(new_page, world, login, shot, settings):
    settings.YIWANG_TILE_URL = settings.YIWANG_TIANDITU_KEY = ""
    for _ in range(3):
        case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK)
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, "resident_wang")
    for url in PAGES:
        page.goto(url)
        assert fits(page), f"{url} scrolls sideways at 360 px"
        header = page.locator("header.top").bounding_box()
        assert header["height"] <= 0.2 * PHONE["height"], f"{url}: the header takes {header['height']} px"
        for link in page.locator("header.top nav a").all()[:3]:
            assert link.bounding_box()["height"] >= 44, f"{url}: a menu link under 44 px"
    shot("my-cases-phone", of=page)
    page.goto("/halls/")
    # No tile server: the grid outlines are drawn under the halls.
    expect(page.locator("#map path.leaflet-interactive")).not_to_have_count(0)
    shot("halls-outlines", of=page)


def test_care_mode_makes_the_text_larger_and_stays_on(new_page, world, shot):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/matters/SENIOR_CARD/")
    size = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    page.get_by_role("button", name="长辈版").click()
    expect(page.locator("body")).to_have_class("portal care")
    assert page.url.endswith("/matters/SENIOR_CARD/")
    bigger = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert bigger >= 20 and bigger > size
    assert fits(page)
    page.goto("/")
    expect(page.locator("body")).to_have_class("portal care")
    shot("home-care", of=page)
    page.get_by_role("button", name="标准版").click()
    expect(page.locator("body")).to_have_class("portal")


SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main button, main .button, main select, main input:not([type=hidden]):not([type=radio]):not([type=checkbox])')]
    .filter(el => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
    .map(el => (el.name || el.textContent || el.type).trim().slice(0, 20))"""


def test_staff_on_a_phone_get_44_px_targets_too(new_page, world, login, settings):
    # The grid worker reports from the street and the handler acts on a case from a phone: the same tap
    # targets as residents get (WCAG 2.5.5), not the desktop workbench's 40 px.
    settings.YIWANG_TILE_URL = settings.YIWANG_TIANDITU_KEY = ""
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, "gridder_xfl")
    page.goto("/grid/KG-DZ-XFL-G1/")
    expect(page.locator("main form button").first).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == [], "/grid/KG-DZ-XFL-G1/ at 360 px"
    assert fits(page)
    clerk = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(clerk, "clerk_xfl")
    for url in ("/work/", f"/work/cases/{case.number}/"):
        clerk.goto(url)
        assert clerk.evaluate(SMALL_TARGETS) == [], f"{url} at 360 px"
