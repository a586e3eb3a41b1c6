import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from yiwang.core import clock
from yiwang.parking import services

# Inside 幸福里第一网格 (108.70–108.71, 34.40–34.41) and 程家村第一网格 (108.74–108.75).
XFL_G1 = (34.405, 108.705)
XFL_G2 = (34.405, 108.715)
CJC_G1 = (34.405, 108.745)
SCHOOL = (34.4052, 108.7052)  # 幸福里小学, a few tens of metres from XFL_G1
NOW = timezone.make_aware(dt.datetime(2026, 6, 3, 10, 0))  # a Wednesday

CITY_BANDS = [
    {"name": "白天", "start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_price": "1.00"},
    {"name": "夜间", "start": "20:00", "end": "08:00", "unit_minutes": 60, "unit_price": "1.00", "cap": "5.00"},
]


@pytest.fixture
def now():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def parking(world, now):
    """Two zones, a school, and the district's penalty rules."""
    leader = world.viewer("leader_kg")
    admin = world.viewer("admin")
    street = services.zone_create(viewer=leader, code="XFL-P1", name="幸福路路内泊位", kind="on_street",
                                  region_code="KG-DZ-XFL-G1", capacity=2, bands=CITY_BANDS, lat=XFL_G1[0],
                                  lng=XFL_G1[1], operator="西咸停车运营公司", free_minutes=15, daily_cap="30.00")
    lot = services.zone_create(viewer=leader, code="CJC-L1", name="程家村公共停车场", kind="lot",
                               region_code="KG-DZ-CJC-G1", capacity=50, bands=CITY_BANDS[:1], lat=CJC_G1[0],
                               lng=CJC_G1[1], spaces=3)
    school = services.tagged_place_create(viewer=leader, name="幸福里小学", kind="school", lat=SCHOOL[0], lng=SCHOOL[1])
    rules = {
        "warn": services.penalty_rule_create(viewer=admin, name="首次警告", decision="warning"),
        "fine": services.penalty_rule_create(viewer=admin, name="再次罚款", decision="fine", amount="50", min_repeat=1),
        "school": services.penalty_rule_create(viewer=admin, name="学校周边罚款", decision="fine", amount="100",
                                               place_kind="school"),
        "habitual": services.penalty_rule_create(viewer=admin, name="屡犯从重", decision="fine", amount="200",
                                                 min_repeat=3),
    }
    return {"street": street, "lot": lot, "school": school, "rules": rules}


def money(value: str) -> Decimal:
    return Decimal(value)
