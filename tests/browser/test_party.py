"""The party secretary in a browser: edits the grouping proposal and saves it; logs a visit and an
income on an assistance pair, whose income chart ECharts draws."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from yiwang.catalog.services import matter_create
from yiwang.core import clock
from yiwang.org.models import UnitKind
from yiwang.org.services import resident_create, resident_update
from yiwang.party import services
from yiwang.party.models import GroupMembership, IncomeRecord

pytestmark = pytest.mark.browser

MEMBERS = [("张保权", "1968-04-02", ["养殖", "经商"]), ("程秀兰", "1972-09-15", ["种植"]),
           ("程建军", "1955-01-20", ["村干部"]), ("李娟", "1990-06-01", ["电商"]), ("王磊", "1994-11-30", ["务工"]),
           ("赵红", "1981-03-08", ["教师"])]


def members(world):
    secretary = world.viewer("secretary_cjc")
    return [services.member_create(viewer=secretary, branch=world.units["cjc_branch"], name=name,
                                   gender="male", birth_date=dt.date.fromisoformat(birth), experience=tags)
            for name, birth, tags in MEMBERS]


def test_the_secretary_edits_the_grouping_proposal_and_saves_it(page, world, login, shot):
    made = members(world)
    login(page, "secretary_cjc", next_url="/party/")
    expect(page).to_have_url(re.compile(r"/party/KG-DZ-CJC-DZB/$"))
    expect(page.get_by_text("尚未分组。")).to_be_visible()
    page.get_by_role("link", name="分组建议").first.click()
    page.get_by_label("党小组数").fill("3")
    page.get_by_role("button", name="重新生成建议").click()
    groups = page.locator("section.party-group")
    expect(groups).to_have_count(3)
    expect(page.locator("#name-0")).to_have_value("致富之星党小组")
    shot("proposal")

    mover = made[0]
    first = page.locator(f'li[data-member="{mover.id}"]')
    home = int(first.locator("xpath=ancestor::section[1]").get_attribute("data-group"))
    target = (home + 1) % 3
    target_count = int(groups.nth(target).locator("[data-count]").inner_text())
    page.locator("#name-2").fill("乡村振兴党小组")
    page.get_by_label("张保权所在小组").select_option(str(target))
    # The script moved the member into the chosen group and recounted, without a reload.
    expect(groups.nth(target).locator(f'li[data-member="{mover.id}"]')).to_have_count(1)
    expect(groups.nth(target).locator("[data-count]")).to_have_text(str(target_count + 1))
    expect(page.locator("#member-" + str(made[1].id)).locator('option[value="2"]')).to_have_text("乡村振兴党小组")
    shot("moved")

    with page.expect_navigation():
        page.get_by_role("button", name="保存分组").click()
    expect(page).to_have_url(re.compile(r"/party/KG-DZ-CJC-DZB/$"))
    expect(page.get_by_text("已保存 3 个党小组。")).to_be_visible()
    expect(page.locator(".party-groups")).to_contain_text("乡村振兴党小组")
    assert GroupMembership.objects.get(member=mover).group.position == target
    assert GroupMembership.objects.count() == len(made)
    shot("saved")


def test_the_secretary_logs_a_visit_and_an_income_on_a_pair(page, world, login, shot):
    made = members(world)
    poor = resident_create(name="程濛濛", phone="13900000009", region=world.regions["cjc"])
    resident_update(resident=poor, poverty=True)
    matter_create(code="SUBSISTENCE", name="最低生活保障(低保)申请", kind="application",
                  handling_levels=["community", "town"], responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=25)
    login(page, "secretary_cjc", next_url="/party/KG-DZ-CJC-DZB/")
    page.get_by_text("新建帮扶对子").click()
    page.get_by_label("帮扶党员").select_option(str(made[0].id))
    page.get_by_label("贫困户").select_option(str(poor.id))
    page.get_by_label("帮扶需求").fill("禁养区内养鸡场关停，缺少收入来源")
    with page.expect_navigation():
        page.get_by_role("button", name="结对并建立帮扶案件").click()
    expect(page).to_have_url(re.compile(r"/party/pairs/\d+/$"))
    expect(page.locator("#pair-state")).to_have_text("帮扶中")
    shot("pair-opened")

    page.get_by_label("走访情况").fill("入户了解家庭收入和劳动力情况")
    with page.expect_navigation():
        page.get_by_role("button", name="记录走访").click()
    expect(page.get_by_text("已记录走访。")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("入户了解家庭收入和劳动力情况")

    last = clock.today().replace(day=1) - dt.timedelta(days=1)
    form = page.locator("form#income")
    form.get_by_label("年").fill(str(last.year))
    form.get_by_label("月", exact=True).select_option(str(last.month))
    form.get_by_label("来源").select_option("land_transfer")
    form.get_by_label("金额(元)").fill("3200")
    with page.expect_navigation():
        form.get_by_role("button", name="记录收入").click()
    expect(page.get_by_text("已记录收入。")).to_be_visible()
    expect(page.locator("#income-table")).to_contain_text("3200.00")
    expect(page.locator("#income-12")).to_contain_text("3200.00")
    expect(page.locator("#income-chart[data-drawn='1']")).to_have_count(1)
    assert IncomeRecord.objects.get().amount == 3200

    page.get_by_label("走访情况").fill("x" * 3000)  # too long: refused with the field's message, nothing written
    with page.expect_navigation():
        page.get_by_role("button", name="记录走访").click()
    expect(page.locator("form#visit .field-error")).to_contain_text("内容不能超过")
    shot("pair-with-income")
