"""A clerk turns an answered consultation into an FAQ entry (desktop): the draft flags the resident's ID
and phone numbers, the clerk rewrites it and publishes it once. A resident on a 390 px phone finds no
internal matter on the home page, reads 老年证办理's guide (visits, delivery, halls with hours, phones),
downloads its blank form, and reads the published FAQ on 合疗报销咨询's guide, hostile text shown as text."""

import re
import zipfile

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_act, case_create
from yiwang.catalog.models import Matter, MatterFAQ
from yiwang.catalog.services import document_store, matter_publish
from yiwang.demo.guides import form_docx
from yiwang.org.models import Unit

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
HOSTILE = "<script>window.pwned=1</script> =1+1 出院时在定点医院直接结算。"


def _guide_data():
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter.visits, matter.delivery = 1, ["pickup", "post"]
    matter.consult_phone, matter.complaint_phone = "029-33185012", "12345"
    matter.where = "户籍所在村(社区)便民服务站"
    matter_publish(matter=matter)
    Unit.objects.filter(code="KG-DZ-SH").update(address="底张街道底张大道18号", hours="周一至周五 9:00-12:00 14:00-17:30",
                                               phone="029-33180001")
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(address="幸福里社区服务中心一楼", hours="周一至周五 9:00-17:30")
    document_store(matter=matter, title="老年证申请表", data=form_docx("老年证申请表", ("出生日期",), sample=False),
                   filename="x.docx")


def _answered_consultation(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL",
                       description="我是王大爷，身份证61040219500101123X，电话13800000001，住院了合疗怎么报销？").case
    return case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="answer", version=case.version,
                    result="出院时在定点医院直接结算。")


def test_a_clerk_publishes_an_faq_and_a_resident_reads_a_complete_guide_on_a_phone(
        world, new_page, login, shot, tmp_path):
    _guide_data()
    case = _answered_consultation(world)

    # The clerk, at a desk: 转为常见问题 on the case, then the draft on /work/faq/.
    clerk = new_page()
    login(clerk, "clerk_xfl")
    clerk.goto(f"/work/cases/{case.number}/")
    clerk.get_by_role("button", name="转为常见问题").click()
    expect(clerk.get_by_role("button", name="转为常见问题")).to_have_count(0)
    faq = MatterFAQ.objects.get(source_case_id=case.pk)
    clerk.goto("/work/faq/")
    clerk.get_by_role("link", name=re.compile("合疗怎么报销")).click()
    expect(clerk.get_by_text("含个人信息，请删去").first).to_be_visible()
    expect(clerk.locator("body")).not_to_contain_text("61040219500101123X")
    shot("draft-flagged", clerk)
    clerk.get_by_label("问题").fill("住院了，合疗怎么报销？")
    clerk.get_by_label("答复").fill(HOSTILE)
    clerk.get_by_role("button", name="发布到办事指南").click()
    expect(clerk.get_by_text("已发布到“合疗报销咨询”的办事指南。")).to_be_visible()
    faq.refresh_from_db()
    assert faq.published_at is not None and faq.published_by == "clerk_xfl"
    shot("published", clerk)

    # The resident, on a phone.
    page = new_page(**PHONE)
    page.goto("/")
    expect(page.get_by_role("link", name="老年证办理").first).to_be_visible()
    for internal in ("基层党组织整改", "一对一帮扶"):
        expect(page.locator("main")).not_to_contain_text(internal)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot("home-phone", page)
    page.get_by_role("link", name="老年证办理").first.click()
    expect(page.locator("#visits")).to_contain_text("最多跑一次")
    expect(page.locator("#delivery")).to_have_text("窗口自取、免费邮寄")
    expect(page.get_by_text("底张街道底张大道18号")).to_be_visible()
    expect(page.get_by_text("周一至周五 9:00-12:00 14:00-17:30")).to_be_visible()
    expect(page.get_by_role("link", name="029-33185012")).to_have_attribute("href", "tel:02933185012")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot("guide-phone", page)
    with page.expect_download() as download:
        page.get_by_role("link", name="老年证申请表").click()
    assert download.value.suggested_filename == "老年证申请表.docx"
    saved = tmp_path / "form.docx"
    download.value.save_as(saved)
    assert "老年证申请表" in zipfile.ZipFile(saved).read("word/document.xml").decode()

    page.goto("/matters/ASK_MEDICAL/")
    faq_block = page.locator("#faq + dl")
    expect(faq_block).to_contain_text("住院了，合疗怎么报销？")
    expect(faq_block).to_contain_text("<script>window.pwned=1</script> =1+1")
    assert page.evaluate("window.pwned") is None
    shot("faq-phone", page)
