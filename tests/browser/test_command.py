"""智能派单 in real browsers: the board shows the category rule's and the model's suggestions side by
side and dispatches to the model's unit in one click; a grid worker's confident report is registered
and dispatched by the system before any operator touches it."""

import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.cases.tasks import run_announcements
from yiwang.catalog.services import matter_create
from yiwang.command import classifier, services
from yiwang.command.tests import synthetic
from yiwang.org.models import UnitKind

pytestmark = pytest.mark.browser

GRID_PATH = "/XX/KG/KG-DZ/KG-DZ-XFL/KG-DZ-XFL-G1/"


@pytest.fixture
def model(world):
    matter_create(code="INC_SANITATION", name="环境卫生", kind="incident", handling_levels=["town", "city"],
                  responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.OFFICE, time_limit=1,
                  keywords="垃圾 卫生 清运")
    fitted = classifier.fit(synthetic.reports(400), units=synthetic.UNITS, words=synthetic.keywords())
    services.dispatch_model_save(model=fitted, region_code="XX", trained_on=400,
                                 metrics={"category_top1": 0.97, "unit_top1": 0.95})
    return fitted


def test_the_board_offers_both_suggestions_and_dispatches_to_the_models_unit(page, world, model, login, shot):
    case = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_THEFT", lat=34.405, lng=108.705,
                       title="夜里有人偷电动车电瓶", channel="grid").case
    login(page, "operator_kg", next_url="/command/")
    expect(page.locator("#smart-dispatch")).to_contain_text("模型 v")
    expect(page.locator("#smart-dispatch")).to_contain_text("自动派遣未开启")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case.number))
    expect(row).to_contain_text("按类别")
    expect(row).to_contain_text("无建议")  # no police station in this small world: the rule has nothing
    expect(row.locator(".smart")).to_contain_text("空港新城综合执法局")
    expect(row.locator(".smart")).to_contain_text("治安/盗窃")
    shot("board-with-smart-suggestion")
    with page.expect_navigation():
        row.get_by_role("button", name="按智能建议派遣").click()
    expect(page.get_by_text(re.compile("已派遣"))).to_be_visible()
    case.refresh_from_db()
    assert case.state == "dispatched" and case.holder_unit_id == world.units["kg_en"].id
    shot("dispatched")


def test_a_confident_grid_report_is_dispatched_by_the_system(new_page, world, model, login, shot):
    text = "学校门口车辆乱停，堵住了出入口"
    confidence = model.predict(text, GRID_PATH).units[0].probability
    services.dispatch_settings_update(auto_enabled=True, auto_threshold=round(confidence - 0.05, 3),
                                      min_training_cases=200)
    worker = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(worker, "gridder_xfl", next_url="/grid/")
    worker.get_by_role("link", name=re.compile("幸福里第一网格")).first.click()
    worker.get_by_label("事件类别").select_option("INC_PARKING")
    worker.get_by_label("情况描述").fill(text)
    worker.get_by_label("纬度").fill("34.4050")
    worker.get_by_label("经度").fill("108.7050")
    with worker.expect_navigation():
        worker.get_by_role("button", name="提交", exact=True).click()
    expect(worker.get_by_text(re.compile("已上报，案件编号"))).to_be_visible()
    assert Case.objects.get().state == "reported"  # dispatch is the worker's, not the request's
    assert run_announcements() == 1  # what `yiwang worker` does within a second
    case = Case.objects.get()
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    event = CaseEvent.objects.get(case=case, action="dispatch")
    assert event.actor_id is None and event.payload["smart_dispatch"]["confidence"] >= confidence - 0.05

    operator = new_page()
    login(operator, "operator_kg", next_url="/command/")
    expect(operator.get_by_role("link", name=case.number)).to_have_count(0)  # nothing left to register
    operator.goto("/command/?tab=handling")
    expect(operator.get_by_role("row").filter(has=operator.get_by_role("link", name=case.number))).to_contain_text(
        "底张街道综合执法队")
    operator.goto(f"/work/cases/{case.number}/")
    expect(operator.locator("#panel .timeline")).to_contain_text("智能派单")
    shot("timeline-auto-dispatch", operator)
