"""显示完整证件号 on the case panel: an htmx form with a required reason, answered on the record."""

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser


def test_the_clerk_reveals_the_applicants_number_with_a_reason(page, world, login, shot):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    login(page, "clerk_xfl", next_url=f"/work/cases/{case.number}/")
    page.wait_for_function("() => window.htmx !== undefined")
    expect(page.locator("#id-numbers + dl")).to_contain_text("6104************3X")
    form = page.locator("#panel form").filter(has=page.get_by_role("button", name="显示完整证件号"))
    page.evaluate("() => { window.__sameDocument = true }")
    form.get_by_label("查看理由（记入办理过程）").fill("电话核实身份")
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{case.number}/reveal-id/")) as answer:
        form.get_by_role("button", name="显示完整证件号").click()
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(page.locator("#revealed-id")).to_have_text("61040219500101123X")
    expect(page.locator("#panel .timeline")).to_contain_text("clerk_xfl 查看了完整身份证号：电话核实身份")
    assert page.evaluate("() => window.__sameDocument") is True
    shot("revealed")
    assert Case.objects.get(pk=case.pk).events.filter(action="reveal_id").count() == 1
