"""The command centre's closed loop (GB/T 30428): report → register → dispatch → handle → verify
→ close, with rework, merge of duplicates, 督办, the sweep's warnings, notifications, escalation."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases.models import Case, CaseEvent, EscalationRule, Notification
from yiwang.cases.services import case_act, case_create
from yiwang.cases.tasks import sweep_deadlines
from yiwang.command.selectors import board_cases, board_counts, duplicate_candidates
from yiwang.command.services import bulk_dispatch, register_and_dispatch
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.stats.incidents import incident_indicators
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a working Monday


@pytest.fixture
def at_monday():
    with clock.frozen_at(MONDAY):
        yield


def report(world, lat=34.405, lng=108.705, who="gridder_xfl", matter="INC_PARKING", title="路口乱停车"):
    # A grid worker reports on patrol; a resident reports online (the only channel a resident may name).
    channel = "online" if who.startswith("resident_") else "grid"
    return case_create(viewer=world.viewer(who), matter_code=matter, lat=lat, lng=lng, title=title,
                       channel=channel).case


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def test_the_full_loop_with_rework(world, at_monday):
    case = report(world)
    assert (case.state, case.holder_unit_id, case.region.code) == ("reported", world.units["kg_cc"].id, "KG-DZ-XFL-G1")
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id  # the suggested unit
    assert case.supervisor_unit_id == world.units["kg_cc"].id
    assert Notification.objects.filter(case=case, unit=world.units["dz_en"], kind="dispatched").count() == 1
    act(world, "handler_en", case, "acknowledge")
    case = act(world, "handler_en", case, "handle", result="已劝离车辆")
    assert case.holder_unit_id == world.units["kg_cc"].id  # back to the centre for verification
    case = act(world, "operator_kg", case, "rework", comment="现场仍有车辆")
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    assert Notification.objects.filter(case=case, kind="rework").count() == 1
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result="已贴单并拖移")
    act(world, "operator_kg", case, "verify")
    case = act(world, "operator_kg", case, "close")
    assert case.state == "closed" and case.closed_at is not None
    actions = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("action", flat=True))
    assert actions == ["submit", "register", "dispatch", "acknowledge", "handle", "rework", "acknowledge", "handle",
                       "verify", "close"]
    figures = incident_indicators(viewer=world.viewer("operator_kg"), start=MONDAY - dt.timedelta(days=1),
                                  end=MONDAY + dt.timedelta(days=1))
    assert figures["total"]["reported"] == 1 and figures["total"]["closed"] == 1
    assert figures["total"]["rework_rate"] == "100.000"
    assert figures["total"]["on_time_rate"] == "100.000"
    assert figures["by_unit"][0]["code"] == "KG-DZ-EN"
    assert figures["by_grid"][0]["code"] == "KG-DZ-XFL-G1"
    assert figures["hotspots"] == [{"grid": "幸福里第一网格", "code": "KG-DZ-XFL-G1", "category": "乱停车", "count": 1}]


def test_step_times_come_from_the_timeline(world):
    with clock.frozen_at(MONDAY):
        case = report(world)
        case = act(world, "operator_kg", case, "register")
    with clock.frozen_at(MONDAY + dt.timedelta(hours=2)):
        case = act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
        act(world, "handler_en", case, "acknowledge")
    with clock.frozen_at(MONDAY + dt.timedelta(hours=5)):
        act(world, "handler_en", case, "handle", result="已处置")
    with clock.frozen_at(MONDAY + dt.timedelta(hours=6)):
        act(world, "operator_kg", case, "verify")
    figures = incident_indicators(viewer=world.viewer("admin"), start=MONDAY - dt.timedelta(hours=1),
                                  end=MONDAY + dt.timedelta(days=1))["total"]
    assert (figures["avg_dispatch_hours"], figures["avg_handle_hours"], figures["avg_verify_hours"]) == (2.0, 3.0, 1.0)


def test_the_board_shows_each_step_to_the_centre_only(world, at_monday):
    first, second = report(world), report(world, lat=34.405, lng=108.745)
    operator = world.viewer("operator_kg")
    assert [c.pk for c in board_cases(operator, "reported")] == [first.pk, second.pk]
    register_and_dispatch(viewer=operator, case_id=first.pk, version=first.version)
    assert board_counts(operator) == {"reported": 1, "registered": 0, "handling": 1, "verify": 0}
    assert board_cases(world.viewer("operator_area"), "reported").count() == 0  # not its centre's cases
    assert board_cases(world.viewer("handler_en"), "reported").count() == 0


def test_bulk_dispatch_reports_each_case_and_one_stale_version_spoils_nothing(world, at_monday):
    a, b, c = report(world), report(world, lng=108.715), report(world, lng=108.745)
    results = bulk_dispatch(viewer=world.viewer("operator_kg"), items=[(a.pk, a.version), (b.pk, b.version + 5),
                                                                      (c.pk, c.version)])
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].field == "version"
    assert Case.objects.get(pk=b.pk).state == "reported"
    assert {Case.objects.get(pk=x.pk).state for x in (a, c)} == {"dispatched"}
    with pytest.raises(ValidationFailed):
        bulk_dispatch(viewer=world.viewer("operator_kg"), items=[])


def test_one_click_dispatch_is_all_or_nothing(world, at_monday):
    case = report(world)
    with pytest.raises(PermissionDenied):  # the target is outside what the operator may reach
        register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version,
                              unit_code="QH-WC-SH")
    case.refresh_from_db()
    assert case.state == "reported" and case.event_count == 1  # the registration rolled back too


def test_a_duplicate_is_found_nearby_and_merged_into_its_parent(world, at_monday):
    parent = report(world)
    child = report(world, lat=34.4052, lng=108.7052, who="resident_wang")  # ~30 m away
    far = report(world, lat=34.405, lng=108.715)  # ~900 m away
    application = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                              **SENIOR_OK).case
    operator = world.viewer("operator_kg")
    found = duplicate_candidates(operator, Case.objects.get(pk=child.pk))
    assert [d.case.pk for d in found] == [parent.pk] and 20 < found[0].distance_m < 40
    assert far.pk not in {d.case.pk for d in duplicate_candidates(operator, Case.objects.get(pk=child.pk))}
    for number, error in [("", ValidationFailed), ("YW2026112300009999", NotFound), (child.number, ValidationFailed),
                          (application.number, ValidationFailed)]:
        with pytest.raises(error):
            act(world, "operator_kg", child, "merge", parent_number=number)
    merged = act(world, "operator_kg", child, "merge", parent_number=parent.number)
    assert merged.state == "merged" and merged.parent_id == parent.pk and merged.closed_at is not None
    absorbed = CaseEvent.objects.get(case=parent, action="absorb_duplicate")
    assert absorbed.payload == {"child": child.number}
    assert list(Case.objects.get(pk=parent.pk).children.all()) == [merged]
    with pytest.raises(IllegalTransition):
        act(world, "operator_kg", child, "register")


def test_a_closed_case_cannot_take_a_duplicate(world, at_monday):
    parent, child = report(world), report(world)
    act(world, "operator_kg", parent, "dismiss", comment="重复")
    with pytest.raises(ValidationFailed):
        act(world, "operator_kg", child, "merge", parent_number=parent.number)


def test_supervision_comes_from_the_centre_or_a_leader_over_the_region(world, at_monday):
    case = report(world)
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    with pytest.raises(PermissionDenied):
        act(world, "handler_en", case, "supervise", comment="请尽快")  # the holder does not supervise itself
    act(world, "operator_kg", case, "supervise", comment="请今日内处置")
    act(world, "leader_kg", case, "supervise", comment="领导督办")
    notes = Notification.objects.filter(case=case, kind="supervise")
    assert notes.count() == 2 and {n.unit_id for n in notes} == {world.units["dz_en"].id}
    assert "请今日内处置" in notes.order_by("id").first().message
    qh_case = report(world, lat=34.331, lng=108.701)  # 玻璃厂三普东社区, 秦汉新城
    qh_case = act(world, "admin", qh_case, "register")
    with pytest.raises(NotFound):  # outside the leader's region: not even visible
        act(world, "leader_kg", qh_case, "supervise", comment="越界督办")


def test_the_sweep_warns_then_marks_overdue_and_notifies_holder_and_supervisor(world):
    with clock.frozen_at(MONDAY):
        case = report(world)
        case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    due = case.due_at
    holder, centre = world.units["dz_en"].id, world.units["kg_cc"].id
    with clock.frozen_at(due - dt.timedelta(hours=3)):
        assert sweep_deadlines()["yellow"] == 1
        assert sweep_deadlines()["yellow"] == 0  # twice: nothing more
    warns = Notification.objects.filter(case=case, kind="warn")
    assert sorted(n.unit_id for n in warns) == sorted([holder, centre])
    with clock.frozen_at(due + dt.timedelta(minutes=1)):
        assert sweep_deadlines()["red"] == 1
        assert sweep_deadlines() == {"yellow": 0, "red": 0, "escalated": 0}
    assert Notification.objects.filter(case=case, kind="overdue").count() == 2
    assert Case.objects.get(pk=case.pk).warning_level == 2
    assert list(CaseEvent.objects.filter(case=case, action__in=["warn", "mark_overdue"]).values_list(
        "action", flat=True).order_by("seq")) == ["warn", "mark_overdue"]


def test_a_rule_escalates_a_case_left_overdue_and_only_once(world):
    EscalationRule.objects.create(name="事件超期4小时上报", kind="incident", after_hours=4)
    EscalationRule.objects.create(name="乱停车超期1小时上报", matter=world.matters["parking"], after_hours=1)
    with clock.frozen_at(MONDAY):
        case = report(world)
        case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    with clock.frozen_at(case.due_at + dt.timedelta(minutes=30)):
        assert sweep_deadlines() == {"yellow": 0, "red": 1, "escalated": 0}  # within the matter rule's grace
    with clock.frozen_at(case.due_at + dt.timedelta(hours=2)):
        assert sweep_deadlines()["escalated"] == 1  # the matter's own rule (1 h) wins over the kind's (4 h)
        assert sweep_deadlines()["escalated"] == 0
    case.refresh_from_db()
    assert case.warning_level == 3 and case.holder_unit_id == world.units["kg_en"].id
    event = CaseEvent.objects.get(case=case, action="auto_escalate")
    assert event.payload["rule_name"] == "乱停车超期1小时上报" and event.actor_id is None
    escalated = Notification.objects.filter(case=case, kind="escalated")
    assert {n.unit_id for n in escalated} == {world.units["dz_en"].id, world.units["kg_en"].id, world.units["kg_cc"].id}


def test_a_suspended_or_closed_case_is_never_escalated(world):
    EscalationRule.objects.create(name="全部", after_hours=0)
    with clock.frozen_at(MONDAY):
        case = report(world)
        case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result="已处置")
        act(world, "operator_kg", case, "verify")
        act(world, "operator_kg", case, "close")
    with clock.frozen_at(case.due_at + dt.timedelta(days=3)):
        assert sweep_deadlines() == {"yellow": 0, "red": 0, "escalated": 0}
