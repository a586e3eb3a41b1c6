"""The importer replays an incident's confirmation steps (asked, 未解决, 已解决, reopened) into the
columns the live engine wrote, and `yiwang verify` agrees with the result."""

import datetime as dt

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.cases.services.confirmation import confirmation_token, incident_answer
from yiwang.core import clock
from yiwang.records.tests.test_import import DERIVED, MONDAY, _act, _export, run_import, verify_passes


def _answer(case, minutes: float, answer: str, comment: str = "") -> Case:
    with clock.frozen_at(MONDAY + dt.timedelta(minutes=minutes)):
        return incident_answer(case_id=case.pk, answer=answer, comment=comment, token=confirmation_token(case))


def test_an_incident_answered_and_reopened_by_its_reporter_imports_as_it_was(world, tmp_path):
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("operator_kg"), matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                           channel="phone", title="小区门口乱停车", applicant_name="赵六",
                           applicant_phone="13900000006").case
    case = _act(world, case, 3, "operator_kg", "register")
    case = _act(world, case, 6, "operator_kg", "dispatch", unit_code="KG-DZ-EN")
    case = _act(world, case, 30, "handler_en", "acknowledge")
    case = _act(world, case, 90, "handler_en", "handle", result="已劝离")
    case = _act(world, case, 120, "operator_kg", "verify")
    case = _act(world, case, 130, "operator_kg", "ask_confirmation")
    case = _answer(case, 600, "no", "车又停回来了")
    case = _act(world, case, 700, "handler_en", "acknowledge")
    case = _act(world, case, 800, "handler_en", "handle", result="已拖离")
    case = _act(world, case, 900, "operator_kg", "verify")
    case = _act(world, case, 910, "operator_kg", "ask_confirmation")
    case = _answer(case, 1000, "yes")
    case = _answer(case, 1500, "reopen", "又堵了")
    live = Case.objects.get(pk=case.pk)
    assert (live.state, live.closed_at) == ("dispatched", None)

    run_import(tmp_path, _export(live))

    imported = Case.objects.get(idempotency_key=f"import:live-{live.pk}")
    assert {f: getattr(imported, f) for f in DERIVED} == {f: getattr(live, f) for f in DERIVED}
    assert [e.action for e in imported.events.order_by("seq")] == [e.action for e in live.events.order_by("seq")]
    verify_passes()
