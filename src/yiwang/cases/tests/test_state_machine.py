"""Random sequences of every workflow action, by anyone, keep every case consistent with its timeline.

Hypothesis drives a few cases of each kind through random actions — every action of every workflow
in cases/workflows.py, by staff of the holding unit, other units' staff, the applicant, an unrelated
resident and the superuser, with current and stale versions and with good and bad inputs — and
rates closed cases. After every step the cases must still be explained by their timelines.

The database is not reset between Hypothesis examples (they share one test transaction), so every
machine opens its own cases and checks only those.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent, Channel, Kind
from yiwang.cases.services import case_act, case_create
from yiwang.cases.workflows import APPLICANT, WORKFLOWS, Action, applies, workflow
from yiwang.core.errors import Conflict, DomainError
from yiwang.feedback.models import BAD_REVIEW_MAX, OFFLINE_CHANNELS, Evaluation
from yiwang.feedback.services import RATABLE_KINDS, RATER_CHANNELS, evaluation_create
from yiwang.org.selectors import Viewer, hierarchy
from yiwang.testing import SENIOR_OK

# Every action of every workflow, and one that no workflow has.
ACTIONS = [*sorted({name for wf in WORKFLOWS.values() for name in wf.actions}), "teleport"]
VERSION_SHIFTS = [0, 0, 0, -1, -2, 1]  # 0: the version the actor just read; else stale or unknown
COMMENTS = ["", "   ", "已核实"]
RESULTS = ["", "已办理完毕"]
DECISIONS = ["", "approved", "denied", "maybe"]
RATING_CHANNELS = ["online", "pad", "hotline"]
# Moves that end a case early or pass it on: "forward" rules leave them to the other rules.
SIDEWAYS = {"transfer", "escalate", "reject", "dismiss", "withdraw"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # build_world() sets fifteen passwords; the production hasher would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class Cast:
    """The world's users as viewers, built once: memberships do not change during the test."""

    viewers: dict[str, Viewer]
    unit_codes: list[str | None]


def _cast(world) -> Cast:
    h = hierarchy()
    return Cast(
        viewers={name: world.viewer(name) for name in sorted(world.users)},
        unit_codes=[None, "NO-SUCH-UNIT", *sorted(h.unit_by_code)],
    )


def _capacity(viewer: Viewer, case: Case, act: Action) -> bool:
    """May ``viewer`` take ``act`` on ``case``, as the workflow declares it (a staff role in the holder
    unit — in the supervising unit for 督办, or a leader over the case's region —, or being the
    applicant), or as the superuser."""
    unit_id = case.supervisor_unit_id if act.by_supervisor else case.holder_unit_id
    if viewer.is_superuser or viewer.roles_in(unit_id) & act.actors:
        return True
    if act.by_supervisor and "leader" in act.actors and any(
            m.role == "leader" and case.region_path.startswith(m.region_path) for m in viewer.memberships):
        return True
    return APPLICANT in act.actors and viewer.resident_id is not None and viewer.resident_id == case.applicant_id


def _reachable(viewer: Viewer, unit_code: str) -> bool:
    """A unit is reachable when its region shares a chain with one of the viewer's units' regions."""
    unit = hierarchy().units[hierarchy().unit_by_code[unit_code]]
    return viewer.is_superuser or any(
        unit.region_path.startswith(m.region_path) or m.region_path.startswith(unit.region_path)
        for m in viewer.memberships
    )


def _can_escalate_from(unit_id: int) -> bool:
    # In build_world()'s Xixian every unit below the area has a unit of its kind or a command centre
    # above it; the area's units have nothing above them.
    h = hierarchy()
    return h.regions[h.units[unit_id].region_id].parent_id is not None


