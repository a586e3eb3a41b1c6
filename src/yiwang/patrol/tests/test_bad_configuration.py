"""A schedule that cannot be drawn is refused with a message naming what to fix."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yiwang.core.errors import ValidationFailed
from yiwang.patrol import services
from yiwang.patrol.scheduling import MAX_NIGHTS, Member, Window, plan_shifts

TZ = ZoneInfo("Asia/Shanghai")
GOOD = Window(dt.time(0, 30), dt.time(3, 0), 120, id=1)
DAY = dt.date(2026, 6, 1)
FOUR = [Member(i) for i in range(1, 5)]


def draw(**overrides):
    args = {"start": DAY, "end": DAY + dt.timedelta(days=6), "windows": [GOOD], "members": FOUR, "team_size": 3,
            "seed": 1, "tz": TZ} | overrides
    return plan_shifts(**args)


@pytest.mark.parametrize("overrides, field, words", [
    ({"members": FOUR[:2]}, "team_size", "在岗队员只有 2 人"),
    ({"members": [*FOUR[:2], Member(3, active=False), Member(4, active=False)]}, "team_size", "少于每班 3 人"),
    ({"team_size": 0}, "team_size", "至少为 1"),
    ({"windows": []}, "windows", "没有配置巡逻时段"),
    ({"windows": [Window(dt.time(3, 0), dt.time(0, 30), 120)]}, "latest_start", "早于最早出发时间"),
    ({"windows": [Window(dt.time(0, 30), dt.time(3, 0), 0)]}, "duration_minutes", "大于 0"),
    ({"windows": [Window(dt.time(0, 30), dt.time(3, 0), -5)]}, "duration_minutes", "大于 0"),
    ({"windows": [Window(dt.time(0, 30), dt.time(3, 0), 60, weekdays=frozenset({7}))]}, "weekdays", "星期"),
    ({"end": DAY - dt.timedelta(days=1)}, "end", "不能早于开始日期"),
    ({"end": DAY + dt.timedelta(days=MAX_NIGHTS)}, "end", f"最多排 {MAX_NIGHTS} 个夜晚"),
])
def test_it_refuses_a_configuration_that_cannot_work(overrides, field, words):
    with pytest.raises(ValidationFailed) as refused:
        draw(**overrides)
    assert refused.value.field == field
    assert words in refused.value.message


def test_a_busy_night_that_leaves_too_few_members_names_the_night():
    with pytest.raises(ValidationFailed, match="2026-06-03"):
        draw(busy={DAY + dt.timedelta(days=2): {1, 2}})


def test_an_invalid_window_cannot_be_saved(patrol):
    with pytest.raises(ValidationFailed) as refused:
        services.window_add(team=patrol.team, earliest_start=dt.time(3, 0), latest_start=dt.time(1, 0),
                            duration_minutes=60)
    assert refused.value.field == "latest_start"


def test_a_team_of_nobody_cannot_be_created(patrol, world):
    with pytest.raises(ValidationFailed):
        services.team_create(name="空队", unit=patrol.branch, region=world.regions["xfl"], team_size=0)
