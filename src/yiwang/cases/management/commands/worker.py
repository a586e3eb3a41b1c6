"""`yiwang worker`: run background jobs, and enqueue the deadline sweep every --interval seconds."""

import io
import logging
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from yiwang.cases.retention import retention_sweep
from yiwang.cases.tasks import (
    apply_auto_rules,
    apply_auto_rules_task,
    sweep_confirmations,
    sweep_confirmations_task,
    sweep_deadlines,
    sweep_deadlines_task,
)
from yiwang.core import clock, health
from yiwang.core.logging import bind_job_ids
from yiwang.core.tasks import purge_idempotency_records, purge_idempotency_records_task
from yiwang.messages.services import deliver_due
from yiwang.messages.tasks import start_delivery

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the background worker (django-tasks) with the periodic deadline sweep."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between sweeps")
        parser.add_argument("--once", action="store_true", help="run one sweep in this process and exit")

    def handle(self, *args, interval, once, **options):
        if once:
            health.beat()
            counts = sweep_deadlines()
            self.stdout.write(f"sweep: {counts['red']} marked overdue, {counts['yellow']} marked due soon, "
                              f"{counts['escalated']} escalated")
            self.stdout.write(f"confirmations: {sweep_confirmations()} closed unconfirmed")
            issued = apply_auto_rules()
            self.stdout.write(f"auto rules: {issued['issued']} issued")
            run = retention_sweep()
            self.stdout.write(f"retention: {run.cases} cases anonymised ("
                              + ", ".join(f"{k} {v}" for k, v in run.counts.items())
                              + f"), {run.files_deleted} files deleted, {len(run.errors)} errors")
            self.stdout.write(f"idempotency: {purge_idempotency_records()} stored answers purged")
            delivered = deliver_due(batch=10_000)
            self.stdout.write(f"messages: {delivered['sent']} sent, {delivered['failed']} failed, "
                              f"{delivered['dead']} given up, {delivered['unknown']} unknown")
            call_command("checkpoint", "--daily", stdout=self.stdout)
            call_command("integrations", stdout=self.stdout)
            return
        stop = threading.Event()
        bind_job_ids()
        # Its own thread, beating every few seconds: /readyz and /metrics read its age (core/health.py).
        threading.Thread(target=health.heartbeat_loop, args=(stop,), daemon=True, name="heartbeat").start()

        def schedule():
            last_day = None
            while not stop.is_set():
                sweep_deadlines_task.enqueue()
                sweep_confirmations_task.enqueue()
                purge_idempotency_records_task.enqueue()
                # 免申即享 once a day: birthdays and other dated conditions change overnight.
                if clock.today() != last_day:
                    apply_auto_rules_task.enqueue()
                    # Personal data past its retention period (docs/retention.md), once a day, off the sweep's thread.
                    threading.Thread(target=retention_sweep, daemon=True, name="retention").start()
                    threading.Thread(target=daily_checkpoint, daemon=True, name="checkpoint").start()
                    last_day = clock.today()
                stop.wait(interval)

        threading.Thread(target=schedule, daemon=True, name="sweep-scheduler").start()
        # The outbox polls every second in its own thread: a login code cannot wait for the sweep's minute.
        start_delivery(stop)
        # Webhooks and Open311 forwarding (docs/integrations.md), every 5 s; by name: that app sits above cases.
        threading.Thread(target=call_command, args=("integrations", "--loop"), daemon=True, name="integrations").start()
        try:
            call_command("db_worker", interval=1)
        finally:
            stop.set()


def daily_checkpoint() -> None:
    """Today's signed checkpoint (docs/checkpoints.md), once per day however often the worker starts.
    By command name: records sits above cases and is not imported here. Its own thread, because it
    reads every case and must not hold up the minute's sweeps."""
    try:
        call_command("checkpoint", "--daily", stdout=io.StringIO())
    except Exception:
        logger.exception("the daily checkpoint failed; the next start or day tries again")
    finally:
        connections.close_all()  # this thread's connections only
