"""The leaders' dashboard: indicators by region with drill-down, the cases behind every figure,
and the Excel exports of both."""

import datetime as dt
import html
import io
import json
import re

import openpyxl
import pytest
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.feedback.services import evaluation_create
from yiwang.stats import exports, views
from yiwang.stats.selectors import iso_week
from yiwang.testing import SENIOR_OK

HEADERS = ["办件编号", "标题", "事项", "状态", "当前办理单位", "所属区域", "提交时间", "办理期限", "办结时间",
           "是否超期", "申请人", "联系电话", "评价等级", "评价内容", "评价意见"]
FIGURE_LINK = re.compile(r'href="(/dashboard/cases/\?[^"]*)"[^>]*>(?:<b>)?(\d+)(?:</b>)?<')


def apply(world, region="KG-DZ-XFL", **extra):
    fields = {"applicant_name": "王大爷", "applicant_phone": "13800000001", **extra}
    return case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code=region,
                       **SENIOR_OK, **fields).case


def close(world, case):
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="decide", version=case.version,
                    decision="approved")
    return case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="close", version=case.version,
                    delivery={"method": "post", "tracking": "SF1234567890"})


@pytest.fixture
def cases(world):
    """Kongang (KG) has a community with rated, open and overdue cases, a village with an open incident,
    and a case at the town itself; Qinhan (QH) has one case the KG leader must never see."""
    wang = world.viewer("resident_wang")
    rated = []
    for rating in (5, 4, 1):
        case = close(world, case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK).case)
        evaluation_create(viewer=wang, case_id=case.pk, rating=rating)
        rated.append(case)
    with clock.frozen_at(timezone.make_aware(dt.datetime(2019, 9, 2, 9))):
        late = apply(world, title="超期的老年证")
        late = case_act(viewer=world.viewer("clerk_xfl"), case_id=late.pk, action="accept", version=1)
    fresh = apply(world, title="=HYPERLINK(\"http://evil.example\",\"点我\")")
    town = apply(world, region="KG-DZ")
    incident = case_create(viewer=world.viewer("operator_kg"), matter_code="INC_PARKING", region_code="KG-DZ-CJC",
                           title="<b>占道</b>停车", lat=34.45, lng=108.75, channel="grid").case
    other = apply(world, region="QH-WC-SPD", applicant_name="李阿姨", applicant_phone="13800000002")
    return {"rated": rated, "late": late, "fresh": fresh, "town": town, "incident": incident, "other": other}


