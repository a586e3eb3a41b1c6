"""Issue 18 item 3 for a reported problem, in Chromium: the command centre's operator dismisses a report
(不予立案) with a reply to the reporter and an internal note; the reporter, on a 390 px phone, reads
the reply on their case page and never the note."""

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_create

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
REPLY = "该路段属高速公路管理范围，已告知您拨打 12122 反映。=1+1"
NOTE = "内部：报事人多次重复上报 61040219500101123X"


def test_an_operator_dismisses_a_report_and_the_reporter_reads_only_the_reply(new_page, world, login, shot):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="高速路口乱停车", channel="online", region_code="KG-DZ-XFL").case

    operator = new_page()
    login(operator, "operator_kg", f"/work/cases/{case.number}/")
    operator.wait_for_function("() => window.htmx !== undefined")
    form = operator.locator("#panel form").filter(has=operator.get_by_role("button", name="不予立案", exact=True))
    # The reporter is owed the reason: the reply box is open and required; the note is for colleagues.
    expect(form.get_by_label("答复群众（必填，群众可见）")).to_be_visible()
    form.get_by_label("答复群众（必填，群众可见）").fill(REPLY)
    form.get_by_text("答复群众或内部备注（可选）").click()
    form.get_by_label("内部备注（可选，仅工作人员可见）").fill(NOTE)
    with operator.expect_response(lambda r: r.url.endswith(f"/work/cases/{case.number}/act/dismiss/")) as answer:
        form.get_by_role("button", name="不予立案", exact=True).click()
    assert answer.value.status == 200
    timeline = operator.locator("#panel .timeline")
    expect(timeline).to_contain_text("答复：" + REPLY)
    expect(timeline).to_contain_text("内部备注：内部：报事人多次重复上报")
    expect(timeline).not_to_contain_text("61040219500101123X")  # masked, even for staff
    shot("operator-dismisses-with-reply-and-note", operator)

    phone = new_page(**PHONE)
    login(phone, "resident_wang", f"/cases/{case.number}/")
    body = phone.locator("body")
    expect(phone.get_by_text(REPLY).first).to_be_visible()
    expect(body).not_to_contain_text("重复上报")
    expect(body).not_to_contain_text("内部备注")
    width = phone.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"
    shot("reporter-reads-the-reply", phone)
