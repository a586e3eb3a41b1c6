"""Every action of every workflow, from every state: allowed exactly where the workflow says."""

import datetime as dt

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.cases.workflows import WORKFLOWS, applies, workflow
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.testing import SENIOR_OK

# How to reach each state from a fresh case, acting as the superuser.
PATHS = {
    "application": {
        "submitted": [], "accepted": ["accept"], "supplement": ["accept", "request_supplement"],
        "decided": ["accept", "decide"], "closed": ["accept", "decide", "close"], "rejected": ["reject"],
        "withdrawn": ["withdraw"],
    },
    "incident": {
        "reported": [], "registered": ["register"], "dispatched": ["register", "dispatch"],
        "acknowledged": ["register", "dispatch", "acknowledge"],
        "handled": ["register", "dispatch", "acknowledge", "handle"],
        "verified": ["register", "dispatch", "acknowledge", "handle", "verify"],
        # The report carries a phone (INCIDENT_REPORTER), so 结案 asks the reporter first.
        "confirming": ["register", "dispatch", "acknowledge", "handle", "verify", "ask_confirmation"],
        "closed": ["register", "dispatch", "acknowledge", "handle", "verify", "ask_confirmation", "confirm"],
        "dismissed": ["dismiss"],
        "merged": ["merge"],
    },
    "consultation": {"submitted": [], "answered": ["answer"], "closed": ["close"]},
    "rectification": {
        "open": [], "in_progress": ["start"], "submitted": ["start", "submit_acceptance"],
        "accepted": ["start", "submit_acceptance", "approve"], "cancelled": ["cancel"],
    },
    "assistance": {"active": [], "monitoring": ["declare_exit"], "closed": ["declare_exit", "end_monitoring"]},
}
INCIDENT_REPORTER = {"applicant_name": "张三", "applicant_phone": "13800000009"}
MATTER = {"application": ("SENIOR_CARD", SENIOR_OK), "incident": ("INC_PARKING", INCIDENT_REPORTER),
          "consultation": ("ASK_MEDICAL", {}),
          "rectification": ("RECT_GRASSROOTS", {}), "assistance": ("ASSIST_POVERTY", {})}
INPUTS = {"comment": "意见", "result": "已办理", "decision": "approved"}
DELIVERY = {"method": "post", "tracking": "SF1234567890"}


def act(world, case, action):
    unit = "KG-DZ-EN" if case.holder_unit.code != "KG-DZ-EN" else "KG-DZ-SH"
    parent = None
    if action == "merge":
        parent = case_create(viewer=world.viewer("admin"), matter_code="INC_PARKING", region_code="KG-DZ-XFL").case
    declared = workflow(case.kind).actions.get(action)
    # 办结 says how the result is delivered; no other action takes a delivery.
    delivery = DELIVERY if declared is not None and "delivery" in declared.needs else None
    return case_act(viewer=world.viewer("admin"), case_id=case.pk, action=action, version=case.version,
                    unit_code=unit, assignee_username="clerk_xfl", slot=clock.now() + dt.timedelta(days=1),
                    parent_number=parent.number if parent else None, delivery=delivery, **INPUTS)


def case_in(world, kind, state):
    code, extra = MATTER[kind]
    case = case_create(viewer=world.viewer("admin"), matter_code=code, region_code="KG-DZ-XFL",
                       home_visit=kind == "application", **extra).case
    for action in PATHS[kind][state]:
        case = act(world, Case.objects.select_related("holder_unit").get(pk=case.pk), action)
    assert case.state == state
    return Case.objects.select_related("holder_unit").get(pk=case.pk)


def test_the_paths_cover_every_state_of_every_workflow():
    for kind, paths in PATHS.items():
        assert set(paths) == set(WORKFLOWS[kind].states)


CASES = [(kind, state, action) for kind, paths in PATHS.items() for state in paths for action in WORKFLOWS[kind].actions]


@pytest.mark.parametrize("kind, state, action", CASES, ids=[f"{k}-{s}-{a}" for k, s, a in CASES])
def test_an_action_is_allowed_exactly_from_its_source_states(world, kind, state, action):
    case = case_in(world, kind, state)
    definition = WORKFLOWS[kind].actions[action]
    # An action the case's own facts rule out (workflows.applies: 结案 without asking a reachable
    # reporter) or one the engine alone takes (the unanswered confirmation's sweep) is refused too.
    if state in definition.sources and applies(definition, case) and not definition.system:
        after = act(world, case, action)
        assert after.state == (definition.target or state)
        assert after.events.count() == case.event_count + 1
    else:
        with pytest.raises(IllegalTransition):
            act(world, case, action)
        assert Case.objects.get(pk=case.pk).version == case.version


