"""Background jobs of core (django-tasks), scheduled by `yiwang worker` with the deadline sweep."""

from __future__ import annotations

import logging

from django_tasks import task

from yiwang.core import idempotency

log = logging.getLogger("yiwang.sweep")


def purge_idempotency_records() -> int:
    """Forget the stored answers to Idempotency-Key requests older than a day (core/idempotency.py)."""
    purged = idempotency.purge_expired()
    if purged:
        log.info("idempotency: %s stored answers purged", purged)
    return purged


@task()
def purge_idempotency_records_task() -> int:
    return purge_idempotency_records()
