"""The language selector, keyboard-only use of the home page, and labels on every apply-page field."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return "";
  return (e.id ? "#" + e.id : e.tagName.toLowerCase()) + " " + (e.innerText || e.value || "").trim().slice(0, 20);
}"""


def test_the_language_selector_switches_html_lang(page, world, shot):
    page.goto("/")
    html = page.locator("html")
    search = page.get_by_role("searchbox")
    # "承诺 5 工作日 · 政务服务事项" under 老年证办理: the kind's name comes from the Python catalogue
    # (on 繁體 pages the stored name is shown as 老年證辦理: core.script)
    kind = page.locator("ul.cards li").filter(has_text=re.compile("老年[证證][办辦]理")).first.locator(".meta")
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(search).to_have_accessible_name("搜索事项")
    expect(kind).to_contain_text("政务服务事项")
    shot("home-zh-hans")
    for code, search_name, kind_name in [("zh-hant", "搜索事項", "政務服務事項"),
                                         ("en", "Search matters", "Government service")]:
        page.get_by_label(re.compile("语言|語言|Language")).select_option(code)
        with page.expect_navigation():
            page.locator("form.lang button").click()
        expect(html).to_have_attribute("lang", code)
        expect(page.get_by_label(re.compile("语言|語言|Language"))).to_have_value(code)
        expect(search).to_have_accessible_name(search_name)  # a template string
        expect(kind).to_contain_text(kind_name)
        shot(f"home-{code}")
    page.goto("/matters/SENIOR_CARD/")  # the choice sticks to later pages
    expect(html).to_have_attribute("lang", "en")


def tab_until(page, matches: str, key: str = "Tab", limit: int = 30) -> list[str]:
    """Press key until document.activeElement matches the CSS selector; the focus stops seen."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        seen.append(page.evaluate(FOCUSED))
        if page.evaluate("s => document.activeElement.matches(s)", matches):
            return seen
    raise AssertionError(f"{key} never reached {matches}: {seen}")


def test_a_keyboard_user_reaches_the_search_box_and_submits_with_enter(page, world, shot):
    page.goto("/")
    search = page.get_by_role("searchbox", name="搜索事项")
    expect(search).to_be_focused()  # autofocus: a keyboard user starts in the box

    # From the top of the page (the skip link is the first stop), Tab forward through the header.
    tab_until(page, "a.skip", key="Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED) == "", "something precedes the skip link in the tab order"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    shot("skip-link-focused")
    stops = tab_until(page, "#q")
    assert len(stops) < 15, stops
    expect(search).to_be_focused()

    page.keyboard.type("lnz")
    shot("typed")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"[?&]q=lnz", page.url)
    result = page.get_by_role("link", name="老年证办理")
    expect(result).to_be_visible()

    tab_until(page, "ul.cards a")  # on to the first result, and open it with Enter
    expect(result).to_be_focused()
    shot("result-focused")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("老年证办理")


def test_the_skip_link_leads_straight_to_the_search_box(page, world):
    page.goto("/")
    tab_until(page, "a.skip", key="Shift+Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_role("searchbox", name="搜索事项")).to_be_focused()


def test_every_field_on_the_apply_page_has_a_label(page, world, shot, login):
    login(page, "resident_wang", next_url="/matters/SENIOR_CARD/apply/")
    expect(page).to_have_url(re.compile(r"/matters/SENIOR_CARD/apply/$"))
    controls = page.locator("input:not([type=hidden]), select, textarea")
    assert controls.count() >= 6
    for i in range(controls.count()):
        control = controls.nth(i)
        name = control.get_attribute("name")
        labels = control.evaluate("e => Array.from(e.labels || [], l => l.innerText.trim())")
        assert labels, f"<{control.evaluate('e => e.tagName')} name={name}> has no <label>"
        found = page.get_by_label(labels[0], exact=True)
        expect(found).to_have_count(1)
        assert found.evaluate("(e, target) => e === target", control.element_handle()), (name, labels)
    for text in ["出生日期 *", "申请原因", "补充说明", "身份证 *", "一寸照片 *", "户口本"]:
        expect(page.get_by_label(text, exact=True)).to_be_editable()
    shot("apply")


def test_arrow_keys_on_the_language_selector_do_not_switch_yet(page, world):
    page.goto("/")
    page.get_by_label("语言").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans", timeout=500)


def test_after_an_htmx_action_focus_stays_in_the_panel(page, world, login):
    from yiwang.cases.services import case_create
    from yiwang.testing import SENIOR_OK

    case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case
    login(page, "clerk_xfl", next_url=f"/work/cases/{case.number}/")
    page.wait_for_function("() => window.htmx !== undefined")
    page.get_by_role("button", name="受理", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel .badge").first).to_have_text("已受理")
    page.wait_for_function("() => document.querySelector('#panel').contains(document.activeElement)", timeout=2000)