def test_staff_of_another_unit_may_not_accept(world):
    case = case_in(world, "application", "submitted")
    with pytest.raises(PermissionDenied):
        case_act(viewer=world.viewer("handler_dz"), case_id=case.pk, action="accept", version=case.version)


def test_the_applicant_resubmits_after_a_supplement_request_and_the_clock_resumes(world):
    wang = world.viewer("resident_wang")
    case = case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK).case
    clerk = world.viewer("clerk_xfl")
    case = case_act(viewer=clerk, case_id=case.pk, action="accept", version=case.version)
    case = case_act(viewer=clerk, case_id=case.pk, action="request_supplement", version=case.version,
                    comment="请补交户口本")
    assert case.suspended_at is not None
    case = case_act(viewer=wang, case_id=case.pk, action="resubmit", version=case.version)
    assert case.state == "accepted" and case.suspended_at is None


def test_an_incident_goes_around_the_closed_loop_with_rework(world):
    operator, handler = world.viewer("operator_kg"), world.viewer("handler_en")
    case = case_create(viewer=operator, matter_code="INC_PARKING", region_code="KG-DZ-XFL", channel="grid").case
    steps = [(operator, "register", {}), (operator, "dispatch", {"unit_code": "KG-DZ-EN"}),
             (handler, "acknowledge", {}), (handler, "handle", {"result": "已劝离"}),
             (operator, "rework", {"comment": "车辆仍在"}), (handler, "acknowledge", {}),
             (handler, "handle", {"result": "已拖离"}), (operator, "verify", {}), (operator, "close", {})]
    holders = []
    for viewer, action, kw in steps:
        case = case_act(viewer=viewer, case_id=case.pk, action=action, version=case.version, **kw)
        holders.append(case.holder_unit_id)
    assert case.state == "closed"
    cc, en = world.units["kg_cc"].id, world.units["dz_en"].id
    assert holders == [cc, en, en, cc, en, en, cc, cc, cc]
    assert case.handling_unit_id == en


def test_escalation_goes_to_the_same_kind_one_level_up(world):
    case = case_in(world, "application", "submitted")
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="escalate", version=case.version,
                    comment="需街道审核")
    assert case.holder_unit_id == world.units["dz_sh"].id


def test_a_transfer_outside_the_staff_members_reach_is_refused(world):
    case = case_in(world, "application", "submitted")
    with pytest.raises(PermissionDenied):
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="transfer", version=case.version,
                 unit_code="QH-WC-SPD-SH", comment="转")


def test_a_home_visit_is_scheduled_with_a_clerk_and_a_slot_and_its_outcome_recorded(world):
    wang = world.viewer("resident_wang")
    case = case_create(viewer=wang, matter_code="SENIOR_CARD", home_visit=True, **SENIOR_OK).case
    clerk = world.viewer("clerk_xfl")
    slot = clock.now() + dt.timedelta(days=2)
    case = case_act(viewer=clerk, case_id=case.pk, action="schedule_visit", version=case.version,
                    assignee_username="handler_xfl", slot=slot)
    assert case.assignee_id == world.users["handler_xfl"].id
    case = case_act(viewer=clerk, case_id=case.pk, action="record_visit", version=case.version,
                    result="已上门采集照片并受理")
    actions = list(case.events.order_by("seq").values_list("action", flat=True))
    assert actions == ["submit", "schedule_visit", "record_visit"]
    assert case.events.get(action="schedule_visit").payload["slot"] == slot.isoformat()


def test_a_home_visit_needs_staff_of_the_holding_unit_and_a_future_slot(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", home_visit=True,
                       **SENIOR_OK).case
    clerk = world.viewer("clerk_xfl")
    with pytest.raises(ValidationFailed):
        case_act(viewer=clerk, case_id=case.pk, action="schedule_visit", version=case.version,
                 assignee_username="handler_dz", slot=clock.now() + dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        case_act(viewer=clerk, case_id=case.pk, action="schedule_visit", version=case.version,
                 assignee_username="handler_xfl", slot=clock.now() - dt.timedelta(days=1))


def test_a_case_without_a_home_visit_request_offers_no_visit_actions(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    with pytest.raises(IllegalTransition):
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="schedule_visit", version=1,
                 assignee_username="handler_xfl", slot=clock.now() + dt.timedelta(days=1))


def test_a_consultation_is_due_within_its_time_limit_from_submission(world):
    from django.utils import timezone

    from yiwang.cases.workdays import add_workdays

    ask = case_create(viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL", description="怎么报销？").case
    assert timezone.localdate(ask.due_at) == add_workdays(timezone.localdate(ask.created_at), 3)
