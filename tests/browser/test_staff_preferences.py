"""A handler on a phone (390 px) chooses to be told of dispatches by SMS: the page refuses the choice
without a number beside the number's field, saves it with one, and the next dispatch to the unit is
queued to that number."""

from __future__ import annotations

from playwright.sync_api import expect

from yiwang.cases.services import case_create, register_and_dispatch
from yiwang.messages.models import ChannelPreference, Message

PHONE = "13900000011"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"


def test_a_handler_on_a_phone_chooses_sms_for_dispatches(new_page, world, login, shot):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(page, "handler_en", "/work/notifications/")
    page.get_by_role("link", name="通知设置").click()
    expect(page.get_by_role("heading", name="通知设置")).to_be_visible()
    no_sideways_scroll(page)
    # The defaults: 督办 and 超期 by SMS, 新派遣 in the workbench only; in-app always on.
    expect(page.get_by_label("督办：短信")).to_be_checked()
    expect(page.get_by_label("新派遣：短信")).not_to_be_checked()
    expect(page.get_by_label("新派遣：站内消息（始终开启）")).to_be_disabled()
    page.get_by_label("新派遣：短信").check()
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#phone-error")).to_contain_text("请填写手机号")
    expect(page.get_by_label("新派遣：短信")).to_be_checked()  # the choice survives the refusal
    shot("refused-beside-the-number", page)
    no_sideways_scroll(page)
    assert not ChannelPreference.objects.exists()

    page.get_by_label("接收短信的手机号").fill(PHONE)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("通知设置已保存。")).to_be_visible()
    expect(page.get_by_label("新派遣：短信")).to_be_checked()
    expect(page.get_by_label("接收短信的手机号")).to_have_value(PHONE)
    shot("saved", page)

    report = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                         title="路口乱停车", channel="online").case
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=report.pk)
    sms = Message.objects.get(to=PHONE, channel="sms")
    assert case.number in sms.text and sms.dedupe_key.endswith(":sms")

    desktop = new_page()
    login(desktop, "handler_en", "/work/preferences/")
    expect(desktop.get_by_label("新派遣：短信")).to_be_checked()
    shot("desktop", desktop)
