"""注销账号 on a phone (390 px): a resident with an application in hand goes from 我的办件 to the closing
page, reads what will happen, is refused a wrong password beside the field, confirms with the right
one, is logged out, and cannot log in again."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.org.models import Resident
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser


def test_a_resident_closes_their_account_on_a_phone(new_page, world, login, shot):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(page, "resident_wang")
    page.goto("/me/cases/")
    page.get_by_role("link", name="注销账号").click()
    expect(page).to_have_url(re.compile(r"/me/close/$"))
    expect(page.get_by_text("1 件尚未办结、仍可撤回的申请将被撤回。")).to_be_visible()
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"
    shot("close-account", of=page)

    page.get_by_label("请输入登录密码确认").fill("=1+1")
    page.get_by_role("button", name="确认注销").click()
    expect(page.locator(".field-error")).to_contain_text("密码不正确")
    assert Resident.objects.get(pk=world.residents["wang"].pk).closed_at is None

    page.get_by_label("请输入登录密码确认").fill("pw-wang")
    page.get_by_role("button", name="确认注销").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_text("您的账号已注销。")).to_be_visible()
    shot("closed", of=page)
    assert Case.objects.get(pk=case.pk).state == "withdrawn"

    page.goto("/me/cases/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("用户名").fill("resident_wang")
    page.get_by_label("密码").fill("pw-wang")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/login/"))
