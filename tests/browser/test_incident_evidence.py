"""Evidence and confirmation in real browsers: a resident reports with 3 photos on a 390 px phone, the
handler sees the map and the photos and handles with an after photo, the operator verifies and asks
the reporter "已解决吗？"; the reporter answers 否 and it goes back to the handler; then 是 closes it."""

import io
import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case
from yiwang.cases.services import case_act

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def photo(folder, name: str, color: str) -> str:
    from PIL import Image

    path = folder / name
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), color).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return str(path)


def act(page, number: str, action: str, label: str, **fields):
    """Fill and submit one action form of the case panel (sent by htmx, swapped in place)."""
    form = page.locator("#panel form").filter(has=page.get_by_role("button", name=label, exact=True))
    files = fields.pop("photos", None)
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    if files:
        form.locator("[name=photos]").set_input_files(files)
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{number}/act/{action}/")) as answer:
        form.get_by_role("button", name=label, exact=True).click()
    assert answer.value.status == 200
    expect(page.locator("#panel .field-error")).to_have_count(0)


def loaded_thumbnails(page) -> int:
    return page.evaluate("""() => [...document.querySelectorAll('.photos img')]
        .filter(img => img.complete && img.naturalWidth > 0).length""")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def step(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def test_report_with_photos_handle_with_evidence_and_the_reporter_confirms(new_page, world, login, shot, tmp_path):
    before = [photo(tmp_path, f"before{i}.jpg", c) for i, c in enumerate(("red", "green", "blue"))]
    after = photo(tmp_path, "after.jpg", "white")

    # 1. The resident reports on a phone with three photos and a point.
    resident = new_page(**PHONE)
    login(resident, "resident_wang", next_url="/report/")
    resident.get_by_label("问题类别").select_option("INC_PARKING")
    resident.get_by_label("问题描述").fill("小区门口车辆堵住消防通道")
    resident.get_by_label("所在村(社区)").select_option("KG-DZ-XFL")
    resident.evaluate("() => { document.getElementById('lat').value = '34.4051';"
                      " document.getElementById('lng').value = '108.7052'; }")
    resident.locator("#photos").set_input_files(before)
    assert no_sideways_scroll(resident)
    shot("resident-report", resident)
    with resident.expect_navigation():
        resident.get_by_role("button", name="提交", exact=True).click()
    expect(resident.get_by_text(re.compile("已上报，编号"))).to_be_visible()
    case = Case.objects.get()
    assert len(case.materials) == 3 and all(m["content_type"] == "image/jpeg" for m in case.materials)
    expect(resident.locator(".photos img")).to_have_count(3)
    shot("resident-reported", resident)

    # 2. The command centre registers and dispatches it (its board is tested elsewhere).
    step(world, "operator_kg", case, "register")
    step(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")

    # 3. The handler sees the point on a map and the three photos, and handles with an after photo.
    handler = new_page()
    login(handler, "handler_en", next_url=f"/work/cases/{case.number}/")
    expect(handler.locator("#evidence-map.leaflet-container .leaflet-interactive:not(.map-outline)").first).to_be_visible()
    expect(handler.locator("#evidence [data-coordinates]")).to_have_text("34.405100, 108.705200")
    expect(handler.locator(".photos img")).to_have_count(3)
    handler.wait_for_function("() => [...document.querySelectorAll('.photos img')].every(i => i.naturalWidth > 0)")
    act(handler, case.number, "acknowledge", "签收")
    # Drawn again after htmx swapped the panel.
    expect(handler.locator("#evidence-map.leaflet-container .leaflet-interactive:not(.map-outline)").first).to_be_visible()
    act(handler, case.number, "handle", "处置完成", result="已联系车主挪车，通道已清空", photos=[after])
    expect(handler.locator(".photos img")).to_have_count(4)
    handler.wait_for_function("() => [...document.querySelectorAll('.photos img')].every(i => i.naturalWidth > 0)")
    shot("handler-handled", handler)

    # 4. The operator verifies and asks the reporter before 结案 (a reachable reporter: no plain 结案).
    operator = new_page()
    login(operator, "operator_kg", next_url=f"/work/cases/{case.number}/")
    expect(operator.locator(".photos img")).to_have_count(4)
    act(operator, case.number, "verify", "核查通过")
    expect(operator.get_by_role("button", name="结案", exact=True)).to_have_count(0)
    act(operator, case.number, "ask_confirmation", "结案前请群众确认")
    expect(operator.locator("#panel")).to_contain_text("待群众确认")
    shot("operator-asked", operator)

    # 5. On the phone the reporter sees the after photo and answers 否: it goes back to the handler.
    resident.goto(f"/cases/{case.number}/")
    expect(resident.get_by_role("heading", name="已解决吗？")).to_be_visible()
    expect(resident.locator(".photos img")).to_have_count(4)  # before and after; the check's are staff-only
    assert loaded_thumbnails(resident) == 4 or resident.wait_for_function(
        "() => [...document.querySelectorAll('.photos img')].every(i => i.naturalWidth > 0)")
    assert no_sideways_scroll(resident)
    resident.get_by_label("补充说明（可选）").fill("车又停回来了")
    shot("resident-asked", resident)
    with resident.expect_navigation():
        resident.get_by_role("button", name="否，未解决").click()
    expect(resident.get_by_text("感谢您的答复。")).to_be_visible()
    case.refresh_from_db()
    assert (case.state, case.holder_unit_id) == ("dispatched", world.units["dz_en"].id)
    handler.goto("/work/notifications/")
    expect(handler.get_by_role("link", name=re.compile(case.number)).first).to_be_visible()

    # 6. Handled and verified again, asked again: 是 closes it.
    step(world, "handler_en", case, "acknowledge")
    step(world, "handler_en", case, "handle", result="已安装隔离桩")
    step(world, "operator_kg", case, "verify")
    step(world, "operator_kg", case, "ask_confirmation")
    resident.goto(f"/cases/{case.number}/")
    with resident.expect_navigation():
        resident.get_by_role("button", name="是，已解决").click()
    case.refresh_from_db()
    assert case.state == "closed"
    expect(resident.get_by_role("heading", name="问题又出现了？")).to_be_visible()  # 7 days to reopen
    shot("resident-closed", resident)
    assert list(case.events.order_by("seq").values_list("action", flat=True)) == [
        "submit", "register", "dispatch", "acknowledge", "handle", "verify", "ask_confirmation", "not_resolved",
        "acknowledge", "handle", "verify", "ask_confirmation", "confirm"]
