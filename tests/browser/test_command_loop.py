"""The GB/T 30428 loop in real browsers: a grid worker reports from a phone, the command centre
dispatches it from the board, the handler acknowledges and handles it, the operator sends it back
once and then verifies and closes it. Screenshots of every step are kept."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

def _real_jpeg() -> bytes:
    # A photo that decodes: reports keep only re-encoded pixels (cases.attachments.photos_store).
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(out, "JPEG")
    return out.getvalue()


JPEG = _real_jpeg()


def act(page, number: str, action: str, label: str, **fields):
    """Fill and submit one action form of the case panel (sent by htmx, swapped in place)."""
    form = page.locator("#panel form").filter(has=page.get_by_role("button", name=label, exact=True))
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_response(lambda r: r.url.endswith(f"/work/cases/{number}/act/{action}/")) as answer:
        form.get_by_role("button", name=label, exact=True).click()
    assert answer.value.status == 200
    expect(page.locator("#panel .field-error")).to_have_count(0)


def test_a_grid_report_goes_round_the_loop(new_page, world, login, shot, tmp_path):
    photo = tmp_path / "scene.jpg"
    photo.write_bytes(JPEG)

    # 1. The grid worker, on a phone, reports from the grid page with a typed position.
    worker = new_page(**PHONE)
    login(worker, "gridder_xfl", next_url="/grid/")
    worker.get_by_role("link", name=re.compile("幸福里第一网格")).first.click()
    expect(worker.get_by_role("heading", name=re.compile("幸福里第一网格"))).to_be_visible()
    worker.get_by_label("事件类别").select_option("INC_PARKING")
    worker.get_by_label("情况描述").fill("幸福里东门口车辆占用消防通道")
    worker.locator("#photo").set_input_files(str(photo))
    worker.get_by_label("纬度").fill("34.4050")
    worker.get_by_label("经度").fill("108.7050")
    shot("grid-worker-report", worker)
    with worker.expect_navigation():
        worker.get_by_role("button", name="提交", exact=True).click()
    expect(worker.get_by_text(re.compile("已上报，案件编号"))).to_be_visible()
    case = Case.objects.get()
    assert (case.channel, case.region.code, case.state) == ("grid", "KG-DZ-XFL-G1", "reported")
    assert case.materials and case.materials[0]["content_type"] == "image/jpeg"
    shot("grid-worker-reported", worker)

    # 2. The operator sees it on the board with the suggested unit and dispatches it in one click.
    operator = new_page()
    login(operator, "operator_kg", next_url="/command/")
    row = operator.get_by_role("row").filter(has=operator.get_by_role("link", name=case.number))
    expect(row).to_contain_text("底张街道综合执法队")
    expect(operator.locator("#map .leaflet-interactive:not(.map-outline)")).to_have_count(1)  # its point on the map
    shot("board-reported", operator)
    with operator.expect_navigation():
        row.get_by_role("button", name="立案并派遣").click()
    expect(operator.get_by_text(re.compile(f"{case.number} 已派遣"))).to_be_visible()
    shot("board-dispatched", operator)

    # 3. The handler finds it in the queue (and a notification), acknowledges and handles it.
    handler = new_page()
    login(handler, "handler_en", next_url="/work/notifications/")
    expect(handler.get_by_role("link", name=re.compile(case.number))).to_be_visible()
    handler.goto(f"/work/cases/{case.number}/")
    act(handler, case.number, "acknowledge", "签收")
    act(handler, case.number, "handle", "处置完成", result="已联系车主挪车")
    shot("handler-handled", handler)

    # 4. The operator checks, sends it back once, the handler redoes it, the operator verifies and closes.
    operator.goto("/command/?tab=verify")
    operator.get_by_role("link", name=case.number).click()
    act(operator, case.number, "rework", "返工", note="通道内仍有车辆")
    handler.goto(f"/work/cases/{case.number}/")
    act(handler, case.number, "acknowledge", "签收")
    act(handler, case.number, "handle", "处置完成", result="已拖移占道车辆")
    operator.goto(f"/work/cases/{case.number}/")
    act(operator, case.number, "verify", "核查通过")
    act(operator, case.number, "close", "结案")
    expect(operator.locator("#panel")).to_contain_text("已结案")
    shot("operator-closed", operator)
    case.refresh_from_db()
    assert case.state == "closed"
    assert list(case.events.order_by("seq").values_list("action", flat=True)) == [
        "submit", "register", "dispatch", "acknowledge", "handle", "rework", "acknowledge", "handle", "verify", "close"]

    # 5. The indicators page counts it, with its rework.
    operator.goto("/dashboard/incidents/?days=7")
    expect(operator.locator('[data-figure="rework_rate"] b')).to_have_text("100.000%")
    shot("indicators", operator)
