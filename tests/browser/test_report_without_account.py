"""On a phone, without an account: a visitor reports a problem with the SMS code the outbox holds, is
told by SMS as the command centre dispatches and closes it, then signs up with that number and finds
the case in 我的办件 and the messages in their inbox."""

import datetime as dt
import re

import pytest
from django.db.models import F
from playwright.sync_api import expect

from tests.test_report_without_account import dispatch_and_close
from yiwang.cases.models import Case
from yiwang.core import idnumber
from yiwang.messages.models import Message
from yiwang.org.models import PhoneCode

pytestmark = pytest.mark.browser

PHONE = "13912345678"
ID17 = "61040219900101123"
ID_NUMBER = ID17 + idnumber.check_digit(ID17)


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"


def code_sent_to(phone: str) -> str:
    sms = Message.objects.filter(to=phone, channel="sms", dedupe_key__startswith="code:").order_by("-id").first()
    assert sms is not None and "分钟内有效" in sms.text
    return re.search(r"\d{6}", sms.text).group()


def test_a_visitor_reports_by_code_hears_back_and_finds_it_after_signing_up(new_page, world, shot):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/")
    page.get_by_role("link", name="我要反映").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我要反映问题")
    expect(page.get_by_label("短信验证码")).to_have_count(0)  # the number first
    no_sideways_scroll(page)
    shot("report-ask-number", page)

    page.get_by_label("手机号码").fill("1391234567")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("alert").first).to_contain_text("手机号码")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    code = code_sent_to(PHONE)

    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_label("问题类别").select_option(label="乱停车")
    page.get_by_label("问题描述").fill("学校门口车辆乱停，堵住人行道")
    page.get_by_label("所在村(社区)").select_option(label="幸福里社区")
    page.get_by_label("具体位置").fill("幸福路小学门口")
    page.get_by_role("button", name="提交").click()
    expect(page.get_by_role("alert").first).to_contain_text("验证码不正确")
    assert not Case.objects.exists()
    no_sideways_scroll(page)
    shot("report-wrong-code", page)

    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(re.compile(r"/lookup/\?"))
    case = Case.objects.get()
    assert case.applicant_id is None and case.applicant_phone == PHONE
    expect(page.get_by_text(re.compile(f"已上报，编号 {case.number}"))).to_be_visible()
    expect(page.get_by_text("139****5678").first).to_be_visible()
    no_sideways_scroll(page)
    shot("reported-lookup", page)

    # The command centre dispatches it to the town's enforcement team, which handles it; closed.
    dispatch_and_close(world, case)
    told = list(Message.objects.filter(to=PHONE, channel="sms", dedupe_key__startswith=f"case:{case.pk}:")
                .order_by("id").values_list("text", flat=True))
    assert any("已派" in t for t in told) and any("已结案" in t for t in told), told
    page.reload()
    expect(page.get_by_text("已结案").first).to_be_visible()

    # Later, the same number signs up: the case is theirs, and what they were told is in their inbox.
    PhoneCode.objects.filter(phone=PHONE).update(created_at=F("created_at") - dt.timedelta(minutes=2))
    page.goto("/signup/")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").fill(code_sent_to(PHONE))
    page.get_by_label("姓名（与身份证一致）").fill("赵小明")
    page.get_by_label("身份证号码").fill(ID_NUMBER)
    page.get_by_label("居住的村（社区）").select_option(label="幸福里社区")
    page.get_by_role("button", name="注册并登录").click()
    expect(page).to_have_url(re.compile(r"/me/cases/$"))
    expect(page.get_by_role("link", name=case.number).first).to_be_visible()
    no_sideways_scroll(page)
    shot("my-cases", page)

    inbox = page.get_by_role("link", name=re.compile("^消息"))
    expect(inbox).to_contain_text(str(len(told)))
    inbox.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("消息")
    for text in told:
        expect(page.get_by_text(text, exact=True)).to_be_visible()
    expect(page.locator("li.unread")).to_have_count(len(told))
    no_sideways_scroll(page)
    shot("inbox", page)
    page.reload()
    expect(page.locator("li.unread")).to_have_count(0)
    page.get_by_role("link", name=case.number).first.click()
    expect(page).to_have_url(re.compile(f"/cases/{case.number}/$"))
    expect(page.get_by_text("归入居民账号").first).to_be_visible()
    shot("case-page", page)

    # At a desktop width the report page asks a visitor for the number the same way.
    desk = new_page()
    desk.goto("/report/")
    expect(desk.get_by_role("button", name="获取验证码")).to_be_visible()
    no_sideways_scroll(desk)
    shot("report-desktop", desk)
