"""A resident finds 老年证办理 by pinyin, reads its guide, logs in, applies with uploads and rates the result."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_act

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def search_from_home(page, query: str) -> None:
    page.goto("/")
    box = page.get_by_role("searchbox", name="搜索事项")
    box.fill(query)
    with page.expect_navigation():
        box.press("Enter")
    assert f"q={query}" in page.url
    expect(page.get_by_role("link", name="老年证办理")).to_be_visible()


def test_a_resident_finds_applies_and_rates(page, world, shot, login, tmp_path):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("上一张网，办所有事")
    shot("home")

    search_from_home(page, "laonianzheng")
    shot("search-laonianzheng")
    search_from_home(page, "lnz")
    shot("search-lnz")

    page.get_by_role("link", name="老年证办理").click()
    expect(page).to_have_url(re.compile(r"/matters/SENIOR_CARD/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("老年证办理")
    expect(page.get_by_text("一寸照片")).to_be_visible()
    shot("guide")

    page.get_by_role("link", name="在线申请").click()
    expect(page).to_have_url(re.compile(r"/login/\?next=/matters/SENIOR_CARD/apply/"))
    shot("login")
    page.get_by_label("用户名").fill("resident_wang")
    page.get_by_label("密码").fill("pw-wang")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/matters/SENIOR_CARD/apply/$"))

    (tmp_path / "id.pdf").write_bytes(PDF)
    (tmp_path / "me.png").write_bytes(PNG)
    page.get_by_label("出生日期").fill("1950-01-01")
    page.get_by_label("身份证").set_input_files(tmp_path / "id.pdf")
    page.get_by_label("一寸照片").set_input_files(tmp_path / "me.png")
    shot("apply-filled")
    page.get_by_role("button", name="提交").click()

    expect(page).to_have_url(re.compile(r"/cases/[^/]+/$"))
    number = page.locator("dl.facts code").first.inner_text()
    assert page.url.endswith(f"/cases/{number}/")
    expect(page.get_by_role("status")).to_contain_text(f"办件编号 {number}")
    expect(page.get_by_text("幸福里社区便民服务站", exact=True)).to_be_visible()
    shot("submitted")

    case = Case.objects.get(pk=Case.parse_number(number)[1])
    assert case.number == number
    assert {m["code"] for m in case.materials} == {"id_card", "photo"}
    # The page uploaded each file as the resident's own handle, which the case then claimed.
    assert {u.user.username for u in case.uploads.all()} == {"resident_wang"} and case.uploads.count() == 2
    assert all(m["upload"] and m["reference"].startswith("materials/") for m in case.materials)
    assert case.form_data == {"birth_date": "1950-01-01"}
    for user, action, kw in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                             ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(user), case_id=case.pk, action=action, version=case.version, **kw)

    page.reload()
    expect(page.locator("main .badge").first).to_have_text("已办结")
    expect(page.get_by_role("heading", name="请评价本次服务")).to_be_visible()
    shot("closed-rate-form")
    page.get_by_label("非常满意").check()
    page.get_by_label("办事效率").check()
    page.get_by_label("意见建议").fill("很快，谢谢")
    page.get_by_role("button", name="提交评价").click()

    expect(page.get_by_role("status")).to_contain_text("感谢您的评价")
    expect(page.get_by_role("heading", name="我的评价")).to_be_visible()
    expect(page.get_by_text("非常满意：很快，谢谢")).to_be_visible()
    expect(page.get_by_role("heading", name="请评价本次服务")).to_have_count(0)
    shot("rated")
    case.refresh_from_db()
    assert case.evaluation.rating == 5
