"""The leaders' dashboard by month and by unit: each unit's row for a chosen month is the public figure
for that unit and month, and the case list behind each number, which carries the month, holds exactly
the cases counted."""

import datetime as dt
import re
import zoneinfo
from html import unescape

import pytest

from yiwang.core import clock
from yiwang.stats import public
from yiwang.stats.selectors import FigureFilters, figure_cases, indicators

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)
UNITS = ("KG-DZ-XFL-SH", "KG-DZ-SH", "KG-CC", "KG-DZ-EN")

LINK = re.compile(r'<a href="([^"]+)" data-figure="(\w+)"[^>]*>([^<]*)</a>')


def _total(client, href: str) -> int:
    page = client.get(unescape(href))
    assert page.status_code == 200, href
    return int(re.search(r'data-total="(\d+)"', page.content.decode())[1])


def test_the_dashboard_s_unit_month_equals_the_public_one_and_its_lists(moved, client):
    """A leader picks a month: each unit's row is the public figure for that unit and month, and the list
    behind each number holds exactly the cases counted."""
    client.login(username="leader_kg", password="pw-leader_kg")
    leader = moved.viewer("leader_kg")
    with clock.frozen_at(TODAY):
        checked = 0
        for month in ("2026-10", "2026-11", "2026-12"):
            body = client.get("/dashboard/", {"region": "KG", "month": month}).content.decode()
            table = body[body.index('id="month-unit-table"'):]
            table = table[:table.index("</table>")]
            figures = {r["unit"]: r for r in indicators(viewer=leader, region_code="KG",
                                                        month=public.parse_month(month))["by_unit"]}
            for code, row in re.findall(r'<tr data-unit="([^"]+)">(.*?)</tr>', table, re.S):
                links = {figure: (href, text) for href, figure, text in LINK.findall(row)}
                assert int(links["received"][1]) == figures[code]["received"], (code, month)
                assert int(links["closed"][1]) == figures[code]["closed"], (code, month)
                if code in UNITS:
                    published = public.public_figures(unit_code=code, month=month)["month"]
                    assert (published["received"], published["closed"]) == (
                        int(links["received"][1]), int(links["closed"][1])), (code, month)
                for figure in ("received", "closed", "bad_reviews"):
                    href, text = links[figure]
                    assert f"month={month}" in href
                    assert _total(client, href) == int(text), (code, month, figure)
                    checked += int(text)
                assert _total(client, links["ratings"][0]) == figures[code]["ratings"], (code, month)
        assert checked >= 10  # the lists were not all empty


def test_the_list_s_month_filter_is_refused_when_malformed(moved, client):
    client.login(username="leader_kg", password="pw-leader_kg")
    for bad in ("2026-13", "=1+1", "11-2026"):
        page = client.get("/dashboard/cases/", {"region": "KG", "unit": "KG-DZ-SH", "month": bad, "received": "1"})
        assert page.status_code == 400 and "2026-11" in page.content.decode(), bad
        assert client.get("/dashboard/cases/export.xlsx", {"month": bad}).status_code == 400, bad
    with clock.frozen_at(TODAY):
        ok = figure_cases(viewer=moved.viewer("leader_kg"), filters=FigureFilters(
            region_code="KG", unit_code="KG-DZ-XFL-SH", received=True, month=dt.date(2026, 11, 1)))
        assert ok.count() == 3


def test_a_neighbour_reads_nothing_of_another_unit_s_month(moved, client):
    """程家村's secretary (same town) and 三普东's clerk (another new city) ask for 幸福里's station by month:
    the dashboard's month table and the list behind a number give them none of its cases."""
    with clock.frozen_at(TODAY):
        mine = client.login(username="leader_kg", password="pw-leader_kg") and _total(
            client, "/dashboard/cases/?unit=KG-DZ-XFL-SH&received=1&month=2026-11")
        assert mine == 3
        for username in ("secretary_cjc", "clerk_spd"):
            client.logout()
            client.login(username=username, password=f"pw-{username}")
            page = client.get("/dashboard/cases/", {"unit": "KG-DZ-XFL-SH", "received": "1", "month": "2026-11"})
            assert page.status_code in (200, 403, 404), username
            if page.status_code == 200:
                assert 'data-total="0"' in page.content.decode(), username
            table = client.get("/dashboard/", {"month": "2026-11"}).content.decode()
            assert 'data-unit="KG-DZ-XFL-SH"' not in table, username
            assert figure_cases(viewer=moved.viewer(username), filters=FigureFilters(
                unit_code="KG-DZ-XFL-SH", received=True, month=dt.date(2026, 11, 1))).count() == 0, username
