"""Month tallies (CaseMonthTally, RatingMonthTally): kept in step by the closing and reopening events
alone, with the rework read from the timeline by the upsert itself; `yiwang verify` recomputes them, and
a checkpoint signs them."""

import datetime as dt
import json
import zoneinfo

import pytest

from yiwang.cases import rollups
from yiwang.cases.models import Case, CaseMonthTally
from yiwang.cases.services import case_act, case_create
from yiwang.cases.services.confirmation import incident_answer
from yiwang.core import clock
from yiwang.feedback import rollups as rating_rollups
from yiwang.feedback.models import RatingMonthTally
from yiwang.feedback.services import evaluation_create
from yiwang.records import checkpoints
from yiwang.records import rollups as all_rollups
from yiwang.records.verification import verify

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a working Monday
NOVEMBER = dt.date(2026, 11, 1)
PATH = "/XX/KG/KG-DZ/KG-DZ-XFL/KG-DZ-XFL-G1/"  # the grid the report is placed in


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def reported(world):
    """A resident's report, handled and verified, the reporter about to be asked 已解决吗？."""
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="楼下乱停车", channel="online", region_code="KG-DZ-XFL").case
    act(world, "operator_kg", case, "register")
    act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result="已劝离车辆")
    act(world, "operator_kg", case, "verify")
    return act(world, "operator_kg", case, "ask_confirmation")


def month_row(world, state="closed"):
    return rollups.stored_months().get((PATH, "incident", state, world.units["dz_en"].id,
                                        NOVEMBER))


def test_closing_counts_the_case_in_its_month_and_rework_counts_once(world):
    with clock.frozen_at(MONDAY):
        first = incident_answer(case_id=reported(world).pk, answer="yes", viewer=world.viewer("resident_wang"))
        assert month_row(world) == (1, 1, 1, 0, 0)  # closed, had a deadline, on time, 0 s, not sent back
        case = reported(world)
        case = incident_answer(case_id=case.pk, answer="no", comment="还在", viewer=world.viewer("resident_wang"))
        assert month_row(world) == (1, 1, 1, 0, 0)  # an open case is in no month
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result="已拖走")
        act(world, "operator_kg", case, "rework", comment="未拖走")  # sent back twice: counts once
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result="已拖走")
        act(world, "operator_kg", case, "verify")
        act(world, "operator_kg", case, "ask_confirmation")
        incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
        assert month_row(world) == (2, 2, 2, 0, 1)
        evaluation_create(viewer=world.viewer("resident_wang"), case_id=first.pk, rating=2)
    assert rollups.stored_months() == rollups.recompute_months()
    assert rating_rollups.stored_months() == rating_rollups.recompute_months() == {
        (PATH, world.units["dz_en"].id, 2, NOVEMBER): 1}
    assert verify().ok and not all_rollups.differences()


def test_a_reopened_case_leaves_its_month_and_closes_again_as_reworked_in_the_next(world):
    with clock.frozen_at(MONDAY):
        case = incident_answer(case_id=reported(world).pk, answer="yes", viewer=world.viewer("resident_wang"))
    with clock.frozen_at(MONDAY + dt.timedelta(days=6)):
        case = incident_answer(case_id=case.pk, answer="reopen", comment="又堵了", viewer=world.viewer("resident_wang"))
    assert month_row(world) is None  # read as zero: it left November's closed row
    assert rollups.stored_months() == rollups.recompute_months()
    with clock.frozen_at(dt.datetime(2026, 12, 2, 9, 0, tzinfo=TZ)):
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result="已安装隔离桩")
        act(world, "operator_kg", case, "verify")
        act(world, "operator_kg", case, "ask_confirmation")
        incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
    december = rollups.stored_months()[(PATH, "incident", "closed", world.units["dz_en"].id,
                                        dt.date(2026, 12, 1))]
    assert (december[0], december[4]) == (1, 1)  # closed in December, sent back (the reopening)
    assert rollups.stored_months() == rollups.recompute_months()
    assert verify().ok and not all_rollups.differences()


def test_closing_adds_one_statement_and_opening_one_for_its_receiving_unit(world, django_assert_num_queries):
    with clock.frozen_at(MONDAY):
        case = reported(world)
        before = rollups.contributions(case)
        case.state, case.closed_at = "closed", MONDAY
        statements = rollups.changes(before, rollups.contributions(case))
        assert [sql.split(" (")[0] for sql, _params in statements] == [
            "INSERT INTO cases_casetally", "INSERT INTO cases_casedaytally", "INSERT INTO cases_casemonthtally"]
        opened = rollups.contributions(Case(region_path="/XX/", kind="incident", state="reported", holder_unit_id=1,
                                            created_at=MONDAY, event_count=0))
        # A submission: its holder receives it (a literal id, the case has none yet); no month row.
        assert [sql.split(" (")[0] for sql, _params in rollups.changes(None, opened)] == [
            "INSERT INTO cases_casetally", "INSERT INTO cases_casedaytally", "INSERT INTO cases_casereceivedtally"]


def test_verify_names_a_tampered_month_tally_and_rebuild_repairs_it(world):
    with clock.frozen_at(MONDAY):
        case = incident_answer(case_id=reported(world).pk, answer="yes", viewer=world.viewer("resident_wang"))
        evaluation_create(viewer=world.viewer("resident_wang"), case_id=case.pk, rating=5)
    CaseMonthTally.objects.filter(closed=1).update(reworked=1)  # someone makes the month look worse
    RatingMonthTally.objects.update(rating=1)
    problems = all_rollups.differences()
    assert any(p.startswith("month tally") for p in problems), problems
    assert any(p.startswith("rating month tally") for p in problems), problems
    assert not verify().ok
    all_rollups.rebuild()
    assert not all_rollups.differences() and verify().ok


def test_a_checkpoint_signs_the_month_tallies(world, settings, tmp_path):
    from yiwang.records import signing
    from yiwang.records.selectors import checkpoint_document
    from yiwang.records.services import checkpoint_create

    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")
    with clock.frozen_at(MONDAY):
        case = incident_answer(case_id=reported(world).pk, answer="yes", viewer=world.viewer("resident_wang"))
        evaluation_create(viewer=world.viewer("resident_wang"), case_id=case.pk, rating=4)
        cp = checkpoint_create()
    tallies = json.loads(cp.tallies)
    unit = world.units["dz_en"].id
    assert [PATH, "incident", "closed", unit, "2026-11", 1, 1, 1, 0, 0] in tallies["case_months"]
    assert [PATH, unit, 4, "2026-11", 1] in tallies["rating_months"]
    assert checkpoints.sha256(checkpoints.canonical(tallies)) == cp.tallies_digest
    # A file whose month tallies were edited no longer gives the signed digest.
    doc = json.loads(checkpoints.canonical(checkpoint_document(cp)))
    assert checkpoints.verify_document(doc, signing.private_key().public_key()).ok
    doc["tallies"]["case_months"][0][9] = 1
    report = checkpoints.verify_document(doc, signing.private_key().public_key())
    assert any("tallies digest" in p for p in report.problems), report.problems
