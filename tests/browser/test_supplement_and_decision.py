"""Issue 18 items 1-3 in Chromium: the clerk at a desktop asks for a supplement with a canned reply and
an internal note; the resident on a 390 px phone uploads exactly the missing material; the clerk sees
what changed; the handler decides (不予 needs its reason) and closes with the delivery; the resident
reads the decision and how the result reaches them, on their case page and on /lookup/."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import CannedReply, Case
from yiwang.cases.services import case_act, case_create
from yiwang.org.models import Unit
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
CANNED = "请补交近三个月内的一寸免冠照片（白底）。"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"


def act(page, number: str, action: str, label: str) -> None:
    form = page.locator("#panel form").filter(has=page.get_by_role("button", name=label, exact=True))
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{number}/act/{action}/")) as answer:
        form.get_by_role("button", name=label, exact=True).click()
    assert answer.value.status == 200


def panel_form(page, label: str):
    return page.locator("#panel form").filter(has=page.get_by_role("button", name=label, exact=True))


def test_a_supplement_online_then_a_decision_and_its_delivery(new_page, world, login, shot, tmp_path):
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(hours="周一至周五 9:00-17:00")
    CannedReply.objects.create(matter=world.matters["senior"], action="request_supplement", title="照片不合格",
                               text=CANNED)
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)

    # The clerk, at a desktop: the canned reply fills the box, the missing photo is ticked, a note added.
    clerk = new_page()
    login(clerk, "clerk_xfl", f"/work/cases/{case.number}/")
    clerk.wait_for_function("() => window.htmx !== undefined")
    form = panel_form(clerk, "要求补正")
    form.get_by_label("一寸照片").check()
    form.get_by_label("常用回复").select_option(label="照片不合格")
    expect(form.locator("textarea[name=reply]")).to_have_value(CANNED)
    form.get_by_text("答复群众或内部备注（可选）").click()  # optional words are folded away
    form.locator("textarea[name=note]").fill("内部：原照片疑似翻拍")
    shot("clerk-asks-for-a-supplement", clerk)
    act(clerk, case.number, "request_supplement", "要求补正")
    expect(clerk.locator("#panel .badge").first).to_have_text("待补正")
    expect(clerk.locator("#panel .timeline")).to_contain_text("内部备注：内部：原照片疑似翻拍")

    # The resident, on a phone: exactly the missing material, with a word for the clerk.
    phone = new_page(**PHONE)
    login(phone, "resident_wang", f"/cases/{case.number}/")
    expect(phone.get_by_text(CANNED).first).to_be_visible()
    expect(phone.locator("body")).not_to_contain_text("疑似翻拍")
    expect(phone.locator("#supplement input[type=file]")).to_have_count(1)
    (tmp_path / "new.png").write_bytes(PNG)
    phone.get_by_label("一寸照片").set_input_files(tmp_path / "new.png")
    phone.get_by_label("补正说明（可选）").fill("已按要求重新拍摄")
    no_sideways_scroll(phone)
    shot("resident-supplement-form", phone)
    phone.get_by_role("button", name="提交补正").click()
    expect(phone.locator("dl.facts .badge").first).to_have_text("已受理")
    expect(phone.locator("#supplement")).to_have_count(0)

    # The clerk sees what changed: the new photo marked, the old one kept.
    clerk.reload()
    expect(clerk.locator("#resubmission")).to_contain_text("一寸照片")
    expect(clerk.locator("#resubmission")).to_contain_text("已按要求重新拍摄")
    expect(clerk.locator("#panel")).to_contain_text("旧版本")
    shot("clerk-sees-the-resubmission", clerk)

    # The handler refuses: without a reason the refusal is refused beside the form; then closes by post.
    handler = new_page()
    login(handler, "handler_xfl", f"/work/cases/{case.number}/")
    handler.wait_for_function("() => window.htmx !== undefined")
    panel_form(handler, "作出决定").locator("select[name=decision]").select_option("denied")
    act(handler, case.number, "decide", "作出决定")
    expect(handler.locator("#panel .field-error")).to_contain_text("不予决定须写明理由")
    form = panel_form(handler, "作出决定")
    form.locator("select[name=decision]").select_option("denied")
    form.locator("textarea[name=reply]").fill("经核实，申请人户籍不在本辖区")
    act(handler, case.number, "decide", "作出决定")
    expect(handler.locator("#panel .badge").first).to_have_text("已决定")
    form = panel_form(handler, "办结")
    form.get_by_label("方式").select_option("post")
    form.get_by_label("邮寄运单号").fill("SF1234567890")
    act(handler, case.number, "close", "办结")
    expect(handler.locator("#panel .badge").first).to_have_text("已办结")
    expect(handler.locator("#outcome")).to_contain_text("SF1234567890")

    # The resident reads the decision, its reason and the delivery; /lookup/ masks the tracking number.
    phone.reload()
    outcome = phone.locator("#outcome")
    expect(outcome).to_contain_text("不予")
    expect(outcome).to_contain_text("经核实，申请人户籍不在本辖区")
    expect(outcome).to_contain_text("SF1234567890")
    no_sideways_scroll(phone)
    shot("resident-reads-the-outcome", phone)
    anyone = new_page(**PHONE)
    anyone.goto(f"/lookup/?number={case.number}&phone=13800000001")
    expect(anyone.locator("#outcome")).to_contain_text("********7890")
    expect(anyone.locator("body")).not_to_contain_text("SF1234567890")
    expect(anyone.locator("body")).not_to_contain_text("疑似翻拍")
    no_sideways_scroll(anyone)
    assert Case.objects.get(pk=case.pk).state == "closed"
    assert re.search(r"补正 v2", clerk.locator("#panel").inner_text())
