"""Every role's main pages run under the Content-Security-Policy (no 'unsafe-inline', no 'unsafe-eval'):
no violation is reported and no script fails, while the pages' scripts really run (maps, charts, htmx)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_leader import some_cases
from tests.browser.test_ledger import _ledger_with_one_item_waiting
from tests.browser.test_parking import seed as parking_seed
from tests.browser.test_party import members as party_members
from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser

# Runs before any page script, outside the page's CSP (Playwright injects it over CDP).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolation([e.violatedDirective, e.blockedURI, e.sourceFile + ":" + e.lineNumber,
                         e.sample].join(" | "));
});
"""


class Watch:
    """Collects CSP violations (event and console) and uncaught script errors on a page."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        self.visited: list[str] = []
        page.expose_function("__cspViolation", lambda text: self.problems.append(f"{page.url}: violation {text}"))
        page.add_init_script(REPORT_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: script error {error}"))

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"{self.page.url}: console {message.type} {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "unsafe" not in policy, f"{path}: CSP is {policy!r}"
        self.page.wait_for_load_state("networkidle")
        self.visited.append(path)

    def check(self) -> None:
        self.page.wait_for_timeout(200)  # late violation reports (they are queued as tasks)
        assert not self.problems, "\n".join(self.problems)


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("pw-" + username.removeprefix("resident_"))
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    assert "/login/" not in page.url, f"login as {username} failed"


def as_user(new_page, username: str | None) -> Watch:
    watch = Watch(new_page())
    if username:
        sign_in(watch.page, username)
    return watch


def test_the_public_pages_run_under_the_policy(new_page, world):
    watch = as_user(new_page, None)
    for path in ("/", "/?q=老年证", "/matters/SENIOR_CARD/", "/lookup/", "/halls/", "/login/"):
        watch.visit(path)
    watch.check()


def test_a_residents_pages_run_under_the_policy(new_page, world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    watch = as_user(new_page, "resident_wang")
    watch.visit("/matters/SENIOR_CARD/apply/")
    watch.visit("/report/")
    page = watch.page
    page.locator("#map").click(position={"x": 200, "y": 150})  # Leaflet drops a marker where clicked
    expect(page.locator("#lat")).not_to_have_value("")
    watch.visit(f"/cases/{case.number}/")
    watch.visit("/me/cases/")
    watch.check()


def test_the_workbench_and_its_htmx_panel_run_under_the_policy(new_page, world):
    case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       applicant_name="王大爷", applicant_phone="13800000001", **SENIOR_OK).case
    watch = as_user(new_page, "clerk_xfl")
    page = watch.page
    watch.visit("/work/")
    watch.visit(f"/work/cases/{case.number}/")
    page.wait_for_function("() => window.htmx !== undefined")
    page.evaluate("() => { window.__sameDocument = true }")
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{case.number}/act/accept/")):
        page.locator("#panel form").filter(has=page.get_by_role("button", name="受理", exact=True)) \
            .get_by_role("button").click()
    expect(page.locator("#panel .badge").first).to_have_text("已受理")
    assert page.evaluate("() => window.__sameDocument") is True, "htmx did not swap the panel"
    # web/work.js (which replaced an inline hx-on handler) moves focus to the new panel's heading
    expect(page.locator("#panel h1")).to_be_focused()
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0, "htmx injected a <style>"
    watch.visit("/work/notifications/")
    watch.check()


def test_the_command_centre_runs_under_the_policy(new_page, world):
    case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", region_code="KG-DZ-XFL-G1",
                title="路口乱停车", lat=34.405, lng=108.705, channel="grid")
    watch = as_user(new_page, "operator_kg")
    watch.visit("/command/")
    expect(watch.page.locator(".leaflet-container").first).to_be_visible()
    watch.check()


def test_a_leaders_dashboards_ledger_and_parking_run_under_the_policy(new_page, world):
    some_cases(world)
    batch, _items = _ledger_with_one_item_waiting(world)
    parking_seed(world)
    watch = as_user(new_page, "leader_kg")
    page = watch.page
    for path in ("/dashboard/", "/dashboard/incidents/"):
        watch.visit(path)
        chart = page.locator("[data-drawn]").first
        expect(chart).to_be_attached()
        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # an ECharts tooltip
        page.wait_for_timeout(300)
    watch.visit("/ledger/")
    watch.visit(f"/ledger/batches/{batch.pk}/")
    bar = page.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "50")
    done = page.locator(".bar progress.done")
    assert done.evaluate("e => e.getBoundingClientRect().width") > 0
    watch.visit("/ledger/topics/counts/")
    watch.visit("/party/")
    watch.visit("/parking/")
    watch.visit("/parking/hotspots/")
    expect(page.locator("[data-hour-bars][data-drawn]")).to_be_attached()
    watch.visit("/parking/violations/")
    watch.check()


def test_the_grid_patrol_and_party_pages_run_under_the_policy(new_page, world):
    party_members(world)
    grid = as_user(new_page, "gridder_xfl")
    grid.visit("/grid/")
    expect(grid.page.locator("#patrol-check-in form")).to_be_visible()  # fetched by htmx (hx-trigger=load)
    grid.visit("/grid/KG-DZ-XFL-G1/")
    grid.visit("/patrol/")
    grid.check()

    secretary = as_user(new_page, "secretary_cjc")
    secretary.visit("/patrol/")
    secretary.visit("/party/")
    secretary.visit("/party/KG-DZ-CJC-DZB/")
    secretary.visit("/party/KG-DZ-CJC-DZB/grouping/?groups=2")
    page = secretary.page
    first = page.locator('[data-group="0"] select.move').first
    member = first.locator("xpath=ancestor::li[1]").get_attribute("data-member")
    before = page.locator('[data-group="1"] li[data-member]').count()
    first.select_option("1")  # party/grouping.js moves the member to the other group
    expect(page.locator(f'[data-group="1"] li[data-member="{member}"]')).to_have_count(1)
    expect(page.locator('[data-group="1"] [data-count]')).to_have_text(str(before + 1))
    secretary.check()


def test_the_admin_and_the_api_docs_run_under_the_policy(new_page, world):
    watch = as_user(new_page, None)
    page = watch.page
    watch.visit("/admin/login/")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("pw-admin")
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    admin = world.users["admin"]
    for path in ("/admin/", "/admin/cases/case/", "/admin/org/region/", "/admin/org/region/add/",
                 "/admin/auth/user/", f"/admin/auth/user/{admin.pk}/change/"):
        watch.visit(path)
    # The admin's date widget (DateTimeShortcuts.js): the first date field's 今天 fills in today's date.
    shortcuts = page.locator(".datetimeshortcuts").first
    date = shortcuts.locator("xpath=preceding-sibling::input[1]")
    date.fill("")
    shortcuts.locator("a").first.click()
    expect(date).to_have_value(re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}$"))
    watch.visit("/api/v1/docs")
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible()
    watch.check()
