"""A leader on the dashboard: charts and map drawn offline, drill down a region, follow a figure to the
cases behind it, and download them as Excel."""

import re

import openpyxl
import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_act, case_create
from yiwang.feedback.services import evaluation_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser


def some_cases(world):
    admin, clerk = world.viewer("admin"), world.viewer("clerk_xfl")
    for i in range(3):
        case = case_create(viewer=admin, matter_code="SENIOR_CARD", region_code="KG-DZ-XFL", applicant_name="王大爷",
                           applicant_phone="13800000001", **SENIOR_OK).case
        if i:
            case_act(viewer=clerk, case_id=case.pk, action="accept", version=1)
    case_create(viewer=world.viewer("operator_kg"), matter_code="INC_PARKING", region_code="KG-DZ-CJC",
                title="路口乱停车", lat=34.45, lng=108.75, channel="grid")
    case_create(viewer=admin, matter_code="SENIOR_CARD", region_code="QH-WC-SPD", **SENIOR_OK)
    wang = world.viewer("resident_wang")
    rated = case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK).case
    for who, action, kw in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                            ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        rated = case_act(viewer=world.viewer(who), case_id=rated.pk, action=action, version=rated.version, **kw)
    evaluation_create(viewer=wang, case_id=rated.pk, rating=1, tags=["efficiency"], comment="跑了三趟")


def test_a_leader_drills_down_follows_a_figure_and_exports_it(page, world, shot, login, live_server, tmp_path):
    some_cases(world)
    outside, errors = [], []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server.url, "data:")) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    login(page, "leader_kg", next_url="/dashboard/")
    expect(page.get_by_role("heading", name="领导驾驶舱 · 空港新城")).to_be_visible()
    expect(page.locator("#trend-chart[data-drawn] canvas")).to_have_count(1)  # ECharts drew, from /static/
    expect(page.locator("#state-chart[data-drawn] canvas")).to_have_count(1)
    expect(page.locator("#map .leaflet-interactive")).not_to_have_count(0)  # markers without any tiles
    expect(page.locator("#region-table")).not_to_contain_text("秦汉新城")
    shot("dashboard-kongang")

    page.locator("#region-table").get_by_role("link", name="底张街道").click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?region=KG-DZ$"))
    expect(page.get_by_role("heading", name="领导驾驶舱 · 底张街道")).to_be_visible()
    expect(page.locator("nav.crumbs").get_by_role("link", name="空港新城")).to_be_visible()
    shot("dashboard-dizhang")

    open_figure = page.locator('#kpis a[data-figure="open"]')
    shown = int(open_figure.locator("b").inner_text())
    assert shown == 5  # three applications, the incident and the follow-up of the bad review
    open_figure.click()
    expect(page).to_have_url(re.compile(r"/dashboard/cases/\?region=KG-DZ&open=1$"))
    expect(page.locator("#total")).to_have_attribute("data-total", str(shown))
    expect(page.locator("#case-table tbody tr")).to_have_count(shown)
    shot("open-cases")

    with page.expect_download() as info:
        page.get_by_role("link", name="导出 Excel").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
    assert rows[0][0] == "办件编号" and rows[0][11] == "联系电话" and rows[0][-1] == "评价意见"
    assert len(rows) - 1 == shown
    assert {row[11] for row in rows[1:]} == {"138****0001", None}  # the incident has no phone

    # From the satisfaction figures to the bad reviews behind them, with the rating and its tags.
    page.goto(f"{live_server.url}/dashboard/?region=KG-DZ")
    bad = page.locator('#kpis a[data-figure="bad_reviews"]')
    expect(bad.locator("b")).to_have_text("1")
    bad.click()
    expect(page).to_have_url(re.compile(r"/dashboard/cases/\?region=KG-DZ&rating=bad$"))
    expect(page.locator("#case-table tbody tr")).to_have_count(1)
    expect(page.locator("#case-table td.rating")).to_contain_text("非常不满意")
    expect(page.locator("#case-table td.rating")).to_contain_text("办事效率")
    shot("bad-reviews")

    assert not outside, f"the dashboard reached outside the server: {outside}"
    assert not errors, errors


def test_a_title_with_markup_is_shown_as_text_on_the_map(page, world, login):
    from yiwang.cases.services import case_create

    case_create(viewer=world.viewer("admin"), matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                title='<img src=x onerror="window.pwned=1">占道', lat=34.45, lng=108.75)
    # A town's map draws each open incident with its title (a new city's counts them per community).
    login(page, "leader_kg", next_url="/dashboard/?region=KG-DZ")
    page.wait_for_function("() => document.querySelector('.leaflet-interactive') !== null")
    page.evaluate("""() => { for (const el of document.querySelectorAll('.leaflet-interactive'))
                               el.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); }""")
    page.wait_for_function("() => [...document.querySelectorAll('.leaflet-tooltip')].some(t => t.textContent.includes('<img'))")
    assert page.evaluate("() => window.pwned") is None


def test_on_a_phone_the_new_city_map_counts_incidents_per_community_and_a_circle_opens_them(new_page, world, shot,
                                                                                             login):
    """A new city's map draws one circle per community (not each incident); its link lists that
    community's open incidents. At 390 px nothing scrolls sideways."""
    some_cases(world)
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(phone, "leader_kg", next_url="/dashboard/")
    circles = phone.locator("#map path.leaflet-interactive:not(.map-outline)")
    expect(circles).not_to_have_count(0)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("dashboard-phone-clusters", phone)
    config = phone.evaluate("JSON.parse(document.getElementById('map-data').textContent)")
    assert config["clustered"] and config["incidents"] == 1
    cluster = next(p for p in config["points"] if "kind=incident" in p["href"])
    phone.goto(cluster["href"])
    expect(phone.locator("main")).to_contain_text("路口乱停车")
    expect(phone.locator("main")).not_to_contain_text("王大爷")  # the applications elsewhere in 空港 are not in it


def test_on_a_phone_a_leader_reads_a_month_by_unit_and_opens_the_cases_behind_a_number(new_page, world, shot,
                                                                                     login):
    """/dashboard/?month=…: the month's table by unit (received = held first) on a 390 px phone, and a
    unit's received number opens exactly that many cases of that month."""
    from yiwang.core import clock

    some_cases(world)
    month = clock.today().strftime("%Y-%m")
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(phone, "leader_kg", next_url=f"/dashboard/?region=KG&month={month}")
    station = phone.locator('#month-unit-table tr[data-unit="KG-DZ-XFL-SH"]')
    expect(station).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    received = station.locator('[data-figure="received"]')
    count = int(received.text_content())
    assert count >= 3  # the station took the three applications some_cases() made for 幸福里
    shot("dashboard-month-units-phone", phone)
    received.click()
    expect(phone.locator("#total")).to_have_attribute("data-total", str(count))
    assert month in phone.url and "received=1" in phone.url
