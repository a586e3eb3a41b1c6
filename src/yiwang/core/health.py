"""Liveness (/healthz), and the parts of readiness that belong to no app: the database, its migrations
and the worker's heartbeat. Readiness as a whole (/readyz, with the outbox) is assembled above the apps
it reads, in cases/observability.py (docs/operations.md).

Both endpoints are polled every few seconds by machines, without a login, so they say nothing of anyone: only
whether each check passed and the numbers an operator needs to see why not. Liveness touches no
database: a process that answers is alive, and restarting it would not bring a lost database back.
Readiness is one small query per check (bench/health.py measures it).

The worker's heartbeat is a ``core.ConfigVersion`` row whose version is the Unix time of its last beat:
a row every web process can read wherever the worker runs (a file would only be seen on its host),
in a table that already exists, one upsert every HEARTBEAT_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from yiwang.core import clock
from yiwang.core.models import ConfigVersion

HEARTBEAT = "worker_heartbeat"
HEARTBEAT_SECONDS = 10.0

_migrations_lock = threading.Lock()
_migrations_checked: tuple[float, int] | None = None  # (monotonic time of the check, pending count)
_leaves: frozenset[tuple[str, str]] | None = None
log = logging.getLogger("yiwang.worker")


def beat(now: dt.datetime | None = None) -> None:
    """Record that the worker is alive now."""
    seconds = int((now or clock.now()).timestamp())
    if not ConfigVersion.objects.filter(name=HEARTBEAT).update(version=seconds):
        ConfigVersion.objects.update_or_create(name=HEARTBEAT, defaults={"version": seconds})


def heartbeat_loop(stop: threading.Event, *, interval: float = HEARTBEAT_SECONDS) -> None:
    """Beat every ``interval`` seconds until ``stop`` is set (the worker runs it in a thread)."""
    try:
        while not stop.is_set():
            try:
                beat()
            except DatabaseError:
                # A lost database is what readiness reports; the beat resumes when it is back.
                log.warning("worker: the heartbeat could not be written; trying again in %s s", interval)
                close_old_connections()
            stop.wait(interval)
    finally:
        connection.close()


def heartbeat_age(now: dt.datetime | None = None) -> float | None:
    """Seconds since the worker's last beat; None when no worker ever beat."""
    seconds = ConfigVersion.objects.filter(name=HEARTBEAT).values_list("version", flat=True).first()
    if seconds is None:
        return None
    return max(0.0, (now or clock.now()).timestamp() - seconds)


def pending_migrations() -> int:
    """How many of the code's migration leaves the database has not applied.

    The leaves come from the migration files, which do not change while the process runs: read once.
    The applied set is re-read at most every YIWANG_READY_MIGRATIONS_CACHE_SECONDS, so a readiness
    poll every second does not read django_migrations every second.
    """
    global _leaves, _migrations_checked
    with _migrations_lock:
        if _leaves is None:
            _leaves = frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())
        checked = _migrations_checked
        if checked is not None and time.monotonic() - checked[0] < settings.YIWANG_READY_MIGRATIONS_CACHE_SECONDS:
            return checked[1]
        applied = set(MigrationRecorder(connection).applied_migrations())
        pending = len(_leaves - applied)
        _migrations_checked = (time.monotonic(), pending)
        return pending


def forget_migrations_check() -> None:
    """Make the next readiness poll re-read django_migrations (after `migrate`, and in tests)."""
    global _migrations_checked
    with _migrations_lock:
        _migrations_checked = None




def database_reachable() -> bool:
    """One round trip; a connection that was lost is dropped, so the next poll tries a new one."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        close_old_connections()
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
