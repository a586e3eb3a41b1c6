"""Duplicate flags and 自动派遣 run in the worker, from a job queued in the report's own transaction:
never in the reporter's request, never lost by a crash after the commit, and with the effect of one run
however often the job runs."""

import datetime as dt

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.cases.tasks import case_opened_task, requeue_stalled_announcements, run_announcements
from yiwang.core import clock

pytestmark = pytest.mark.django_db
LAT, LNG = 34.405, 108.705


def jobs():
    return DBTaskResult.objects.filter(task_path=case_opened_task.module_path)


def report(world, **kw):
    return case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=LAT, lng=LNG,
                       channel="grid", **kw).case


def test_a_report_queues_one_job_and_the_duplicate_is_flagged_by_the_worker_not_the_request(world):
    first = report(world)
    second = report(world)
    assert jobs().count() == 2
    assert Case.objects.get(pk=second.pk).likely_duplicate_of_id is None  # not in the request
    assert run_announcements() == 2
    assert Case.objects.get(pk=second.pk).likely_duplicate_of_id == first.pk
    assert set(jobs().values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert run_announcements() == 0  # nothing left: each job ran once


def test_an_application_queues_no_job(world):
    case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                channel="hall", applicant_name="王大爷", applicant_phone="13800000001",
                form={"birth_date": "1950-01-01"}, materials=[{"code": "id_card"}, {"code": "photo"}])
    assert jobs().count() == 0


def test_a_replayed_report_queues_no_second_job(world):
    report(world, idempotency_key="k-1")
    report(world, idempotency_key="k-1")
    assert Case.objects.count() == 1 and jobs().count() == 1


def test_a_report_rolled_back_leaves_no_job(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        report(world)
        raise RuntimeError("the caller's transaction fails after the case was written")
    assert Case.objects.count() == 0 and jobs().count() == 0


def test_a_job_whose_worker_died_is_run_again_and_flags_once(world):
    report(world)
    second = report(world)
    # A worker claims the second report's job and is killed (kill -9) before it finishes.
    with transaction.atomic():
        row = jobs().order_by("enqueued_at").last()
        row.claim("killed-worker")
    assert run_announcements() == 1  # the first report's job; the claimed one is not touched
    assert Case.objects.get(pk=second.pk).likely_duplicate_of_id is None
    assert requeue_stalled_announcements() == 0  # not yet: a slow job is not a dead one
    later = clock.now() + dt.timedelta(minutes=6)
    assert requeue_stalled_announcements(now=later) == 1
    assert run_announcements() == 1
    assert Case.objects.get(pk=second.pk).likely_duplicate_of_id is not None
    # Run again (the dead worker had in fact flagged it before dying): still one flag on the timeline.
    case_opened_task.call(case_id=second.pk, kind="incident")
    assert CaseEvent.objects.filter(case_id=second.pk, action="flag_duplicate").count() == 1
