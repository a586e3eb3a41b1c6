"""Readiness (/readyz) and the database's metrics (/metrics): assembled here, above core and messages,
because they read the outbox and the case tallies (docs/operations.md, "Observing yiwang").

Both are cheap enough to poll every few seconds: readiness is four small queries (one of them cached),
the metrics a GROUP BY over the tallies (rows per region, kind, state and unit, not per case) and two
indexed counts. bench/health.py measures both.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.db.models import Count, Min, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from yiwang.cases.deadlines import overdue_q
from yiwang.cases.models import Case, CaseTally
from yiwang.core import clock, health, metrics
from yiwang.messages.models import Message
from yiwang.messages.services import WAITING


def outbox_backlog(now: dt.datetime | None = None) -> tuple[int, float]:
    """Messages due and not sent, and how long the oldest of them has been due, in seconds.

    Counted on the outbox's own (status, next_attempt_at) index, the one delivery claims from.
    """
    now = now or clock.now()
    row = Message.objects.filter(status__in=WAITING, next_attempt_at__lte=now).aggregate(
        n=Count("id"), oldest=Min("next_attempt_at"))
    oldest = (now - row["oldest"]).total_seconds() if row["oldest"] else 0.0
    return row["n"], max(0.0, oldest)


def readiness(now: dt.datetime | None = None) -> dict:
    """Every check with its numbers; ``failed`` names those that did not pass, in order."""
    now = now or clock.now()
    checks: dict[str, dict] = {"database": {"ok": health.database_reachable()}}
    if checks["database"]["ok"]:
        try:
            pending = health.pending_migrations()
            checks["migrations"] = {"ok": pending == 0, "pending": pending}
            age = health.heartbeat_age(now)
            limit = settings.YIWANG_READY_HEARTBEAT_SECONDS
            checks["worker"] = {"ok": age is not None and age <= limit,
                                "heartbeat_age_seconds": None if age is None else round(age, 1),
                                "limit_seconds": limit}
            due, oldest = outbox_backlog(now)
            checks["outbox"] = {"ok": due <= settings.YIWANG_READY_OUTBOX_MAX
                                and oldest <= settings.YIWANG_READY_OUTBOX_AGE_SECONDS,
                                "due": due, "oldest_age_seconds": round(oldest, 1),
                                "limit": settings.YIWANG_READY_OUTBOX_MAX,
                                "limit_age_seconds": settings.YIWANG_READY_OUTBOX_AGE_SECONDS}
        except DatabaseError:
            # The database answered SELECT 1 and went away before the other checks: not reachable.
            checks = {"database": {"ok": False}}
            close_old_connections()
    failed = [name for name, check in checks.items() if not check["ok"]]
    return {"status": "unready" if failed else "ready", "failed": failed, "checks": checks}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    body = readiness()
    response = JsonResponse(body, status=503 if body["failed"] else 200)
    # A balancer polls every few seconds: an unready 503 is its answer, not a server error to log and
    # e-mail to ADMINS at each poll (django.utils.log.log_response skips a response marked logged).
    response._has_been_logged = True
    return response


class DatabaseCollector:
    """The figures the database holds, read at scrape time (see core/metrics.py for why)."""

    def collect(self):
        now = clock.now()
        opened = CounterMetricFamily("yiwang_cases_opened", "Cases opened since the start, by kind.",
                                     labels=["kind"])
        closed = GaugeMetricFamily("yiwang_cases_closed",
                                   "Cases closed now, by kind (a reopened case leaves this count).", labels=["kind"])
        open_ = GaugeMetricFamily("yiwang_cases_open", "Cases open now, by kind.", labels=["kind"])
        totals: dict[str, list[int]] = {}
        for row in CaseTally.objects.values("kind", "closed").annotate(n=Sum("n")).order_by():
            totals.setdefault(row["kind"], [0, 0])[1 if row["closed"] else 0] += row["n"] or 0
        for kind, (open_n, closed_n) in sorted(totals.items()):
            opened.add_metric([kind], open_n + closed_n)
            closed.add_metric([kind], closed_n)
            open_.add_metric([kind], open_n)
        yield from (opened, closed, open_)
        yield GaugeMetricFamily("yiwang_cases_overdue", "Open cases past their deadline with the clock running (超期).",
                                value=Case.objects.filter(overdue_q(now)).count())
        due, oldest = outbox_backlog(now)
        yield GaugeMetricFamily("yiwang_outbox_due_messages", "Messages due and not yet sent.", value=due)
        yield GaugeMetricFamily("yiwang_outbox_oldest_due_age_seconds",
                                "How long the oldest unsent due message has waited.", value=oldest)
        age = health.heartbeat_age(now)
        yield GaugeMetricFamily("yiwang_worker_heartbeat_age_seconds",
                                "Seconds since the worker's last heartbeat (NaN: no worker ever ran).",
                                value=math.nan if age is None else age)
        yield GaugeMetricFamily("yiwang_migrations_pending", "Migrations in the code not applied to the database.",
                                value=health.pending_migrations())


DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
DATABASE_REGISTRY.register(DatabaseCollector())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    return metrics.metrics_response(request, DATABASE_REGISTRY)