def _is_legal(viewer: Viewer, case: Case, action: str, version: int, *, comment: str, unit_code: str | None,
              result: str, decision: str, delivery: dict | None = None) -> bool:
    """Whether the workflow declaration says this attempt must succeed."""
    act = workflow(case.kind).actions.get(action)
    if act is None or version != case.version or case.state not in act.sources:
        return False
    if not applies(act, case) or act.system:
        return False
    if action == "claim" and case.assignee_id == viewer.user_id:
        return False  # already theirs
    if not _capacity(viewer, case, act):
        return False
    # The machine writes one text, the older comment box: the engine takes it as the reply or the note
    # the action needs (the applicant's own words stay a comment).
    if {"comment", "reply", "note"} & set(act.needs) and not comment.strip():
        return False
    if "result" in act.needs and not result.strip():
        return False
    if "decision" in act.needs and decision not in ("approved", "denied"):
        return False
    if "decision" in act.needs and decision == "denied" and not result.strip():
        return False  # a refusal states its reason (the comment is no reply on 作出决定)
    if ("delivery" in act.needs) != bool(delivery):
        return False
    if "parent" in act.needs:
        return False  # the machine never names a parent case; merging is tested in test_command_loop
    if "unit" in act.needs:
        if unit_code is None or unit_code not in hierarchy().unit_by_code:
            return False
        if hierarchy().unit_by_code[unit_code] == case.holder_unit_id or not _reachable(viewer, unit_code):
            return False
    return action != "escalate" or _can_escalate_from(case.holder_unit_id)


def _sees(viewer: Viewer, case: Case) -> bool:
    """The scoping rule of org.selectors: the region subtrees of the viewer's units, what those units
    hold, and the viewer's own cases."""
    return (viewer.is_superuser or case.holder_unit_id in viewer.unit_ids
            or any(case.region_path.startswith(m.region_path) for m in viewer.memberships)
            or (viewer.resident_id is not None and viewer.resident_id == case.applicant_id))


def _may_rate(viewer: Viewer, case: Case, channel: str, already_rated: bool) -> bool:
    if case.kind not in RATABLE_KINDS or case.state not in workflow(case.kind).closed or already_rated:
        return False
    # Staff of the handling unit record pad and hotline ratings only for cases they can still see:
    # an incident handled by a unit outside its region goes back to the command centre, out of view.
    if not _sees(viewer, case):
        return False
    staff_channel = channel in OFFLINE_CHANNELS and bool(viewer.roles_in(case.handling_unit_id or case.holder_unit_id))
    # The rater rates on her own device (online, QR, SMS); a pad, kiosk or hotline rating is staff's to enter.
    if viewer.resident_id is not None and viewer.resident_id == case.applicant_id:
        return channel in RATER_CHANNELS or staff_channel
    return staff_channel


def _totals() -> tuple[int, int, int]:
    return Case.objects.count(), CaseEvent.objects.count(), Evaluation.objects.count()


def _row(case_id: int) -> tuple:
    return tuple(Case.objects.filter(pk=case_id).values_list(
        "state", "holder_unit_id", "handling_unit_id", "supervisor_unit_id", "assignee_id", "version",
        "event_count", "last_hash", "closed_at", "due_at", "suspended_at", "decision", "result",
    ).get())


