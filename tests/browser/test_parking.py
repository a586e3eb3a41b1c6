"""The parking hotspot page in a real browser: map, hour chart, heat table, and the place filter."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from yiwang.core import clock
from yiwang.org.models import Region
from yiwang.parking import services

pytestmark = pytest.mark.browser

SCHOOL = (34.4052, 108.7052)  # in 幸福里第一网格
ELSEWHERE = (34.405, 108.745)  # 程家村第一网格, far from any school


def seed(world) -> dict:
    """School-run mornings by 幸福里小学 on the last weekdays, evenings elsewhere."""
    leader = world.viewer("leader_kg")
    services.tagged_place_create(viewer=leader, name="幸福里小学", kind="school", lat=SCHOOL[0], lng=SCHOOL[1])
    operator = world.viewer("operator_kg")
    today = timezone.localdate()
    counts = {"school": 0, "elsewhere": 0, "cells": set()}
    day = today - dt.timedelta(days=1)
    while counts["school"] < 6:
        if day.weekday() < 5:
            for minute in (35, 50):
                moment = timezone.make_aware(dt.datetime.combine(day, dt.time(7, minute)))
                with clock.frozen_at(moment):
                    services.violation_record(viewer=operator, plate="陕A12345", source="camera", lat=SCHOOL[0],
                                              lng=SCHOOL[1])
                counts["school"] += 1
                counts["cells"].add(day.weekday())
            moment = timezone.make_aware(dt.datetime.combine(day, dt.time(19, 10)))
            with clock.frozen_at(moment):
                services.violation_record(viewer=operator, plate="陕AD54321", source="patrol", lat=ELSEWHERE[0],
                                          lng=ELSEWHERE[1])
            counts["elsewhere"] += 1
        day -= dt.timedelta(days=1)
    return counts


def test_a_leader_reads_where_and_when_parking_congests(page, world, login, shot):
    counts = seed(world)
    login(page, "leader_kg", next_url="/parking/hotspots/")
    expect(page).to_have_url(re.compile(r"/parking/hotspots/$"))
    expect(page.get_by_role("heading", name="乱停车热点：在哪里、在什么时候")).to_be_visible()
    total = counts["school"] + counts["elsewhere"]
    expect(page.locator("[data-figure=total] b")).to_have_text(str(total))
    expect(page.locator("[data-figure=busiest-hour] b")).to_have_text("7:00–8:00")
    # The map drew the grid outlines, a marker for every violation and one for the school; the chart drew too.
    outlines = Region.objects.filter(level="grid", boundary__isnull=False).count()
    page.wait_for_function("() => document.querySelectorAll('#map .leaflet-interactive').length > 0")
    expect(page.locator("#map path.leaflet-interactive")).to_have_count(outlines + total + 1)
    expect(page.locator("#hour-chart[data-drawn='1']")).to_have_count(1)
    table = page.locator("#heat-table")
    seven = table.locator("tbody tr").filter(has=page.get_by_role("rowheader", name="7:00", exact=True))
    for weekday in counts["cells"]:
        cell = seven.locator(f"td[data-weekday='{weekday}']")
        expect(cell).not_to_have_text("0")
        expect(cell).to_have_class(re.compile(r"heat-[1-5]"))
    expect(table.locator("tfoot td").last).to_have_text(str(total))
    expect(page.locator("#near-table")).to_contain_text("幸福里小学")
    shot("hotspots-all")

    page.get_by_label("重点场所").select_option("school")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"tag=school"))
    expect(page.locator("[data-figure=total] b")).to_have_text(str(counts["school"]))
    nineteen = table.locator("tbody tr").filter(has=page.get_by_role("rowheader", name="19:00", exact=True))
    expect(nineteen.locator("td.num")).to_have_text("0")
    expect(page.locator("#near-table tbody tr").first).to_contain_text(str(counts["school"]))
    shot("hotspots-near-schools")


def test_a_handler_is_refused_the_hotspot_page(page, world, login):
    login(page, "handler_en")
    response = page.goto("/parking/hotspots/")
    assert response.status == 403
