"""One meaning of overdue (超期), due soon (临期) and on time (按时办结) on every surface.

Four 老年证 applications accepted the same Monday share one deadline: one runs, one waits on the
resident's documents (补正: its clock stopped), one closes early, one closes late. Each surface — the
staff queue's tabs, the dashboard and its indicators, the REST API, the deadline sweep and the plain
functions of cases.deadlines — must tell the same story at three moments around the deadline.
"""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases import deadlines
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.cases.tasks import sweep_deadlines
from yiwang.core import clock
from yiwang.stats import selectors as stats
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a working Monday


def _act(world, who: str, case: Case, action: str, **kw) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def _accepted(world) -> Case:
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    return _act(world, "clerk_xfl", case, "accept")


@pytest.fixture
def cases(world):
    with clock.frozen_at(MONDAY):
        running = _accepted(world)
        waiting = _act(world, "clerk_xfl", _accepted(world), "request_supplement", comment="请补交户口本")
        early = _act(world, "handler_xfl", _accepted(world), "decide", decision="approved")
        early = _act(world, "handler_xfl", early, "close", delivery={"method": "post", "tracking": "SF1234567890"})
        late = _act(world, "handler_xfl", _accepted(world), "decide", decision="approved")
    assert waiting.suspended_at is not None and running.due_at == waiting.due_at == late.due_at
    return {"running": running, "waiting": waiting, "early": early, "late": late}


def _numbers(items) -> set[str]:
    return {c.number for c in items}


def _queue(client, world, tab: str):
    client.force_login(world.users["clerk_xfl"])
    response = client.get("/work/", {"tab": tab})
    assert response.status_code == 200
    counts = {key: n for key, _label, n in response.context["tabs"]}
    return response.context["rows"], counts


def _swept(case: Case, action: str) -> bool:
    return CaseEvent.objects.filter(case_id=case.pk, action=action).exists()


def test_two_days_before_the_deadline_nothing_is_due_soon(world, cases, client):
    # The queue's 临期 tab once meant three days; now it is the sweep's one window, DUE_SOON.
    running = cases["running"]
    with clock.frozen_at(running.due_at - dt.timedelta(hours=48)):
        assert not deadlines.is_due_soon(running) and not deadlines.is_overdue(running)
        rows, counts = _queue(client, world, "soon")
        assert rows == [] and counts["soon"] == 0
        assert sweep_deadlines()["yellow"] == 0


def test_within_the_window_the_running_cases_are_due_soon_and_the_waiting_one_is_not(world, cases, client):
    # "late" is decided but not closed yet: its clock runs too.
    running, waiting, early, late = cases["running"], cases["waiting"], cases["early"], cases["late"]
    now = running.due_at - deadlines.DUE_SOON / 2
    with clock.frozen_at(now):
        assert deadlines.is_due_soon(running, now) and deadlines.is_due_soon(late, now)
        assert not deadlines.is_due_soon(waiting, now) and not deadlines.is_due_soon(early, now)
        assert _numbers(Case.objects.filter(deadlines.due_soon_q(now))) == {running.number, late.number}
        rows, counts = _queue(client, world, "soon")
        assert {c.number for c, _label, _overdue in rows} == {running.number, late.number} and counts["soon"] == 2
        assert counts["overdue"] == 0 and counts["waiting"] == 1
        assert sweep_deadlines() == {"yellow": 2, "red": 0, "escalated": 0}
    assert _swept(running, "warn") and not _swept(waiting, "warn")


def test_past_the_deadline_a_case_waiting_on_the_resident_is_not_overdue_anywhere(world, cases, client, api):
    running, waiting, early, late = cases["running"], cases["waiting"], cases["early"], cases["late"]
    with clock.frozen_at(running.due_at + dt.timedelta(hours=1)):
        late = _act(world, "handler_xfl", late, "close", delivery={"method": "post", "tracking": "SF1234567890"})
    now = running.due_at + dt.timedelta(hours=2)
    with clock.frozen_at(now):
        # The plain functions.
        assert deadlines.is_overdue(running) and not deadlines.is_overdue(waiting)
        assert not deadlines.is_due_soon(waiting)
        assert not deadlines.is_overdue(early) and not deadlines.is_overdue(late)  # closed: on time or late
        assert deadlines.is_on_time(early) and not deadlines.is_late(early)
        assert deadlines.is_late(late) and not deadlines.is_on_time(late)
        assert not deadlines.is_on_time(running) and not deadlines.is_on_time(waiting)  # still open

        # The staff queue: the 已超期 tab, its count, and the badge on every row.
        rows, counts = _queue(client, world, "overdue")
        assert [c.number for c, _label, _overdue in rows] == [running.number] and counts["overdue"] == 1
        rows, _counts = _queue(client, world, "open")
        assert {c.number: badge for c, _label, badge in rows} == {running.number: True, waiting.number: False}
        rows, _counts = _queue(client, world, "closed")
        assert {c.number: badge for c, _label, badge in rows} == {early.number: False, late.number: True}

        # The dashboard: the indicator, the region table, the list behind the figure, the API figure.
        admin = world.viewer("admin")
        figures = stats.indicators(viewer=admin)
        assert figures["overdue_open"] == 1 and figures["on_time_rate"] == "50.000"
        assert stats.region_breakdown(viewer=admin, region_code=None)["total"]["overdue"] == 1
        figure = stats.figure_cases(viewer=admin, filters=stats.FigureFilters(overdue=True))
        assert _numbers(figure) == {running.number}
        assert _numbers(stats.overdue_cases(viewer=admin, region_code=None)) == {running.number}
        late_figure = stats.figure_cases(viewer=admin, filters=stats.FigureFilters(late=True))
        assert _numbers(late_figure) == {late.number}
        assert api("get", "/indicators", "admin").json()["overdue_open"] == 1
        client.force_login(world.users["admin"])
        page = client.get("/dashboard/cases/", {"open": "1"})
        assert {c.number: badge for c, _label, badge, _rating in page.context["rows"]} == {
            running.number: True, waiting.number: False}

        # The API: the field on every case and the filter.
        assert api("get", f"/cases/{waiting.number}", "clerk_xfl").json()["overdue"] is False
        assert api("get", f"/cases/{running.number}", "clerk_xfl").json()["overdue"] is True
        assert api("get", f"/cases/{late.number}", "clerk_xfl").json()["overdue"] is False  # closed: late
        listed = api("get", "/cases?overdue=true", "clerk_xfl").json()["items"]
        assert [c["number"] for c in listed] == [running.number]

        # The sweep marks the running case red and leaves the waiting one alone.
        assert sweep_deadlines()["red"] == 1
    assert _swept(running, "mark_overdue") and not _swept(waiting, "mark_overdue")
    assert Case.objects.get(pk=waiting.pk).warning_level == 0


def test_a_resumed_clock_counts_again(world, cases):
    # The waiting case's deadline moves by the time it waited: once resumed it is not overdue yet.
    waiting = cases["waiting"]
    with clock.frozen_at(waiting.due_at + dt.timedelta(hours=2)):
        resumed = _act(world, "resident_wang", waiting, "resubmit")
        assert resumed.suspended_at is None and resumed.due_at > clock.now()
        assert not deadlines.is_overdue(resumed)
    with clock.frozen_at(resumed.due_at + dt.timedelta(minutes=1)):
        assert deadlines.is_overdue(resumed)
        assert Case.objects.filter(deadlines.overdue_q(clock.now()), pk=resumed.pk).exists()
