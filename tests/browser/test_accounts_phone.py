"""On a 390 px phone (and, for the resident, at desktop width too): the account pages a resident and a
clerk must be able to finish with a thumb.

A resident signs up with a password (a weak one refused beside the field), logs out, logs in with the
phone number and the password (a wrong one told so); a clerk enrols an authenticator, verifies with a
code at the next login, and renews the recovery codes. On every page: nothing scrolls sideways and
every field and button is at least 44 px tall (the touch target WCAG 2.5.5 and the Apple and Android
guidelines ask for).
"""

import base64
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from yiwang.core import idnumber
from yiwang.messages.models import Message

pytestmark = pytest.mark.browser

PHONE = "13987654321"
ID17 = "61040219800202001"
ID_NUMBER = ID17 + idnumber.check_digit(ID17)
PHONE_SIZE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def fits_a_phone(page) -> None:
    """No sideways scroll, and every visible input, select and button in the main content is thumb-sized."""
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways on a phone: {width}"
    small = page.evaluate("""() => [...document.querySelectorAll(
            'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main select, main button, main a.button')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.name || e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])
        .filter(([, h]) => h < 44)""")
    assert not small, f"{page.url}: too small to tap: {small}"


@pytest.mark.parametrize("size", [PHONE_SIZE, {}], ids=["phone", "desktop"])
def test_a_resident_signs_up_with_a_password_and_logs_in_with_the_phone_number(new_page, world, shot, size):
    page = new_page(**size)
    page.goto("/signup/")
    fits_a_phone(page)
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    sms = Message.objects.filter(to=PHONE, channel="sms").order_by("-id").first()
    page.get_by_label("短信验证码").fill(re.search(r"\d{6}", sms.text).group())
    page.get_by_label("姓名（与身份证一致）").fill("钱手机")
    page.get_by_label("身份证号码").fill(ID_NUMBER)
    page.get_by_label("居住的村（社区）").select_option(label="幸福里社区")
    page.get_by_label("密码（选填").fill("12345678")
    page.get_by_label("再次输入密码").fill("12345678")
    fits_a_phone(page)
    page.get_by_role("button", name="注册并登录").click()
    expect(page.locator("#password-errors")).to_contain_text("不能全是数字")
    fits_a_phone(page)
    shot("signup-weak-password", page)

    # The same code, kept in the form with the name and the community; the ID number is typed again
    # (never shown in full), and a better password.
    expect(page.get_by_label("短信验证码")).not_to_have_value("")
    page.get_by_label("身份证号码").fill(ID_NUMBER)
    page.get_by_label("居住的村（社区）").select_option(label="幸福里社区")
    page.get_by_label("密码（选填").fill("qian-Shouji-2026")
    page.get_by_label("再次输入密码").fill("qian-Shouji-2026")
    page.get_by_role("button", name="注册并登录").click()
    expect(page).to_have_url(re.compile(r"/me/cases/$"))
    expect(page.get_by_text("可用手机号码和密码登录")).to_be_visible()
    page.get_by_role("button", name=re.compile("退出 钱手机")).click()

    page.goto("/login/")
    fits_a_phone(page)
    expect(page.get_by_role("link", name="手机验证码登录")).to_be_visible()  # both ways are offered
    page.get_by_label("手机号码或用户名").fill(PHONE)
    page.get_by_label("密码").fill("not-my-password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    fits_a_phone(page)
    shot("login-wrong-password", page)
    page.get_by_label("手机号码或用户名").fill(PHONE)
    page.get_by_label("密码").fill("qian-Shouji-2026")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name=re.compile("退出 钱手机"))).to_be_visible()
    shot("logged-in-by-phone-and-password", page)


def test_a_clerk_enrols_verifies_and_renews_recovery_codes_on_a_phone(new_page, world, shot, login, settings):
    settings.YIWANG_STAFF_2FA = "required"
    page = new_page(**PHONE_SIZE)
    login(page, "clerk_xfl", "/work/")
    expect(page).to_have_url(re.compile(r"/two-factor/\?next="))
    fits_a_phone(page)
    shot("enrol", page)
    uri = page.locator("code.otpauth").inner_text()
    # On the phone itself the QR code cannot be scanned: a button hands the URI to the authenticator app.
    expect(page.get_by_role("link", name="在本机的验证器应用中添加")).to_have_attribute("href", uri)
    assert page.locator("code.secret").inner_text().replace(" ", "") == parse_qs(urlparse(uri).query)["secret"][0]
    key = base64.b32decode(parse_qs(urlparse(uri).query)["secret"][0])
    qr = page.locator(".qr svg").bounding_box()
    assert qr["width"] <= 390 and qr["width"] >= 150, qr  # scannable, and on the screen
    page.get_by_label("验证码").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="确认").click()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    fits_a_phone(page)
    shot("recovery-codes-once", page)
    page.get_by_role("link", name="继续").click()
    expect(page).to_have_url(re.compile(r"/work/$"))

    # The next login asks for a code; a recovery code will do.
    page.get_by_role("button", name=re.compile("退出")).click()
    login(page, "clerk_xfl", "/work/")
    expect(page).to_have_url(re.compile(r"/two-factor/verify/"))
    fits_a_phone(page)
    page.get_by_label("验证码或恢复码").fill(codes[0])
    page.get_by_role("button", name="验证").click()
    expect(page).to_have_url(re.compile(r"/work/$"))

    page.goto("/two-factor/recovery/")
    expect(page.get_by_text("还有 9 个恢复码未使用")).to_be_visible()
    fits_a_phone(page)
    page.get_by_label("或登录密码").fill("pw-clerk_xfl")
    page.get_by_role("button", name="生成新的恢复码").click()
    expect(page.get_by_role("status")).to_contain_text("原有的恢复码全部作废")
    renewed = page.locator(".recovery-codes code").all_inner_texts()
    assert len(renewed) == 10 and not set(renewed) & set(codes)
    fits_a_phone(page)
    shot("recovery-codes-renewed", page)
