"""On a 390 px phone: a resident reads the receipt on their closed case, checks it on /receipts/check/
against the published checkpoint, and a mistyped hash is told so; /checkpoints/ fits the phone too
(docs/checkpoints.md)."""

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_act, case_create
from yiwang.records.services import checkpoint_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.browser

PHONE_SIZE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def fits_a_phone(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways on a phone: {width}"
    small = page.evaluate("""() => [...document.querySelectorAll(
            'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), main button, main a.button, main summary')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.name || e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])
        .filter(([, h]) => h < 44)""")
    assert not small, f"{page.url}: too small to tap: {small}"


def test_a_resident_checks_the_receipt_of_a_closed_case_on_a_phone(new_page, world, shot, login, settings, tmp_path):
    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    for actor, action, inputs in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                                  ("clerk_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(actor), case_id=case.pk, action=action, version=case.version, **inputs)
    checkpoint_create()

    page = new_page(**PHONE_SIZE)
    login(page, "resident_wang", f"/cases/{case.number}/")
    page.get_by_text("办件回执(存证哈希)").click()
    expect(page.locator("#receipt-closed")).to_have_text(case.last_hash)
    fits_a_phone(page)
    shot("receipt-on-the-case-page", page)

    page.get_by_role("link", name="核对回执").click()
    expect(page.locator("#receipt-result")).to_contain_text("相符")
    expect(page.locator("#receipt-result")).to_contain_text("第 1 号检查点")
    fits_a_phone(page)
    shot("receipt-checked", page)

    page.get_by_label("哈希值").fill("0" * 64)
    page.get_by_role("button", name="核对").click()
    expect(page.locator("#receipt-result")).to_contain_text("不相符")
    page.get_by_label("哈希值").fill("=1+1")
    page.get_by_role("button", name="核对").click()
    expect(page.locator("#hash-error")).to_contain_text("64 位十六进制")
    fits_a_phone(page)

    page.get_by_role("link", name="全部存证检查点").click()
    expect(page.locator("#checkpoint-1")).to_be_visible()
    fits_a_phone(page)
    shot("checkpoints", page)
