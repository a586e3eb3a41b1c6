"""On a phone: a new number signs up with the code the SMS outbox holds, applies for 老年证, and is
told by SMS and in-app as the clerk accepts it and asks for a supplement."""

import datetime as dt
import re

import pytest
from django.db.models import F
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.core import idnumber
from yiwang.messages.models import Message
from yiwang.org.models import PhoneCode

pytestmark = pytest.mark.browser

PHONE = "13912345678"
ID17 = "11010119500307901"  # born 1950-01-01: old enough for 老年证
ID_NUMBER = ID17 + idnumber.check_digit(ID17)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"


def test_a_new_number_signs_up_applies_and_hears_back(new_page, world, shot, tmp_path):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/login/")
    page.get_by_role("link", name="注册新账号").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("居民注册")
    no_sideways_scroll(page)

    page.get_by_label("手机号码").fill("12345")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("alert").first).to_contain_text("手机号码")
    shot("signup-bad-number", page)

    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    sms = Message.objects.filter(to=PHONE, channel="sms").order_by("-id").first()
    assert sms is not None and "分钟内有效" in sms.text
    code = re.search(r"\d{6}", sms.text).group()

    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("姓名（与身份证一致）").fill("赵新民")
    page.get_by_label("身份证号码").fill(ID_NUMBER)
    page.get_by_label("居住的村（社区）").select_option(label="幸福里社区")
    shot("signup-filled", page)
    page.get_by_role("button", name="注册并登录").click()
    expect(page).to_have_url(re.compile(r"/me/cases/$"))
    assert ID_NUMBER not in page.content()
    no_sideways_scroll(page)
    shot("my-cases", page)

    page.goto("/matters/SENIOR_CARD/apply/")
    (tmp_path / "id.pdf").write_bytes(PDF)
    (tmp_path / "me.png").write_bytes(PNG)
    page.get_by_label("出生日期").fill("1950-01-01")
    page.get_by_label("身份证").set_input_files(tmp_path / "id.pdf")
    page.get_by_label("一寸照片").set_input_files(tmp_path / "me.png")
    no_sideways_scroll(page)
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(re.compile(r"/cases/[^/]+/$"))
    number = page.locator("dl.facts code").first.inner_text()
    case = Case.objects.get(pk=Case.parse_number(number)[1])
    assert case.applicant_phone == PHONE

    # Routed from the community they said they live in: the community's service hall has it.
    clerk = world.viewer("clerk_xfl")
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case_act(viewer=clerk, case_id=case.pk, action="request_supplement", version=case.version,
             comment="请补充户口簿首页")
    told = list(Message.objects.filter(to=PHONE, channel="sms", dedupe_key__startswith=f"case:{case.pk}:")
                .order_by("id").values_list("text", flat=True))
    assert len(told) == 2 and number in told[0] and "请补充户口簿首页" in told[1]
    inapp = Message.objects.filter(channel="inapp", resident__phone=PHONE).count()
    assert inapp == 2

    page.reload()
    # What is missing, shown where the resident supplies it (需要补正) and as the clerk's reply in the timeline.
    expect(page.get_by_text("请补充户口簿首页").first).to_be_visible()
    no_sideways_scroll(page)
    expect(page.get_by_role("button", name=re.compile("退出 赵新民"))).to_be_visible()  # their name, not the username
    shot("case-waiting-for-supplement", page)

    # Next time, on the same phone: logged out, then in again with a new code (the sign-up's code is
    # moved a minute into the past: a new one may not be sent within 60 s of the last).
    PhoneCode.objects.filter(phone=PHONE).update(created_at=F("created_at") - dt.timedelta(minutes=1))
    page.get_by_role("button", name=re.compile("退出 赵新民")).click()
    page.goto("/login/code/")
    expect(page.get_by_role("heading", level=1)).to_have_text("验证码登录")
    no_sideways_scroll(page)
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    sms = Message.objects.filter(to=PHONE, channel="sms", dedupe_key__startswith="code:").order_by("-id").first()
    page.get_by_label("短信验证码").fill(re.search(r"\d{6}", sms.text).group())
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name=re.compile("退出 赵新民"))).to_be_visible()
    no_sideways_scroll(page)
    shot("logged-in-again-by-code", page)