class CaseMachine(RuleBasedStateMachine):
    def __init__(self, world, cast: Cast):
        super().__init__()
        self.world = world
        self.cast = cast
        v = cast.viewers
        self.case_ids: list[int] = [
            case_create(viewer=v["resident_wang"], matter_code="SENIOR_CARD", **SENIOR_OK).case.pk,
            case_create(viewer=v["clerk_spd"], matter_code="SENIOR_CARD", applicant=world.residents["li"],
                        channel=Channel.HALL, **SENIOR_OK).case.pk,
            case_create(viewer=v["resident_li"], matter_code="INC_PARKING", region_code="KG-DZ-CJC").case.pk,
            case_create(viewer=v["resident_wang"], matter_code="ASK_MEDICAL").case.pk,
        ]
        self.rated: set[int] = set()
        self._read: list[tuple[Case, list[CaseEvent]]] | None = None
        # What the machine believes each case is (kind, state): only to choose sensible next moves.
        self.known: dict[int, tuple[str, str]] = {
            pk: (kind, state) for pk, kind, state in Case.objects.filter(pk__in=self.case_ids)
            .values_list("pk", "kind", "state")
        }

    def _case(self, index: int) -> Case:
        return Case.objects.get(pk=self.case_ids[index % len(self.case_ids)])

    def _open(self, kinds: tuple[str, ...]) -> list[int]:
        return [pk for pk, (kind, state) in self.known.items()
                if kind in kinds and state in workflow(kind).open_states()]

    # --- rules ----------------------------------------------------------------------------------

    @rule(index=st.integers(0, 1_000), action=st.sampled_from(ACTIONS), actor=st.data(),
          shift=st.sampled_from(VERSION_SHIFTS), comment=st.sampled_from(COMMENTS), unit=st.data(),
          result=st.sampled_from(RESULTS), decision=st.sampled_from(DECISIONS))
    def anyone_tries_anything(self, index, action, actor, shift, comment, unit, result, decision):
        case = self._case(index)
        name = actor.draw(st.sampled_from(sorted(self.cast.viewers)), label="actor")
        unit_code = unit.draw(st.sampled_from(self.cast.unit_codes), label="unit")
        self._attempt(case, name, action, case.version + shift, comment=comment, unit_code=unit_code,
                      result=result, decision=decision)

    @rule(index=st.integers(0, 1_000), data=st.data())
    def someone_takes_an_action_the_workflow_offers(self, index, data):
        self._offered_move(self._case(index), data, lambda act: True)

    @precondition(lambda self: self._open((Kind.APPLICATION,)))
    @rule(data=st.data())
    def staff_move_an_application_forward(self, data):
        self._move_forward(self._open((Kind.APPLICATION,)), data)

    @precondition(lambda self: self._open((Kind.INCIDENT,)))
    @rule(data=st.data())
    def staff_move_an_incident_forward(self, data):
        self._move_forward(self._open((Kind.INCIDENT,)), data)

    @precondition(lambda self: self._open((Kind.CONSULTATION, Kind.FOLLOW_UP)))
    @rule(data=st.data())
    def staff_move_a_consultation_or_follow_up_forward(self, data):
        self._move_forward(self._open((Kind.CONSULTATION, Kind.FOLLOW_UP)), data)

    @rule(index=st.integers(0, 1_000), actor=st.data(), rating=st.integers(1, 5),
          channel=st.sampled_from(RATING_CHANNELS))
    def anyone_rates_a_case(self, index, actor, rating, channel):
        name = actor.draw(st.sampled_from(sorted(self.cast.viewers)), label="rater")
        self._rate(self._case(index), name, rating, channel)

    @precondition(lambda self: self._rateable())
    @rule(data=st.data(), rating=st.integers(1, 5))
    def the_applicant_rates_a_case(self, data, rating):
        case = Case.objects.get(pk=data.draw(st.sampled_from(self._rateable()), label="case"))
        applicant = next((n for n, v in self.cast.viewers.items()
                          if v.resident_id is not None and v.resident_id == case.applicant_id), None)
        if applicant is not None:
            self._rate(case, applicant, rating, "online")

    def _rateable(self) -> list[int]:
        return [pk for pk, (kind, state) in self.known.items()
                if kind in RATABLE_KINDS and state in workflow(kind).closed and pk not in self.rated]

    def _move_forward(self, open_ids: list[int], data) -> None:
        case = Case.objects.get(pk=data.draw(st.sampled_from(sorted(open_ids)), label="case"))
        self._offered_move(case, data, lambda act: act.name not in SIDEWAYS)

    def _offered_move(self, case: Case, data, wanted) -> None:
        """A correct attempt: an action the state offers, by someone entitled to it, with its inputs."""
        wf = workflow(case.kind)
        offered = sorted(a.name for a in wf.actions.values()
                         if case.state in a.sources and wanted(a) and applies(a, case) and not a.system)
        if not offered:
            return
        act = wf.actions[data.draw(st.sampled_from(offered), label="action")]
        able = sorted(n for n, v in self.cast.viewers.items() if not v.is_superuser and _capacity(v, case, act))
        if not able:
            return
        name = data.draw(st.sampled_from(able), label="actor")
        units = [c for c in self.cast.unit_codes
                 if c in hierarchy().unit_by_code and hierarchy().unit_by_code[c] != case.holder_unit_id
                 and _reachable(self.cast.viewers[name], c)]
        unit_code = data.draw(st.sampled_from(units), label="unit") if "unit" in act.needs and units else None
        # Every field filled, as a form that shows them all would send: an action must take only
        # the inputs it is declared to need.
        decision = data.draw(st.sampled_from(["approved", "denied"]), label="decision")
        delivery = {"delivery": {"method": "post", "tracking": "SF1234567890"}} if "delivery" in act.needs else {}
        self._attempt(case, name, act.name, case.version, comment="理由充分", unit_code=unit_code,
                      result="已处理", decision=decision, **delivery)

    # --- one attempt, and what it may and must write --------------------------------------------

    def _attempt(self, case: Case, name: str, action: str, version: int, **inputs) -> None:
        self._read = None
        viewer = self.cast.viewers[name]
        legal = _is_legal(viewer, case, action, version, **inputs)
        totals, row = _totals(), _row(case.pk)
        try:
            after = case_act(viewer=viewer, case_id=case.pk, action=action, version=version, **inputs)
        except DomainError as refused:
            assert not legal, f"{name} was refused {action} on {case.state} {case.kind}: {refused!r}"
            if isinstance(refused, Conflict):
                assert version != case.version, "a Conflict without a stale version"
            assert _totals() == totals, f"refused {action} wrote rows"
            assert _row(case.pk) == row, f"refused {action} changed the case"
            return
        assert legal, f"{name} was allowed {action} on a {case.state} {case.kind} at version {version}"
        act = workflow(case.kind).actions[action]
        assert _totals() == (totals[0], totals[1] + 1, totals[2]), "an action must append exactly one event"
        event = CaseEvent.objects.get(case_id=case.pk, seq=case.event_count + 1)
        assert (event.action, event.from_state, event.to_state) == (action, case.state, act.target or case.state)
        assert event.from_unit_id == case.holder_unit_id
        assert (after.version, after.event_count) == (case.version + 1, case.event_count + 1)
        if action in ("transfer", "dispatch"):
            assert after.holder_unit_id == hierarchy().unit_by_code[inputs["unit_code"]]
        elif action == "escalate":
            assert after.holder_unit_id != case.holder_unit_id
        elif not act.moves_to:  # an action that declares no move (handle, rework, not_resolved do)
            assert after.holder_unit_id == case.holder_unit_id
        self.known[case.pk] = (case.kind, after.state)

    def _rate(self, case: Case, name: str, rating: int, channel: str) -> None:
        self._read = None
        viewer = self.cast.viewers[name]
        legal = _may_rate(viewer, case, channel, Evaluation.objects.filter(case=case).exists())
        totals = _totals()
        try:
            evaluation = evaluation_create(viewer=viewer, case_id=case.pk, rating=rating, channel=channel)
        except DomainError as refused:
            assert not legal, f"{name} was refused rating {case.kind} {case.state} via {channel}: {refused!r}"
            assert _totals() == totals, "a refused rating wrote rows"
            return
        assert legal, f"{name} was allowed to rate a {case.state} {case.kind} via {channel}"
        # A bad rating opens a follow-up, except the 追评 of a follow-up: one follow-up rating ends the loop.
        bad = rating <= BAD_REVIEW_MAX and case.kind != Kind.FOLLOW_UP
        assert _totals() == (totals[0] + bad, totals[1] + bad, totals[2] + 1)
        self.rated.add(case.pk)
        if bad:
            self.case_ids.append(evaluation.follow_up_case_id)
            self.known[evaluation.follow_up_case_id] = (Kind.FOLLOW_UP, evaluation.follow_up_case.state)

    # --- invariants, over this machine's own cases ----------------------------------------------

    def _cases_and_timelines(self) -> list[tuple[Case, list[CaseEvent]]]:
        # Read once per step: only _attempt and _rate write, and they drop this copy.
        if self._read is None:
            cases = Case.objects.in_bulk(self.case_ids)
            timelines: dict[int, list[CaseEvent]] = {pk: [] for pk in self.case_ids}
            for e in CaseEvent.objects.filter(case_id__in=self.case_ids).order_by("case_id", "seq"):
                timelines[e.case_id].append(e)
            self._read = [(cases[pk], timelines[pk]) for pk in self.case_ids]
        return self._read

    @invariant()
    def replaying_the_timeline_gives_the_state_and_holder(self):
        for case, events in self._cases_and_timelines():
            state, unit = "", None
            for e in events:
                assert (e.from_state, e.from_unit_id) == (state, unit), f"{case.number}#{e.seq} does not follow on"
                state, unit = e.to_state, e.to_unit_id
            assert (state, unit) == (case.state, case.holder_unit_id), case.number

    @invariant()
    def events_are_numbered_one_to_n_and_counted(self):
        for case, events in self._cases_and_timelines():
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), case.number
            assert case.event_count == len(events) == case.version, case.number

    @invariant()
    def every_hash_chain_verifies(self):
        for case, events in self._cases_and_timelines():
            assert verify_events(events, case.last_hash) is None, case.number

    @invariant()
    def a_case_is_closed_exactly_when_its_state_is_closed(self):
        for case, events in self._cases_and_timelines():
            closed = workflow(case.kind).closed
            # The latest closing; a reopened incident (issue 18) is open again until it closes again.
            closing, state = None, None
            for e in events:
                after = e.to_state or state
                if after in closed and state not in closed:
                    closing = e.at
                elif after not in closed:
                    closing = None
                state = after
            assert (case.closed_at is not None) == (case.state in closed), case.number
            assert case.closed_at == closing, case.number

    @invariant()
    def the_recorded_decision_is_the_one_the_decide_action_took(self):
        for case, events in self._cases_and_timelines():
            decided = [e.payload["decision"] for e in events if e.action == "decide"]
            assert case.decision == (decided[-1] if decided else ""), case.number

    @invariant()
    def a_case_has_at_most_one_evaluation_and_a_bad_one_opened_one_follow_up(self):
        numbers = {case.pk: case.number for case, _events in self._cases_and_timelines()}
        kinds = {case.pk: case.kind for case, _events in self._cases_and_timelines()}
        evaluations: dict[int, list[Evaluation]] = {pk: [] for pk in self.case_ids}
        for ev in Evaluation.objects.filter(case_id__in=self.case_ids):
            evaluations[ev.case_id].append(ev)
        opened = CaseEvent.objects.filter(seq=1, action="submit", payload__source_case__in=list(numbers.values()))
        follow_ups: dict[str, list[int]] = {}
        for e in opened:
            follow_ups.setdefault(e.payload["source_case"], []).append(e.case_id)
        for pk, found in evaluations.items():
            assert len(found) <= 1, numbers[pk]
            opened_here = follow_ups.get(numbers[pk], [])
            if found and found[0].rating <= BAD_REVIEW_MAX and kinds[pk] != Kind.FOLLOW_UP:
                assert opened_here == [found[0].follow_up_case_id], numbers[pk]
                assert Case.objects.get(pk=opened_here[0]).kind == Kind.FOLLOW_UP
            else:
                assert opened_here == [], numbers[pk]
                assert not found or found[0].follow_up_case_id is None, numbers[pk]


EXAMPLES = 30
STEPS = 50


def test_random_actions_by_anyone_keep_every_case_consistent_with_its_timeline(world):
    cast = _cast(world)
    run_state_machine_as_test(
        lambda: CaseMachine(world, cast),
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
