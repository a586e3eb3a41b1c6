"""Background jobs (django-tasks). The sweep is idempotent and safe to run twice at once."""

from __future__ import annotations

import datetime as dt
import logging

from django_tasks import task

from yiwang.cases.deadlines import due_soon_q, overdue_q
from yiwang.cases.models import Case, EscalationRule
from yiwang.cases.services import (
    auto_key,
    case_auto_escalate,
    case_auto_issue,
    case_mark_warning,
    case_opened,
    escalation_rule_for,
)
from yiwang.cases.services.notifications import remind_to_rate
from yiwang.core import clock

log = logging.getLogger("yiwang.sweep")


def sweep_deadlines() -> dict:
    """Raise warning levels — yellow (临期) once a case is due soon, red (超期) once it is overdue, both
    as cases.deadlines defines them (due soon: within DUE_SOON of the deadline) — notify the holders
    and their supervisors, and move cases overdue beyond an escalation rule up a level."""
    now = clock.now()
    counts = {"yellow": 0, "red": 0, "escalated": 0}
    # Those rules leave out a case waiting on the applicant (补正): its clock is stopped.
    overdue = Case.objects.filter(overdue_q(now), warning_level__lt=2)
    for case in overdue.only("pk").iterator(chunk_size=500):
        counts["red"] += case_mark_warning(case=case, level=2)
    near = Case.objects.filter(due_soon_q(now), warning_level__lt=1)
    for case in near.only("pk").iterator(chunk_size=500):
        counts["yellow"] += case_mark_warning(case=case, level=1)
    rules = list(EscalationRule.objects.filter(active=True).order_by("id"))
    if rules:
        grace = min(r.after_hours for r in rules)
        # Overdue already when the shortest grace began: the candidates for some rule.
        late = Case.objects.filter(overdue_q(now - dt.timedelta(hours=grace)), warning_level=2)
        for case in late.only("pk", "kind", "matter_id").iterator(chunk_size=500):
            rule = escalation_rule_for(case, rules)
            if rule is not None:
                counts["escalated"] += case_auto_escalate(case=case, rule=rule)
    if any(counts.values()):
        log.info("deadline sweep: %(red)s overdue, %(yellow)s due soon, %(escalated)s escalated", counts)
    # The same minute's pass reminds applicants, once, of a closed case they have not rated.
    reminded = remind_to_rate(now)
    if reminded:
        log.info("deadline sweep: %s applicants reminded to rate", reminded)
    return counts


@task()
def sweep_deadlines_task() -> dict:
    requeue_stalled_announcements()
    return sweep_deadlines()


# --- a new case announced to the apps above (cases.services.case_opened) ----------------------------

# A job claimed by a worker that then died (kill -9, power) stays "running"; after this long it is
# put back in the queue. Its receivers are idempotent (a flag or a dispatch already made is not made
# again), so a job run twice has the effect of one.
STALLED_AFTER = dt.timedelta(minutes=5)


@task()
def case_opened_task(case_id: int, kind: str) -> None:
    """Queued in the transaction that opened the case (cases.services.intake), run by `yiwang worker`."""
    case_opened.send(sender=Case, case_id=case_id, kind=kind)


def requeue_stalled_announcements(now: dt.datetime | None = None) -> int:
    """Put announcements claimed more than STALLED_AFTER ago and never finished back in the queue."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or clock.now()
    stalled = DBTaskResult.objects.running().filter(task_path=case_opened_task.module_path,
                                                    started_at__lt=now - STALLED_AFTER)
    n = stalled.update(status=TaskResultStatus.READY, started_at=None)
    if n:
        log.warning("case_opened: %s jobs of a worker that stopped mid-job queued again", n)
    return n


def run_announcements(limit: int | None = None) -> int:
    """Run the queued announcements in this process, as `yiwang worker` would; how many ran. For
    tests and one-off runs: each job is claimed in its own transaction, so two runners never share one."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    ran = 0
    queued = DBTaskResult.objects.ready().filter(task_path=case_opened_task.module_path)
    while limit is None or ran < limit:
        with transaction.atomic():
            row = queued.get_locked()
            if row is None:
                break
            row.claim("inline")
        try:
            result = row.task_result
            row.set_successful(case_opened_task.call(*result.args, **result.kwargs))
        except Exception as exc:
            row.set_failed(exc)
        ran += 1
    return ran


def apply_auto_rules(*, resident_ids: list[int] | None = None, chunk: int = 2000) -> dict:
    """免申即享: issue every auto-rule matter to every resident (or the given ones) it now applies to.

    Run when a resident's data changes and once a day (birthdays pass overnight). Idempotent: a
    matter is issued to a resident once, ever (cases.services.auto_key).
    """
    from yiwang.catalog.autorules import evaluate, facts_for
    from yiwang.catalog.selectors import matter_cache
    from yiwang.org.models import Resident
    from yiwang.org.selectors import hierarchy

    matters = [m for m in matter_cache.get().by_code.values() if m.auto_rule]
    counts = {"checked": 0, "issued": 0}
    if not matters:
        return counts
    paths = {r.code: r.path for r in hierarchy().regions.values()}
    today = clock.today()
    residents = Resident.objects.order_by("pk")
    if resident_ids is not None:
        residents = residents.filter(pk__in=resident_ids)
    batch: list = []

    def run(batch: list) -> None:
        keys = {auto_key(m.code, r.pk) for m in matters for r in batch}
        issued = set(Case.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
        for resident in batch:
            facts = facts_for(resident, today)
            for matter in matters:
                counts["checked"] += 1
                if auto_key(matter.code, resident.pk) in issued:
                    continue
                verdict = evaluate(matter.auto_rule, facts, paths)
                if verdict.passed and case_auto_issue(matter=matter, resident=resident, reasons=verdict.reasons):
                    counts["issued"] += 1

    for resident in residents.iterator(chunk_size=chunk):
        batch.append(resident)
        if len(batch) >= chunk:
            run(batch)
            batch = []
    if batch:
        run(batch)
    if counts["issued"]:
        log.info("auto rules: %(issued)s issued after %(checked)s checks", counts)
    return counts


@task()
def apply_auto_rules_task() -> dict:
    return apply_auto_rules()


def sweep_confirmations() -> int:
    """已解决吗？ left unanswered past its working days: closed, marked unconfirmed (how many)."""
    from yiwang.cases.services.confirmation import sweep_confirmations as sweep

    return sweep()


@task()
def sweep_confirmations_task() -> int:
    return sweep_confirmations()
