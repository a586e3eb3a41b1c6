"""Indicator tallies: written with every timeline step, equal to a recomputation, rebuilt in bulk."""

import threading

import pytest
from django.db import connection

from yiwang.cases import rollups
from yiwang.cases.models import CaseTally
from yiwang.cases.services import case_act, case_create
from yiwang.feedback.services import evaluation_create
from yiwang.org.selectors import Viewer
from yiwang.records import rollups as all_rollups
from yiwang.records.verification import verify
from yiwang.stats.selectors import indicators
from yiwang.testing import SENIOR_OK

SUPER = Viewer(user_id=None, is_superuser=True, username="t")


def _close_one(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    for who, action, extra in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                               ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **extra)
    return case


def test_each_step_moves_the_case_between_tally_rows(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    assert rollups.stored() == rollups.recompute()
    assert indicators(viewer=SUPER)["by_state"] == {"submitted": 1}
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)
    assert indicators(viewer=SUPER)["by_state"] == {"accepted": 1}
    assert CaseTally.objects.filter(state="submitted", n=0).exists()  # emptied rows stay, read as zero
    assert rollups.stored() == rollups.recompute()


def test_the_changes_are_worked_out_without_the_database_and_run_later(world, django_assert_num_queries):
    case = _close_one(world)
    before = rollups.contributions(case)
    case.state, case.holder_unit_id = "reopened", world.units["xfl_sh"].id
    case.closed_at = None
    with django_assert_num_queries(0):
        statements = rollups.changes(before, rollups.contributions(case))
    assert [sql.split(" (")[0] for sql, _params in statements] == [
        "INSERT INTO cases_casetally", "INSERT INTO cases_casedaytally", "INSERT INTO cases_casemonthtally"]
    assert rollups.changes(before, before) == []
    rollups.execute(statements)
    stored = rollups.stored()
    assert stored[rollups.contribution(case)[0]] == (1, 0, 0, 0)
    assert before[0][0] not in stored  # read as zero: the case moved out of its closed row
    case.save(update_fields=["state", "holder_unit_id", "closed_at"])  # the tallies now follow the case again


def test_indicators_from_tallies_count_closing_on_time_and_ratings(world):
    case = _close_one(world)
    evaluation_create(viewer=world.viewer("resident_wang"), case_id=case.pk, rating=5)
    figures = indicators(viewer=SUPER)
    assert (figures["cases"], figures["open"], figures["closed"]) == (1, 0, 1)
    assert figures["on_time_rate"] == "100.000"
    assert figures["ratings"] == 1 and figures["satisfaction_rate"] == "100.000"
    assert figures["by_unit"][0]["unit"] == world.units["xfl_sh"].code and figures["by_unit"][0]["closed"] == 1
    community = indicators(viewer=SUPER, region_code=world.regions["xfl"].code)
    assert community["closed"] == 1
    assert indicators(viewer=SUPER, region_code=world.regions["spd"].code)["cases"] == 0
    assert all_rollups.differences() == []


@pytest.mark.tampers
def test_verify_reports_a_drifted_tally_and_rebuild_repairs_it(world):
    _close_one(world)
    CaseTally.objects.filter(n__gt=0).update(n=7)
    report = verify()
    assert any("tally" in p for p in report.problems)
    assert all_rollups.rebuild()["cases"] >= 1
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_intake_adds_up(world):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL's row locks")
    errors = []

    def submit():
        try:
            for _ in range(5):
                case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert indicators(viewer=SUPER)["by_state"] == {"submitted": 20}
    assert rollups.stored() == rollups.recompute()


def test_whole_seconds_agree_with_sql_near_a_second_boundary(world):
    import datetime as dt

    from django.utils import timezone

    from yiwang.core import clock

    start = timezone.make_aware(dt.datetime(2026, 11, 26, 9, 0, 0, 999_700))
    with clock.frozen_at(start):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    with clock.frozen_at(start + dt.timedelta(seconds=3, microseconds=100)):
        for who, action, extra in [("clerk_xfl", "accept", {}),
                                   ("handler_xfl", "decide", {"decision": "approved"}),
                                   ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
            case = case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **extra)
    assert rollups.stored() == rollups.recompute()


def test_a_case_in_the_last_millisecond_before_midnight_is_counted_on_its_day(world):
    """The day tallies: Python's local date and the SQL recomputation agree at midnight too."""
    import datetime as dt

    from django.utils import timezone

    from yiwang.core import clock

    late = timezone.make_aware(dt.datetime(2026, 12, 6, 23, 59, 59, 999_900))
    with clock.frozen_at(late):
        case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK)
    assert rollups.stored_days() == rollups.recompute_days()
    assert {day for _path, day, _kind in rollups.stored_days()} == {dt.date(2026, 12, 6)}


@pytest.mark.django_db(transaction=True)
def test_two_rebuilds_at_once_both_commit(world):
    """Two bulk imports that finish together each rebuild the tallies in their own transaction:
    the second waits for the first (LOCK TABLE) instead of failing on the tallies' unique key."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers already")
    from django.db import connections, transaction

    _close_one(world)
    first_done, errors = threading.Event(), []

    def rebuild(hold: float) -> None:
        try:
            with transaction.atomic():
                all_rollups.rebuild()
                first_done.wait(hold)  # keep the transaction open while the other one starts
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=rebuild, args=(hold,)) for hold in (0.5, 0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert all_rollups.differences() == []
