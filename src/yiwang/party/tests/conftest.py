import datetime as dt

import pytest

from yiwang.catalog.services import matter_create
from yiwang.org.models import UnitKind
from yiwang.org.services import resident_create, resident_update
from yiwang.party import services

# (name, gender, birth, experience)
MEMBERS = [
    ("张保权", "male", "1968-04-02", ["养殖", "经商"]),
    ("程秀兰", "female", "1972-09-15", ["种植"]),
    ("程建军", "male", "1955-01-20", ["村干部", "种植"]),
    ("李娟", "female", "1990-06-01", ["电商"]),
    ("王磊", "male", "1994-11-30", ["务工", "电商"]),
    ("赵红", "female", "1981-03-08", ["教师"]),
    ("程卫东", "male", "1962-07-07", ["养殖"]),
    ("刘涛", "male", "1987-12-12", ["务工"]),
    ("高玉兰", "female", "1949-05-05", []),
]

SUBSISTENCE_FORM = {
    "type": "object",
    "properties": {"household_size": {"type": "integer", "minimum": 1, "maximum": 12},
                   "monthly_income": {"type": "number", "minimum": 0}},
    "required": ["household_size", "monthly_income"],
}


@pytest.fixture
def branch(world):
    return world.units["cjc_branch"]


@pytest.fixture
def members(world, branch):
    secretary = world.viewer("secretary_cjc")
    return [services.member_create(viewer=secretary, branch=branch, name=name, gender=gender,
                                   birth_date=dt.date.fromisoformat(birth), experience=tags,
                                   occupation="农民", joined_on=dt.date(2000, 7, 1))
            for name, gender, birth, tags in MEMBERS]


@pytest.fixture
def poor(world):
    """程濛濛, a poor household of 程家村 (the report's), and the 低保 matter his measure applies for."""
    resident = resident_create(name="程濛濛", phone="13900000009", region=world.regions["cjc"])
    resident_update(resident=resident, poverty=True)
    matter_create(
        code="SUBSISTENCE", name="最低生活保障(低保)申请", kind="application", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=25,
        materials=[{"code": "id_card", "name": "身份证"}, {"code": "income", "name": "家庭收入说明"}],
        form_schema=SUBSISTENCE_FORM,
    )
    return resident


@pytest.fixture
def pair(world, branch, members, poor):
    return services.pair_create(viewer=world.viewer("secretary_cjc"), branch=branch, member_id=members[0].id,
                                resident_id=poor.id, needs="禁养区内无法继续养鸡，缺少收入来源")
