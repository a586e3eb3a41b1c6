"""Research topics (问题是什么、症结在哪、今后怎么办), their visits, the items findings open, and the counts."""

import datetime as dt

import pytest

from yiwang.core import clock
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.ledger import selectors, services
from yiwang.org.models import Role
from yiwang.org.services import staff_grant, user_create

pytestmark = pytest.mark.django_db


def topic(world, who="leader_kg", **kw):
    fields = dict(title="破解学校周边停车难", field="livelihood", unit_code="KG-OF", problem="学校周边高峰拥堵",
                  crux="停车管理职能空白", plan="明确职能，施划泊位")
    fields.update(kw)
    return services.topic_create(viewer=world.viewer(who), **fields)


def visit(world, t, who="leader_kg", **kw):
    fields = dict(visited_on=clock.today() - dt.timedelta(days=1), place="底张街道幸福里社区",
                  people_met="社区书记、家长代表", findings="放学时段校门口乱停车严重")
    fields.update(kw)
    return services.visit_log(viewer=world.viewer(who), topic_id=t.pk, **fields)


def test_a_leader_registers_a_topic_of_their_unit(world):
    t = topic(world)
    assert (t.level, t.leader.username, t.leader_name, t.region_path) == (
        "city", "leader_kg", "leader_kg", world.regions["kg"].path)


@pytest.mark.parametrize("who,fields,error,field", [
    ("leader_kg", {"field": "sports"}, ValidationFailed, "field"),
    ("leader_kg", {"crux": ""}, ValidationFailed, "crux"),
    ("leader_kg", {"unit_code": "QH-SH"}, PermissionDenied, "unit_code"),
    ("leader_kg", {"leader_username": "operator_kg"}, ValidationFailed, "leader"),
    ("operator_kg", {"unit_code": "KG-CC"}, ValidationFailed, "leader"),
    ("leader_kg", {"title": "x" * 201}, ValidationFailed, "title"),
])
def test_bad_topics_are_refused_with_the_field(world, who, fields, error, field):
    with pytest.raises(error) as err:
        topic(world, who=who, **fields)
    assert err.value.field == field


def test_visits_are_logged_by_the_leading_unit_only(world):
    t = topic(world)
    v = visit(world, t)
    assert v.region_path == t.region_path and [x.pk for x in selectors.visits_of(t)] == [v.pk]
    with pytest.raises(PermissionDenied):
        visit(world, t, who="operator_kg")  # sees the city's topics, but does not lead this one
    with pytest.raises(NotFound):
        visit(world, t, who="secretary_cjc")  # sees nothing above the village
    with pytest.raises(ValidationFailed) as err:
        visit(world, t, visited_on=clock.today() + dt.timedelta(days=1))
    assert err.value.field == "visited_on"


def test_findings_open_an_item_in_the_topics_problem_list(world):
    t = topic(world)
    v = visit(world, t)
    item = services.visit_item_open(viewer=world.viewer("leader_kg"), visit_id=v.pk, problem=v.findings,
                                    measures="施划临时泊位，错峰放学", unit_code="KG-DZ-EN",
                                    due_at=clock.today() + dt.timedelta(days=20), immediate=True)
    again = services.visit_item_open(viewer=world.viewer("leader_kg"), visit_id=v.pk, problem="接送车辆无处停放",
                                     measures="协调学校开放操场", unit_code="KG-DZ-EN",
                                     due_at=clock.today() + dt.timedelta(days=90))
    assert item.problem_list_id == again.problem_list_id and (item.number, again.number) == (1, 2)
    assert item.problem_list.topic_id == t.pk and item.visit_id == v.pk
    assert item.case.supervisor_unit_id == world.units["kg_office"].id  # the topic's unit follows it up
    assert item.case.matter.code == "RECT_GRASSROOTS" and item.batch_id is None
    handler = world.viewer("handler_en")
    assert selectors.item_get(viewer=handler, item_id=item.pk) == item  # the responsible unit sees its item


def test_counts_by_level_leader_and_field(world):
    area = world.regions["area"]
    from yiwang.org.services import unit_create

    area_office = unit_create(code="XX-OF", name="西咸新区党工委管委会办公室", kind="office", region=area)
    chief = user_create(username="leader_area", full_name="车飞")
    staff_grant(user=chief, unit=area_office, role=Role.LEADER)
    a = topic(world, who="admin", unit_code="XX-OF", leader_username="leader_area", field="reform",
              title="管理真空与职能交叉")
    b, c = topic(world), topic(world, field="party", title="软弱涣散党组织整顿")
    for t, n in ((a, 3), (b, 2), (c, 0)):
        for _ in range(n):
            visit(world, t, who="admin")
    figures = selectors.topic_counts(viewer=world.viewer("admin"))
    assert (figures.topics, figures.visits) == (3, 5)
    assert [(r.key, r.topics, r.visits) for r in figures.by_level] == [("area", 1, 3), ("city", 2, 2)]
    assert [(r.label, r.topics, r.visits) for r in figures.by_leader] == [
        ("leader_kg（空港新城管委会）", 2, 2), ("车飞（西咸新区党工委管委会办公室）", 1, 3)]
    assert {r.key: (r.topics, r.visits) for r in figures.by_field} == {
        "reform": (1, 3), "livelihood": (1, 2), "party": (1, 0)}
    # A 新城 leader counts only what lies in their city.
    mine = selectors.topic_counts(viewer=world.viewer("leader_kg"))
    assert (mine.topics, mine.visits) == (2, 2)
