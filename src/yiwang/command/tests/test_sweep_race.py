"""Two sweeps at once (two workers, two connections) mark and notify each case exactly once."""

import datetime as dt
import threading

import pytest
from django.db import connection

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent, EscalationRule, Notification
from yiwang.cases.services import case_create
from yiwang.cases.tasks import sweep_deadlines
from yiwang.command.services import register_and_dispatch
from yiwang.core import clock
from yiwang.testing import build_world

CASES = 6


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_racing_write_each_mark_once():
    world = build_world()
    EscalationRule.objects.create(name="超期即上报", after_hours=0)
    operator = world.viewer("operator_kg")
    ids = []
    for i in range(CASES):
        case = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.405,
                           lng=108.701 + i * 0.001, channel="grid").case
        case.refresh_from_db()  # intake may have flagged it as a neighbour's likely duplicate
        ids.append(register_and_dispatch(viewer=operator, case_id=case.pk, version=case.version).pk)
    due = max(Case.objects.filter(pk__in=ids).values_list("due_at", flat=True))
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def sweep(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[i] = sweep_deadlines()
        except Exception as exc:  # asserted on below
            outcomes[i] = exc
        finally:
            connection.close()

    with clock.frozen_at(due + dt.timedelta(hours=1)):
        threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert sum(o["red"] for o in outcomes) == CASES
    assert sum(o["escalated"] for o in outcomes) == CASES
    for case_id in ids:
        actions = list(CaseEvent.objects.filter(case_id=case_id).order_by("seq").values_list("action", flat=True))
        assert actions.count("mark_overdue") == 1 and actions.count("auto_escalate") == 1
        assert Notification.objects.filter(case_id=case_id, kind="overdue").count() == 2
        case = Case.objects.get(pk=case_id)
        assert verify_events(list(case.events.order_by("seq")), case.last_hash) is None
