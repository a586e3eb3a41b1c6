"""The timeline is hash-chained, and tampering with it — even behind the model's back — shows.

Each event's hash covers the previous event's hash and the event's own content; the case row keeps
the last hash. `cases.chain.verify_events` and `yiwang verify` recompute the chain.
"""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from yiwang.cases.chain import GENESIS, event_hash, verify_events
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.feedback.services import evaluation_create
from yiwang.testing import SENIOR_OK


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # build_world() sets fifteen passwords; the production hasher would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _timeline(case_id: int) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case_id=case_id).order_by("seq"))


def _expected_hash(event: CaseEvent, prev: str) -> str:
    return event_hash(
        prev=prev, seq=event.seq, at=event.at, actor_id=event.actor_id, action=event.action,
        from_state=event.from_state, to_state=event.to_state, from_unit_id=event.from_unit_id,
        to_unit_id=event.to_unit_id, payload=event.payload,
    )


# Each workflow walked end to end, as (actor, action, inputs), starting from a case of that kind.
PATHS = {
    "application": ("SENIOR_CARD", [
        ("clerk_xfl", "accept", {}),
        ("clerk_xfl", "request_supplement", {"comment": "请补充户口本"}),
        ("resident_wang", "resubmit", {}),
        ("handler_xfl", "decide", {"decision": "approved"}),
        ("clerk_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}}),
    ]),
    "incident": ("INC_PARKING", [
        ("operator_kg", "register", {}),
        ("operator_kg", "dispatch", {"unit_code": "KG-DZ-EN"}),
        ("handler_en", "acknowledge", {}),
        ("handler_en", "handle", {"result": "已劝离"}),
        ("operator_kg", "rework", {"comment": "车辆仍在"}),
        ("handler_en", "acknowledge", {}),
        ("handler_en", "handle", {"result": "已拖离"}),
        ("operator_kg", "verify", {}),
        # The reporter is asked before 结案, answers, and may reopen it.
        ("operator_kg", "ask_confirmation", {}),
        ("resident_wang", "confirm", {}),
        ("resident_wang", "reopen", {"comment": "又停回来了"}),
    ]),
    "consultation": ("ASK_MEDICAL", [
        ("clerk_xfl", "transfer", {"unit_code": "KG-DZ-SH", "comment": "街道办理"}),
        ("handler_dz", "escalate", {"comment": "需新城答复"}),
        ("handler_kg", "answer", {"result": "按规定报销"}),
    ]),
}


def _submit(world, matter_code: str) -> Case:
    form = SENIOR_OK if matter_code == "SENIOR_CARD" else {}
    return case_create(viewer=world.viewer("resident_wang"), matter_code=matter_code, **form).case


def _closed_application(world) -> Case:
    case = _submit(world, "SENIOR_CARD")
    for actor, action, inputs in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                                  ("clerk_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(actor), case_id=case.pk, action=action, version=case.version, **inputs)
    return case


def _assert_each_action_appends_one_chained_event(world, case: Case, steps) -> None:
    for actor, action, inputs in steps:
        before = _timeline(case.pk)

        case = case_act(viewer=world.viewer(actor), case_id=case.pk, action=action, version=case.version, **inputs)

        after = _timeline(case.pk)
        assert after[:-1] == before
        new = after[-1]
        assert (new.seq, new.action) == (len(before) + 1, action)
        assert new.hash == _expected_hash(new, prev=before[-1].hash)
        assert Case.objects.get(pk=case.pk).last_hash == new.hash


def test_the_first_event_chains_from_genesis(world):
    case = _submit(world, "SENIOR_CARD")

    (first,) = _timeline(case.pk)

    assert (first.seq, first.action) == (1, "submit")
    assert first.hash == _expected_hash(first, prev=GENESIS)
    assert case.last_hash == first.hash


@pytest.mark.parametrize("kind", sorted(PATHS))
def test_every_action_appends_one_event_chained_to_the_previous(world, kind):
    matter_code, steps = PATHS[kind]
    case = _submit(world, matter_code)

    _assert_each_action_appends_one_chained_event(world, case, steps)


def test_every_follow_up_action_appends_one_event_chained_to_the_previous(world):
    rated = _closed_application(world)
    evaluation = evaluation_create(viewer=world.viewer("resident_wang"), case_id=rated.pk, rating=1, comment="太慢")
    follow_up = evaluation.follow_up_case

    _assert_each_action_appends_one_chained_event(world, follow_up, [
        ("handler_xfl", "call_back", {"comment": "已电话回访"}),
        ("handler_xfl", "report_back", {"result": "已整改并告知"}),
    ])


def test_an_untouched_database_passes_verify(world):
    _closed_application(world)
    out = StringIO()

    call_command("verify", stdout=out, stderr=StringIO())

    assert "all hash chains intact" in out.getvalue()


# --- tampering behind the model's back (raw SQL, as someone with database access could) -----------

def _sql(statement: str, params: list) -> None:
    table = connection.ops.quote_name(CaseEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(statement.format(table=table), params)


def _event_id(case: Case, seq: int) -> int:
    return CaseEvent.objects.get(case=case, seq=seq).pk


def change_a_payload(case: Case) -> None:
    decide = CaseEvent.objects.get(case=case, action="decide")
    _sql("UPDATE {table} SET payload = %s WHERE id = %s",
         [json.dumps({**decide.payload, "decision": "denied"}), decide.pk])


def change_a_time(case: Case) -> None:
    accept = CaseEvent.objects.get(case=case, action="accept")
    backdated = accept.at - dt.timedelta(days=1)
    _sql("UPDATE {table} SET at = %s WHERE id = %s",
         [connection.ops.adapt_datetimefield_value(backdated), accept.pk])


def change_an_action(case: Case) -> None:
    _sql("UPDATE {table} SET action = %s WHERE id = %s", ["reject", _event_id(case, 2)])


def delete_the_last_event(case: Case) -> None:
    _sql("DELETE FROM {table} WHERE id = %s", [_event_id(case, case.event_count)])


def delete_the_last_event_and_fix_the_count(case: Case) -> None:
    # A careful tamperer also fixes the counter; the case row's last hash still gives it away.
    delete_the_last_event(case)
    Case.objects.filter(pk=case.pk).update(event_count=case.event_count - 1, version=case.version - 1)


def delete_a_middle_event(case: Case) -> None:
    _sql("DELETE FROM {table} WHERE id = %s", [_event_id(case, 2)])


def swap_two_events(case: Case) -> None:
    second, third = _event_id(case, 2), _event_id(case, 3)
    # Through a free number, as (case, seq) is unique.
    _sql("UPDATE {table} SET seq = %s WHERE id = %s", [1_000_000, second])
    _sql("UPDATE {table} SET seq = %s WHERE id = %s", [2, third])
    _sql("UPDATE {table} SET seq = %s WHERE id = %s", [3, second])


TAMPERINGS = [change_a_payload, change_a_time, change_an_action, delete_the_last_event,
              delete_the_last_event_and_fix_the_count, delete_a_middle_event, swap_two_events]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_tampering_is_detected_by_verify_events(world, tamper):
    case = _closed_application(world)
    assert verify_events(_timeline(case.pk), case.last_hash) is None

    tamper(case)

    stored = Case.objects.get(pk=case.pk)
    assert verify_events(_timeline(case.pk), stored.last_hash) is not None


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_tampering_makes_the_verify_command_fail(world, tamper):
    case = _closed_application(world)
    _closed_application(world)  # an intact neighbour must not hide the broken one
    tamper(case)
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("verify", stdout=StringIO(), stderr=err)

    assert case.number in err.getvalue()


# --- the model's own guard --------------------------------------------------------------------

def test_saving_an_existing_event_raises(world):
    case = _submit(world, "SENIOR_CARD")
    event = CaseEvent.objects.get(case=case, seq=1)
    event.payload = {"note": "改过了"}

    with pytest.raises(RuntimeError, match="append-only"):
        event.save()

    assert CaseEvent.objects.get(pk=event.pk).payload != {"note": "改过了"}


def test_deleting_an_event_raises(world):
    case = _submit(world, "SENIOR_CARD")
    event = CaseEvent.objects.get(case=case, seq=1)

    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()

    assert CaseEvent.objects.filter(pk=event.pk).exists()
