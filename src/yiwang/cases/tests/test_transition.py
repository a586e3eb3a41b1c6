"""workflows.transition: an action's declaration, applied to a case, is its whole effect — and nothing else.

These tests read a case as a plain object: the transition is pure (no query, no write), so the live
engine, the system's steps and the importer's replay can all rely on it giving the same answer.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from yiwang.cases.services.actions import SIDE_EFFECTS
from yiwang.cases.services.notifications import MESSAGES
from yiwang.cases.workflows import SYSTEM_ACTIONS, WORKFLOWS, AtTheTop, Inputs, Rules, transition

AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CENTRE, TOWN_UNIT, CITY_UNIT, HANDLER_UNIT = 10, 20, 30, 40


def case(kind: str = "incident", **fields) -> SimpleNamespace:
    base = dict(kind=kind, state=WORKFLOWS[kind].initial, holder_unit_id=CENTRE, handling_unit_id=None,
                supervisor_unit_id=None, assignee_id=None, due_at=None, suspended_at=None, warning_level=0)
    return SimpleNamespace(**(base | fields))


RULES = Rules(limits=lambda: (5, "workdays"), up={TOWN_UNIT: CITY_UNIT}.get, unit_name=lambda u: f"unit {u}",
              due_after=lambda start, limit, unit: start + dt.timedelta(days=limit),
              due_after_suspension=lambda due, since, until, unit: due + (until - since))


def step(c, kind_action: str, **inputs):
    kind, action = kind_action.split(".")
    act = WORKFLOWS[kind].actions.get(action) or SYSTEM_ACTIONS[action]
    return transition(c, act, Inputs(**inputs), actor=(7, "clerk"), at=AT, rules=RULES)


def test_it_reads_the_case_and_writes_nothing(db):
    c = case(state="registered")
    with CaptureQueriesContext(connection) as queries:
        step(c, "incident.dispatch", unit_id=HANDLER_UNIT)
    assert len(queries) == 0
    assert c.holder_unit_id == CENTRE and c.state == "registered"  # the case it was given is unchanged


def test_dispatch_sends_the_case_to_the_named_unit_which_handles_it_under_the_dispatchers_supervision():
    s = step(case(state="registered", assignee_id=3), "incident.dispatch", unit_id=HANDLER_UNIT)
    assert (s.to_state, s.to_unit_id) == ("dispatched", HANDLER_UNIT)
    assert s.changes == {"handling_unit_id": HANDLER_UNIT, "supervisor_unit_id": CENTRE, "holder_unit_id": HANDLER_UNIT,
                         "assignee_id": None, "state": "dispatched"}
    assert s.derived == {"to_unit_name": f"unit {HANDLER_UNIT}"}


def test_a_dispatch_keeps_a_supervisor_already_named():
    s = step(case(state="registered", supervisor_unit_id=99), "incident.dispatch", unit_id=HANDLER_UNIT)
    assert s.changes["supervisor_unit_id"] == 99


def test_handling_returns_the_case_to_the_supervisor_for_checking_and_rework_sends_it_back():
    handled = step(case(state="acknowledged", holder_unit_id=HANDLER_UNIT, supervisor_unit_id=CENTRE),
                   "incident.handle", result="已清理")
    assert (handled.to_unit_id, handled.changes["handling_unit_id"], handled.changes["result"]) == \
        (CENTRE, HANDLER_UNIT, "已清理")
    rework = step(case(state="handled", holder_unit_id=CENTRE, handling_unit_id=HANDLER_UNIT), "incident.rework",
                  comment="未清理干净")
    assert (rework.to_state, rework.to_unit_id) == ("dispatched", HANDLER_UNIT)


def test_registration_starts_the_clock_and_makes_the_registering_centre_the_supervisor():
    s = step(case(), "incident.register")
    assert s.changes["accepted_at"] == AT and s.changes["due_at"] == AT + dt.timedelta(days=5)
    assert s.changes["supervisor_unit_id"] == CENTRE and s.changes["warning_level"] == 0
    assert s.derived["due_at"] == s.changes["due_at"].isoformat()


def test_waiting_on_the_applicant_stops_the_clock_and_clears_the_mark_and_resuming_moves_the_deadline():
    due = AT + dt.timedelta(days=2)
    stopped = step(case("application", state="accepted", due_at=due, warning_level=1), "application.request_supplement",
                   comment="缺少户口簿")
    assert stopped.changes == {"suspended_at": AT, "warning_level": 0, "state": "supplement"}
    resumed = transition(case("application", state="supplement", due_at=due, suspended_at=AT - dt.timedelta(days=3)),
                         WORKFLOWS["application"].actions["resubmit"], Inputs(), actor=(None, "system"), at=AT,
                         rules=RULES)
    assert resumed.changes["suspended_at"] is None and resumed.changes["due_at"] == due + dt.timedelta(days=3)


def test_an_escalation_goes_one_level_up_and_a_staff_escalation_at_the_top_is_refused():
    assert step(case(state="registered", holder_unit_id=TOWN_UNIT), "incident.escalate", comment="x").to_unit_id == \
        CITY_UNIT
    with pytest.raises(AtTheTop):
        step(case(state="registered", holder_unit_id=CITY_UNIT), "incident.escalate", comment="x")


def test_the_sweeps_escalation_at_the_top_stays_put_but_is_marked():
    s = step(case(state="dispatched", holder_unit_id=CITY_UNIT, warning_level=2), "incident.auto_escalate")
    assert s.to_unit_id == CITY_UNIT and s.changes == {"warning_level": 3}


def test_a_warning_is_never_lowered_by_a_sweep():
    assert step(case(state="dispatched", warning_level=2), "incident.warn").changes == {}


def test_claiming_makes_the_actor_the_assignee_and_any_move_clears_it():
    assert step(case(state="registered"), "incident.claim").changes == {"assignee_id": 7}
    moved = step(case("application", state="accepted", holder_unit_id=TOWN_UNIT, assignee_id=7),
                 "application.transfer", unit_id=HANDLER_UNIT, comment="不属本单位")
    assert moved.changes["assignee_id"] is None and moved.to_state == "accepted"


def test_closing_stamps_the_time_and_clears_the_warning():
    s = step(case("application", state="decided", warning_level=2), "application.close")
    assert s.changes == {"closed_at": AT, "warning_level": 0, "state": "closed"}


def test_only_decide_records_a_decision():
    assert step(case("application", state="accepted"), "application.decide", decision="approved").changes[
        "decision"] == "approved"
    assert "decision" not in step(case("application", state="decided"), "application.close",
                                  decision="denied").changes


def test_every_declared_notification_and_side_effect_has_its_implementation():
    declared = [a for wf in WORKFLOWS.values() for a in wf.actions.values()] + list(SYSTEM_ACTIONS.values())
    assert {a.notify[0] for a in declared if a.notify} <= set(MESSAGES)
    assert {a.side_effect for a in declared if a.side_effect} <= set(SIDE_EFFECTS)
    # An action that moves the case to "the given unit" must ask for one.
    assert all("unit" in a.needs for a in declared if a.moves_to == "unit")
