"""Optimistic locking: of two actors holding the same version of a case, exactly one wins.

The version a person saw travels with every action (the `version` argument); the service refuses
an action on an older one with Conflict (409) and writes nothing, so the loser refreshes and
decides again instead of overwriting a decision they never saw.
"""

import threading

import pytest
from django.db import connection

from yiwang.cases import services
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.core.errors import Conflict, DomainError, IllegalTransition
from yiwang.testing import SENIOR_OK, build_world


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # build_world() sets fifteen passwords; the production hasher would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _submitted(world) -> Case:
    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case


def _snapshot(case_id: int) -> tuple:
    row = Case.objects.values_list("state", "holder_unit_id", "version", "event_count", "last_hash").get(pk=case_id)
    return (*row, CaseEvent.objects.filter(case_id=case_id).count())


def test_the_first_of_two_staff_with_the_same_version_wins(world):
    case = _submitted(world)
    seen = case.version

    won = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=seen)

    assert won.state == "accepted"
    assert won.version == seen + 1


def test_the_second_of_two_staff_with_the_same_version_gets_a_conflict(world):
    case = _submitted(world)
    seen = case.version
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=seen)

    with pytest.raises(Conflict) as refused:
        case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="reject", version=seen,
                 comment="材料不全")

    assert refused.value.status == 409
    assert refused.value.field == "version"


def test_the_conflict_writes_nothing_for_the_loser(world):
    case = _submitted(world)
    seen = case.version
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=seen)
    after_winner = _snapshot(case.pk)

    with pytest.raises(Conflict):
        case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="reject", version=seen,
                 comment="材料不全")

    assert _snapshot(case.pk) == after_winner
    assert list(CaseEvent.objects.filter(case_id=case.pk).values_list("action", flat=True).order_by("seq")) == [
        "submit", "accept",
    ]


def test_a_stale_version_gets_a_conflict_even_when_the_action_is_legal_in_the_new_state(world):
    case = _submitted(world)
    seen = case.version
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=seen)

    # request_supplement is allowed from "accepted", but its author decided on the submitted case.
    with pytest.raises(Conflict):
        case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="request_supplement", version=seen,
                 comment="请补充户口本")


def test_a_version_from_the_future_gets_a_conflict(world):
    case = _submitted(world)
    before = _snapshot(case.pk)

    with pytest.raises(Conflict):
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version + 1)

    assert _snapshot(case.pk) == before


def test_the_loser_succeeds_after_refreshing_the_version(world):
    case = _submitted(world)
    seen = case.version
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=seen)
    with pytest.raises(Conflict):
        case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="decide", version=seen,
                 decision="approved")

    fresh = Case.objects.get(pk=case.pk)
    decided = case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="decide", version=fresh.version,
                       decision="approved")

    assert decided.state == "decided"


def test_a_change_between_reading_and_writing_is_caught_by_the_conditional_update(world, monkeypatch):
    case = _submitted(world)
    read = services.case_for_action

    def read_then_someone_else_writes(viewer, case_id):
        seen = read(viewer, case_id)
        # Another writer commits between this actor's read and its write.
        Case.objects.filter(pk=case_id).update(version=seen.version + 1)
        return seen

    monkeypatch.setattr(services.actions, "case_for_action", read_then_someone_else_writes)
    with pytest.raises(Conflict):
        case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)

    # The refused action is rolled back whole: no event, and the interloper's write with it.
    assert CaseEvent.objects.filter(case_id=case.pk).count() == 1
    assert Case.objects.get(pk=case.pk).state == "submitted"


# --- a real race: two threads, two database connections, one moment -------------------------------

def _race(case_id: int, seen: int, moves: list[tuple]) -> list[object]:
    """Run each (viewer, action, kwargs) in its own thread, released together; return results or errors."""
    barrier = threading.Barrier(len(moves))
    outcomes: list[object] = [None] * len(moves)

    def run(i: int, viewer, action: str, kwargs: dict) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[i] = case_act(viewer=viewer, case_id=case_id, action=action, version=seen, **kwargs)
        except Exception as exc:  # collected and asserted on by the test
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, *move)) for i, move in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racing thread never finished"
    return outcomes


ROUNDS = 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "second",
    [("handler_xfl", "reject", {"comment": "材料不全"}), ("handler_xfl", "accept", {})],
    ids=["accept-against-reject", "accept-against-accept"],
)
def test_two_threads_racing_on_one_case_give_one_success_and_one_409(second):
    world = build_world()
    clerk = world.viewer("clerk_xfl")
    rival = world.viewer(second[0])
    for _round in range(ROUNDS):
        case = _submitted(world)

        outcomes = _race(case.pk, case.version, [(clerk, "accept", {}), (rival, second[1], second[2])])

        winners = [o for o in outcomes if isinstance(o, Case)]
        losers = [o for o in outcomes if not isinstance(o, Case)]
        assert len(winners) == 1, outcomes
        assert len(losers) == 1, outcomes
        # Conflict when both read the same version; IllegalTransition would mean the loser read the
        # winner's state — either way the loser hears 409, never a half-applied action.
        assert isinstance(losers[0], Conflict | IllegalTransition), repr(losers[0])
        assert isinstance(losers[0], DomainError) and losers[0].status == 409
        events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("seq"))
        assert [e.seq for e in events] == [1, 2]
        assert events[1].action == ("accept" if winners[0].state == "accepted" else "reject")
        stored = Case.objects.get(pk=case.pk)
        assert (stored.state, stored.version, stored.event_count) == (winners[0].state, 2, 2)