@pytest.fixture
def leader(client, world):
    client.login(username="leader_kg", password="pw-leader_kg")
    return client


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def page_json(text: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(match.group(1))


def listed_total(client, url: str) -> int:
    return int(re.search(r'data-total="(\d+)"', body(client.get(url))).group(1))


def workbook(response):
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def test_a_leader_sees_only_their_subtree(leader, cases):
    text = body(leader.get("/dashboard/"))
    assert "底张街道" in text and "秦汉新城" not in text and "渭城街道" not in text
    kg_cases = Case.objects.filter(region_path__startswith="/XX/KG/").count()
    assert re.search(rf'<b>{kg_cases}</b>案件总数', text)
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', text, re.S).group(0)
    assert "空港新城" in crumbs and "西咸新区" not in crumbs  # the area above is not theirs


def test_a_superuser_starts_at_the_area(client, cases):
    client.login(username="admin", password="pw-admin")
    text = body(client.get("/dashboard/"))
    assert 'data-drill="KG"' in text and 'data-drill="QH"' in text
    assert re.search(rf'<b>{Case.objects.count()}</b>案件总数', text)


def test_it_drills_down_to_a_town_and_a_community(leader, cases):
    town = body(leader.get("/dashboard/", {"region": "KG-DZ"}))
    assert 'data-drill="KG-DZ-XFL"' in town and 'data-drill="KG-DZ-CJC"' in town
    assert "底张街道(本级)" in town  # the case located at the town itself has its own row
    assert '<a href="/dashboard/?region=KG">空港新城</a>' in town  # the breadcrumb leads back up
    community = body(leader.get("/dashboard/", {"region": "KG-DZ-XFL"}))
    assert '<a href="/dashboard/?region=KG-DZ">底张街道</a>' in community
    assert cases["late"].number in community and cases["incident"].number not in community


@pytest.mark.parametrize("code", ["QH", "QH-WC-SPD", "XX", "NOPE"])
def test_a_region_outside_the_scope_is_a_404(leader, cases, code):
    other = cases["other"]
    for url in ("/dashboard/", "/dashboard/cases/", "/dashboard/cases/export.xlsx", "/dashboard/export.xlsx"):
        response = leader.get(url, {"region": code})
        assert response.status_code == 404, url
        assert response["Content-Type"] != exports.XLSX and "Content-Disposition" not in response, url
        text = response.content.decode()
        assert other.number not in text and "李阿姨" not in text and "秦汉新城" not in text, url
        assert "西咸新区" not in text and "渭城街道" not in text, url


def test_a_resident_is_refused(client, cases):
    client.login(username="resident_wang", password="pw-wang")
    numbers = [case.number for case in Case.objects.all()]
    for url in ("/dashboard/", "/dashboard/cases/", "/dashboard/cases/export.xlsx", "/dashboard/export.xlsx"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "仅限工作人员。" in response.content.decode(), url  # the reason, and none of the figures
        assert "Content-Disposition" not in response and not any(n in response.content.decode() for n in numbers)


def test_an_anonymous_visitor_is_sent_to_log_in(client, cases):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("region", ["", "KG-DZ", "KG-DZ-XFL"])
def test_every_count_links_to_a_list_of_exactly_that_many_cases(leader, cases, region):
    text = body(leader.get("/dashboard/", {"region": region} if region else {}))
    links = {(html.unescape(href), int(n)) for href, n in FIGURE_LINK.findall(text)}
    assert len(links) > 20  # KPIs, region rows, weeks, states, units
    for href, n in links:
        assert listed_total(leader, href) == n, href


def test_the_rates_link_to_the_cases_that_make_them(leader, cases):
    text = body(leader.get("/dashboard/", {"region": "KG-DZ-XFL"}))
    assert listed_total(leader, "/dashboard/cases/?region=KG-DZ-XFL&rating=any") == 3
    assert listed_total(leader, "/dashboard/cases/?region=KG-DZ-XFL&rating=bad") == 1
    assert 'href="/dashboard/cases/?region=KG-DZ-XFL&amp;rating=any"' in text


def test_every_satisfaction_figure_reaches_the_bad_reviews_behind_it(leader, cases, world):
    """18.10: the 差评 tile, each region row and each unit row link to the 差评 cases, listed with the
    rating, its tags and the comment (ID numbers and phones masked), and exported the same way."""
    wang = world.viewer("resident_wang")
    case = close(world, case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK).case)
    evaluation_create(viewer=wang, case_id=case.pk, rating=2, tags=["efficiency", "guide"],
                      comment="=1+1 等了三周 身份证610102199001011234 电话13912345678")
    text = body(leader.get("/dashboard/", {"region": "KG-DZ"}))
    assert 'data-figure="bad_reviews"' in text
    assert 'href="/dashboard/cases/?region=KG-DZ&amp;rating=bad"' in text
    unit = world.units["xfl_sh"].code
    assert f'unit={unit}&amp;rating=bad"' in text
    assert listed_total(leader, f"/dashboard/cases/?region=KG-DZ&unit={unit}&rating=bad") == 2
    listing = body(leader.get("/dashboard/cases/", {"region": "KG-DZ", "rating": "bad"}))
    assert case.number in listing and "不满意" in listing and "办事效率、指南准确" in listing
    assert "610102199001011234" not in listing and "13912345678" not in listing
    rows = list(workbook(leader.get("/dashboard/cases/export.xlsx", {"region": "KG-DZ", "rating": "bad"}))
                .iter_rows(values_only=True))
    line = {row[0]: row for row in rows[1:]}[case.number]
    assert line[12:14] == ("不满意", "办事效率、指南准确")
    assert line[14].startswith("=1+1") and "610102199001011234" not in line[14] and "13912345678" not in line[14]


def test_satisfaction_is_shown_with_three_decimals(leader, cases):
    text = body(leader.get("/dashboard/"))
    assert "66.667%" in text  # two good ratings of three
    assert "100.000" in text  # on-time rate of the closed cases


def test_the_trend_has_the_last_twelve_iso_weeks(leader, cases):
    text = body(leader.get("/dashboard/"))
    trend = page_json(text, "trend-data")
    assert len(trend["weeks"]) == 12 and trend["weeks"][-1] == iso_week(clock.today())
    submitted, closed = trend["series"]
    assert sum(submitted["values"]) == Case.objects.filter(
        region_path__startswith="/XX/KG/", created_at__year__gte=2020).count()
    assert closed["values"][-1] == 3
    assert len(re.findall(r"<tr><th scope=\"row\" title=", text)) == 12  # the table under the chart


def test_the_overdue_list_links_to_the_work_page(leader, cases):
    text = body(leader.get("/dashboard/"))
    overdue = re.search(r'<table id="overdue-table">.*?</table>', text, re.S).group(0)
    assert f'href="/work/cases/{cases["late"].number}/"' in overdue
    assert cases["fresh"].number not in overdue
    assert leader.get(f"/work/cases/{cases['late'].number}/").status_code == 200


def test_open_incidents_are_on_the_map_without_a_tile_server(leader, cases, settings):
    """A town's or a community's map shows each open incident; a new city's counts them per community."""
    settings.YIWANG_TILE_URL = ""
    text = body(leader.get("/dashboard/?region=KG-DZ"))
    config = page_json(text, "map-data")
    assert page_json(text, "map-base") == []  # no tiles: map.js draws the grid outlines as the base
    incident = next(p for p in config["points"] if p["href"] == f"/work/cases/{cases['incident'].number}/")
    assert (incident["lat"], incident["lng"]) == (34.45, 108.75)
    assert incident["label"].endswith("<b>占道</b>停车")  # raw text: map.js sets it with textContent
    assert config["incidents"] == 1 and not config["clustered"]

    config = page_json(body(leader.get("/dashboard/")), "map-data")  # leader_kg's home: the new city
    assert config["clustered"] and config["incidents"] == 1
    assert not any("/work/cases/" in p["href"] for p in config["points"])
    cluster = next(p for p in config["points"] if "kind=incident" in p["href"])
    assert (cluster["lat"], cluster["lng"]) == (34.45, 108.75) and cluster["label"].endswith("在办事件 1 件")
    listed = body(leader.get("/dashboard/cases/?" + html.unescape(cluster["href"]).split("?", 1)[1]))
    assert cases["incident"].number in listed and cases["late"].number not in listed


def test_echarts_is_loaded_on_the_dashboard_only(leader, cases):
    assert "vendor/echarts.min.js" in body(leader.get("/dashboard/"))
    assert "vendor/echarts.min.js" not in body(leader.get("/dashboard/cases/"))
    assert "vendor/echarts.min.js" not in body(leader.get("/work/"))


def test_the_case_list_pages_by_keyset(leader, cases, monkeypatch):
    monkeypatch.setattr(views, "CASES_PER_PAGE", 2)
    total = listed_total(leader, "/dashboard/cases/?region=KG")
    seen, url = [], "/dashboard/cases/?region=KG"
    while url:
        text = body(leader.get(url))
        seen += re.findall(r'<td><a href="/work/cases/(YW\d+)/">', text)
        more = re.search(r'<a href="([^"]+)" rel="next">', text)
        url = "/dashboard/cases/" + html.unescape(more.group(1)) if more else None
    assert len(seen) == len(set(seen)) == total
    assert cases["other"].number not in seen


def test_a_malformed_filter_is_a_400_that_says_why(leader, cases):
    response = leader.get("/dashboard/cases/", {"region": "KG", "week": "last week"})
    assert response.status_code == 400 and "2026-W48" in response.content.decode()
    assert leader.get("/dashboard/cases/", {"level": "planet"}).status_code == 400


def test_the_case_list_exports_to_excel_with_phones_masked(leader, cases):
    sheet = workbook(leader.get("/dashboard/cases/export.xlsx", {"region": "KG-DZ-XFL"}))
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    assert len(rows) - 1 == listed_total(leader, "/dashboard/cases/?region=KG-DZ-XFL")
    by_number = {row[0]: row for row in rows[1:]}
    late = by_number[cases["late"].number]
    assert late[9] == "是" and late[10] == "王大爷" and late[11] == "138****0001"
    assert not any("13800000001" in str(cell) for row in rows for cell in row)
    assert cases["other"].number not in by_number


def test_a_title_that_looks_like_a_formula_stays_text(leader, cases):
    response = leader.get("/dashboard/cases/export.xlsx", {"region": "KG-DZ-XFL"})
    sheet = workbook(response)
    cell = next(row[1] for row in sheet.iter_rows() if row[0].value == cases["fresh"].number)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_the_export_follows_the_list_filters(leader, cases):
    sheet = workbook(leader.get("/dashboard/cases/export.xlsx", {"region": "KG", "overdue": "1"}))
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [cases["late"].number]


def test_a_cut_export_says_so(leader, cases, monkeypatch):
    monkeypatch.setattr(exports, "MAX_ROWS", 2)
    rows = list(workbook(leader.get("/dashboard/cases/export.xlsx", {"region": "KG"})).iter_rows(values_only=True))
    assert len(rows) == 4 and "仅导出前 2 条" in rows[-1][0]


def test_the_region_table_exports_to_excel(leader, cases):
    sheet = workbook(leader.get("/dashboard/export.xlsx", {"region": "KG-DZ"}))
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("区域", "区划代码", "层级", "案件数")
    names = [row[0] for row in rows[1:]]
    assert names[-1] == "合计" and "幸福里社区" in names and "底张街道(本级)" in names
    total = rows[-1]
    assert total[3] == Case.objects.filter(region_path__startswith="/XX/KG/KG-DZ/").count()
    assert sum(row[3] for row in rows[1:-1]) == total[3]


def test_a_leader_of_two_cities_sees_both_side_by_side(client, world, cases):
    from yiwang.org.models import Role
    from yiwang.org.services import staff_grant, user_create

    user = user_create(username="leader_two", password="pw-two")
    staff_grant(user=user, unit=world.units["kg_office"], role=Role.LEADER)
    staff_grant(user=user, unit=world.units["qh_sh"], role=Role.LEADER)
    client.login(username="leader_two", password="pw-two")
    text = body(client.get("/dashboard/"))
    table = re.search(r'<table class="figures" id="region-table">.*?</table>', text, re.S).group(0)
    assert 'data-drill="KG"' in table and 'data-drill="QH"' in table and "西咸新区" not in table
    assert re.search(rf'<b>{Case.objects.count()}</b>案件总数', text)
    assert client.get("/dashboard/", {"region": "XX"}).status_code == 404
    for href, n in {(html.unescape(h), int(n)) for h, n in FIGURE_LINK.findall(text)}:
        assert listed_total(client, href) == n, href
