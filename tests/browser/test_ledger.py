"""Leaders keep a rectification ledger in the browser: a batch, its problem list and items, the
exports, the items' acceptance on their case pages and the batch's acceptance."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from yiwang.cases.services import case_act
from yiwang.core import clock
from yiwang.ledger import services

pytestmark = pytest.mark.browser


def test_a_leader_builds_a_ledger_and_exports_it(page, world, shot, login):
    login(page, "leader_kg", next_url="/ledger/")
    expect(page.get_by_role("heading", name="问题清单与整改台账")).to_be_visible()
    page.get_by_role("link", name="设立整改批次").click()
    page.get_by_label("批次名称").fill("软弱涣散基层党组织整顿（第一批）")
    page.get_by_label("区域").select_option("KG")
    page.get_by_label("验收单位").select_option("KG-OF")
    page.get_by_role("button", name="设立").click()
    expect(page.get_by_role("heading", name="软弱涣散基层党组织整顿（第一批）")).to_be_visible()
    expect(page.locator("#batch-stage")).to_have_text("尚无整改事项")

    page.get_by_text("添加问题清单").click()
    page.get_by_label("清单名称（整顿对象）").fill("程家村党支部问题清单")
    page.get_by_label("所在区域").select_option("KG-DZ-CJC")
    page.get_by_role("button", name="建立问题清单").click()
    section = page.locator("section", has=page.get_by_role("heading", name=re.compile("程家村党支部问题清单")))
    expect(section).to_be_visible()

    for problem, days, immediate in (("“三会一课”落实不到位", 20, True), ("党员队伍老化", 90, False)):
        section.get_by_text("添加整改事项").click()
        form = section.locator("form")
        form.get_by_label("存在问题", exact=True).fill(problem)
        form.get_by_label("整改措施", exact=True).fill("建立台账，按月督办")
        form.get_by_label("责任单位", exact=True).select_option("KG-DZ-CJC-DZB")
        form.get_by_label("责任人账号（可选，须为责任单位人员）").fill("secretary_cjc")
        form.get_by_label("整改时限", exact=True).fill((clock.today() + dt.timedelta(days=days)).isoformat())
        form.get_by_label("立行立改" if immediate else "长期整改").check()
        form.get_by_role("button", name="登记整改事项").click()
        expect(page.locator(".messages")).to_contain_text("已登记整改事项")
        section = page.locator("section", has=page.get_by_role("heading", name=re.compile("程家村党支部问题清单")))

    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("立行立改")
    expect(rows.nth(1)).to_contain_text("长期整改")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(2)] == ["1", "2"]
    expect(page.locator("#batch-stage")).to_have_text("整改中")
    shot("ledger")

    xlsx = page.request.get(page.get_by_role("link", name="导出 Excel").get_attribute("href"))
    pdf = page.request.get(page.get_by_role("link", name="打印 PDF").get_attribute("href"))
    assert xlsx.ok and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert pdf.ok and pdf.body().startswith(b"%PDF-")

    number = rows.nth(0).locator("td").last.inner_text()
    rows.nth(0).get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(rf"/work/cases/{number}/$"))
    expect(page.locator("#panel .badge").first).to_have_text("待整改")
    shot("case-page")


def _ledger_with_one_item_waiting(world):
    leader, secretary = world.viewer("leader_kg"), world.viewer("secretary_cjc")
    batch = services.batch_create(viewer=leader, title="第二批", region_code="KG", supervisor_unit_code="KG-OF",
                                  matter_code="RECT_GRASSROOTS")
    plist = services.problem_list_create(viewer=leader, batch_id=batch.pk, title="程家村党支部问题清单",
                                         region_code="KG-DZ-CJC")
    items = [services.item_create(viewer=leader, problem_list_id=plist.pk, problem=p, measures="整改",
                                  unit_code="KG-DZ-CJC-DZB", assignee_username="secretary_cjc",
                                  due_at=clock.today() + dt.timedelta(days=40))
             for p in ("班子软弱涣散", "村务公开不规范")]
    for item, approve in ((items[0], True), (items[1], False)):
        case = item.case
        for who, action, inputs in (
                (secretary, "start", {}), (secretary, "submit_acceptance", {"result": "已整改"}),
                *([(leader, "approve", {})] if approve else [])):
            case = case_act(viewer=who, case_id=case.pk, action=action, version=case.version, **inputs)
    return batch, items


def test_a_batch_passes_acceptance_once_its_last_item_does(page, world, shot, login):
    batch, items = _ledger_with_one_item_waiting(world)
    login(page, "leader_kg", next_url=f"/ledger/batches/{batch.pk}/")
    expect(page.locator("#batch-stage")).to_have_text("验收阶段")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "50")
    page.get_by_label("批次验收结论").fill("验收合格")
    page.get_by_role("button", name="批次验收通过").click()
    expect(page.locator("#accept-form .field-error")).to_contain_text("还有 1 项整改事项未通过验收")
    shot("refused")

    page.get_by_role("link", name=items[1].case.number).click()
    page.wait_for_function("() => window.htmx !== undefined")
    button = page.locator("#panel form").filter(has=page.get_by_role("button", name="验收通过", exact=True))
    with page.expect_response(lambda r: r.url.endswith("/act/approve/")):
        button.get_by_role("button").click()
    expect(page.locator("#panel .badge").first).to_have_text("已验收")

    page.goto(f"/ledger/batches/{batch.pk}/")
    expect(page.locator("#batch-stage")).to_have_text("事项均已验收，待批次验收")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    page.get_by_label("批次验收结论").fill("第二批整顿经逐项验收，全部达标")
    page.get_by_role("button", name="批次验收通过").click()
    expect(page.locator("#batch-stage")).to_have_text("已通过验收")
    expect(page.locator("#batch-progress")).to_contain_text("第二批整顿经逐项验收，全部达标")
    expect(page.get_by_role("button", name="批次验收通过")).to_have_count(0)
    shot("accepted")
    page.goto("/ledger/")
    expect(page.locator("#batches")).to_contain_text("已通过验收")
