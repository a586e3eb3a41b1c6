"""Staff in the workbench: the queue, htmx actions on the case panel, a stale form, and the no-JS fallback."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser


def new_case(world) -> Case:
    return case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       applicant_name="王大爷", applicant_phone="13800000001", **SENIOR_OK).case


def state_badge(page):
    return page.locator("#panel .badge").first


def act(page, label: str, number: str, action: str):
    """Click an action's button; the answer must come from htmx (HX-Request) and be swapped in."""
    button = page.locator("#panel form").filter(has=page.get_by_role("button", name=label, exact=True))
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{number}/act/{action}/")) as answer:
        button.get_by_role("button").click()
    response = answer.value
    assert response.request.headers.get("hx-request") == "true", "the action was not sent by htmx"
    assert response.status == 200
    return response


def test_clerk_accepts_and_handler_claims_decides_and_closes(new_page, page, world, shot, login):
    case = new_case(world)

    login(page, "clerk_xfl", next_url="/work/")
    expect(page).to_have_url(re.compile(r"/work/$"))
    expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case.number))
    expect(row).to_contain_text("已提交")
    shot("queue")

    row.get_by_role("link", name=case.number).click()
    expect(page).to_have_url(re.compile(rf"/work/cases/{case.number}/$"))
    page.wait_for_function("() => window.htmx !== undefined")  # the vendored htmx came from /static/
    expect(state_badge(page)).to_have_text("已提交")
    shot("case-submitted")

    url = page.url
    page.evaluate("() => { window.__sameDocument = true }")
    act(page, "受理", case.number, "accept")
    expect(state_badge(page)).to_have_text("已受理")
    assert page.url == url
    assert page.evaluate("() => window.__sameDocument") is True, "the page was reloaded, not swapped"
    expect(page.locator("#panel .timeline")).to_contain_text("受理")
    expect(page.get_by_role("button", name="受理", exact=True)).to_have_count(0)
    shot("case-accepted")

    handler = new_page()
    login(handler, "handler_xfl", next_url=f"/work/cases/{case.number}/")
    expect(state_badge(handler)).to_have_text("已受理")
    handler.wait_for_function("() => window.htmx !== undefined")
    handler.evaluate("() => { window.__sameDocument = true }")
    act(handler, "认领", case.number, "claim")  # the handler takes the case as theirs
    expect(handler.locator("#panel")).to_contain_text("handler_xfl")
    handler.get_by_label("决定").select_option("approved")
    act(handler, "作出决定", case.number, "decide")
    expect(state_badge(handler)).to_have_text("已决定")
    shot("handler-decided", handler)
    handler.get_by_label("方式").select_option("pickup")  # how the result reaches the applicant
    act(handler, "办结", case.number, "close")
    expect(state_badge(handler)).to_have_text("已办结")
    assert handler.evaluate("() => window.__sameDocument") is True

    steps = handler.locator("#panel .timeline li > b").all_inner_texts()
    assert steps[-4:] == ["受理", "认领", "作出决定", "办结"], steps
    expect(handler.get_by_text("您对该案件暂无可执行的操作。")).to_be_visible()
    shot("handler-closed", handler)

    case.refresh_from_db()
    assert (case.state, case.decision) == ("closed", "approved")


def test_a_stale_form_shows_the_conflict_message(page, world, shot, login):
    case = new_case(world)
    login(page, "clerk_xfl")
    other = page.context.new_page()  # a second tab on the same case, same clerk
    for tab in (page, other):
        tab.goto(f"/work/cases/{case.number}/")
        tab.wait_for_function("() => window.htmx !== undefined")
        expect(state_badge(tab)).to_have_text("已提交")

    act(page, "受理", case.number, "accept")
    expect(state_badge(page)).to_have_text("已受理")
    shot("first-tab-accepted")

    act(other, "受理", case.number, "accept")  # this tab still shows version 1
    alert = other.locator("#panel").get_by_role("alert")
    expect(alert).to_contain_text("请刷新后重试")
    expect(state_badge(other)).to_have_text("已受理")  # the panel came back refreshed
    shot("second-tab-conflict", other)

    case.refresh_from_db()
    assert (case.state, case.version, case.event_count) == ("accepted", 2, 2)


def test_without_javascript_an_action_is_a_plain_post(new_page, world, shot, login):
    case = new_case(world)
    page = new_page(java_script_enabled=False)
    login(page, "clerk_xfl", next_url=f"/work/cases/{case.number}/")
    expect(state_badge(page)).to_have_text("已提交")
    with page.expect_navigation():
        page.get_by_role("button", name="受理", exact=True).click()
    expect(state_badge(page)).to_have_text("已受理")
    expect(page.get_by_role("heading", name="我的待办")).to_have_count(0)
    shot("no-js-accepted", page)
    case.refresh_from_db()
    assert case.state == "accepted"


def test_without_javascript_a_reload_after_an_action_does_not_post_again(new_page, world, login):
    case = new_case(world)
    page = new_page(java_script_enabled=False)
    login(page, "clerk_xfl", next_url=f"/work/cases/{case.number}/")
    with page.expect_navigation():
        page.get_by_role("button", name="受理", exact=True).click()
    assert page.url.endswith(f"/work/cases/{case.number}/"), page.url
