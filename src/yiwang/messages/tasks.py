"""Delivering the outbox in the background: `yiwang worker` runs delivery_loop in a thread of its own."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

from yiwang.messages.services import deliver_due

log = logging.getLogger("yiwang.messages")


def delivery_loop(stop: threading.Event, *, interval: float = 1.0, batch: int = 100) -> None:
    """Deliver what is due until ``stop`` is set, looking again every ``interval`` seconds when idle.

    A second of latency, not the sweep's minute: a login code must arrive while the user waits.
    """
    try:
        while not stop.is_set():
            try:
                counts = deliver_due(batch=batch)
            except Exception:
                # The database went away (a restart, a failover), or a bug: the thread must not die
                # quietly while the rest of the worker runs on. Wait and try again.
                log.exception("messages: delivery failed; trying again in %s s", interval)
                close_old_connections()
                counts = {}
            if counts.get("claimed", 0) < batch:  # a full batch: more may be waiting, go on at once
                stop.wait(interval)
    finally:
        connection.close()


def start_delivery(stop: threading.Event, *, interval: float = 1.0) -> threading.Thread:
    """Run delivery_loop in a daemon thread (its own database connection) until ``stop`` is set."""
    thread = threading.Thread(target=delivery_loop, args=(stop,), kwargs={"interval": interval}, daemon=True,
                              name="messages-delivery")
    thread.start()
    return thread
