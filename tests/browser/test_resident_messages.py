"""Issue 17's done-when, on a phone: a new number signs up with the code `yiwang messages list` shows,
applies for 老年证, and as the clerk acts is told 受理, 补正 (the missing materials by name), 办结 (the
decision, the result, the rating link) and, three days on, reminded once to rate — by SMS, as
`yiwang messages list --to PHONE` shows, and in the resident's 消息 page."""

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.cases.services.notifications import remind_to_rate
from yiwang.core import clock, idnumber
from yiwang.org.selectors import viewer_for

pytestmark = pytest.mark.browser

PHONE = "13912345670"
ID17 = "11010119500307902"  # born 1950: old enough for 老年证
ID_NUMBER = ID17 + idnumber.check_digit(ID17)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def messages_list(phone: str) -> str:
    """What `yiwang messages list --to PHONE` prints, newest first."""
    out = io.StringIO()
    call_command("messages", "list", "--to", phone, stdout=out)
    return out.getvalue()


def sms_lines(phone: str) -> list[str]:
    return [line for line in messages_list(phone).splitlines() if f" sms    {phone}" in line]


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"


def test_a_new_number_is_told_each_step_and_reminded_once_to_rate(new_page, world, shot, tmp_path, settings):
    settings.YIWANG_SMS_SIGNATURE = "【西咸新区政务服务】"
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/signup/")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_label("短信验证码")).to_be_visible()
    code_line = next(line for line in sms_lines(PHONE) if "验证码" in line)
    code = re.search(r"\b\d{6}\b", code_line.split(PHONE, 1)[1]).group()

    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("姓名（与身份证一致）").fill("钱晚霞")
    page.get_by_label("身份证号码").fill(ID_NUMBER)
    page.get_by_label("居住的村（社区）").select_option(label="幸福里社区")
    page.get_by_role("button", name="注册并登录").click()
    expect(page).to_have_url(re.compile(r"/me/cases/$"))

    page.goto("/matters/SENIOR_CARD/apply/")
    (tmp_path / "id.pdf").write_bytes(PDF)
    (tmp_path / "me.png").write_bytes(PNG)
    page.get_by_label("出生日期").fill("1950-01-01")
    page.get_by_label("身份证").set_input_files(tmp_path / "id.pdf")
    page.get_by_label("一寸照片").set_input_files(tmp_path / "me.png")
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(re.compile(r"/cases/[^/]+/$"))
    number = page.locator("dl.facts code").first.inner_text()
    case = Case.objects.get(pk=Case.parse_number(number)[1])
    resident = viewer_for(case.applicant.user)

    # The clerk's half, through the services the workbench calls.
    clerk, handler = world.viewer("clerk_xfl"), world.viewer("handler_xfl")
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=clerk, case_id=case.pk, action="request_supplement", version=case.version,
                    comment="id_card 复印件不清晰，请重新上传")
    case = case_act(viewer=resident, case_id=case.pk, action="resubmit", version=case.version, comment="已重新上传")
    case = case_act(viewer=handler, case_id=case.pk, action="decide", version=case.version, decision="approved")
    case = case_act(viewer=clerk, case_id=case.pk, action="close", version=case.version,
                    result="老年证已制好，请带身份证到幸福里社区便民服务站领取",
                    delivery={"method": "pickup", "hall": "KG-DZ-XFL-SH"})

    told = sms_lines(PHONE)[::-1]  # oldest first
    accepted, supplement, closed = (line for line in told if number in line)
    assert "已受理" in accepted and "承诺" in accepted
    assert "需要补正：身份证（身份证 复印件不清晰，请重新上传）" in supplement and "id_card" not in supplement
    assert "决定：准予" in closed and "便民服务站领取" in closed and f"/cases/{number}/" in closed
    assert "欢迎评价" in closed

    # Over three days later, in the morning, the worker's sweep reminds them once; never a second time.
    later = timezone_morning(clock.now() + dt.timedelta(days=4))
    with clock.frozen_at(later):
        assert remind_to_rate() == 1
        assert remind_to_rate() == 0
    reminder, = (line for line in sms_lines(PHONE) if "还没有评价" in line)
    assert number in reminder and f"/cases/{number}/" in reminder

    page.goto("/me/messages/")
    expect(page.get_by_role("heading", level=1)).to_have_text("消息")
    inbox = page.locator("ul.inbox")
    for text in ("已受理", "需要补正：身份证", "决定：准予", "欢迎评价", "还没有评价"):
        expect(inbox).to_contain_text(text)
    expect(inbox).not_to_contain_text("id_card")
    no_sideways_scroll(page)
    shot("resident-inbox", page)


def timezone_morning(moment: dt.datetime) -> dt.datetime:
    from django.utils import timezone

    return timezone.localtime(moment).replace(hour=10, minute=0, second=0, microsecond=0)


def test_an_administrator_words_the_acceptance_for_one_matter(new_page, world, shot):
    """At a desktop: a template naming an unknown variable is refused beside its text; the corrected
    one is what the next applicant for that matter is sent."""
    page = new_page()
    page.goto("/admin/login/")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("pw-admin")
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    page.goto("/admin/messaging/messagetemplate/add/")
    page.get_by_label("事件").select_option("accepted")
    page.locator(".field-matter .select2-selection").click()  # the admin's autocomplete
    page.locator(".select2-search__field").fill("老年证")
    page.locator(".select2-results__option", has_text="老年证办理").click()
    page.get_by_label("渠道").select_option("sms")
    page.get_by_label("内容").fill("老年证申请{case_no}已受理，{unit}承诺{due_date}前办结。")
    page.get_by_role("button", name="保存", exact=True).click()
    error = page.locator(".field-text .errorlist")
    expect(error).to_contain_text("{case_no}")
    shot("template-refused", page)
    page.get_by_label("内容").fill("老年证申请{case_number}已受理，{unit}承诺{due_date}前办结。")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".messagelist")).to_be_visible()
    shot("template-saved", page)

    from yiwang.cases.services import case_create
    from yiwang.testing import SENIOR_OK

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)
    line, = sms_lines(world.residents["wang"].phone)
    assert f"老年证申请{case.number}已受理，" in line
