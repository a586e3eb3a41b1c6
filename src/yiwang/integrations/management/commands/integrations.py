"""`yiwang integrations [--loop] [--interval 5]`: webhook deliveries, Open311 forwarding and pulls.

What `yiwang worker` runs (once with --once, else in a thread of its own with --loop): the worker
sits in cases, below this app, so it names the command instead of importing it. A pull asks a server
only about the cases its rule's pull_minutes make due, so running every few seconds costs a query or
two when idle.
"""

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from yiwang.integrations import forwarding, services

log = logging.getLogger("yiwang.integrations")
PURGE_EVERY = 3600  # seconds


class Command(BaseCommand):
    help = "Send due webhook deliveries, forward waiting cases over Open311, pull forwarded cases' status."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep going until the process ends")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds with --loop")

    def handle(self, *args, loop, interval, **options):
        if not loop:
            self.round(report=True, purge=True)
            return
        purged_at = None
        while True:
            # Old deliveries are purged once an hour: a DELETE every 5 s would be mostly empty work.
            purge = purged_at is None or time.monotonic() - purged_at >= PURGE_EVERY
            try:
                self.round(report=False, purge=purge)
                if purge:
                    purged_at = time.monotonic()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("integrations: a round failed; trying again in %s s", interval)
            close_old_connections()
            time.sleep(interval)

    def round(self, *, report: bool, purge: bool = False) -> None:
        purged = services.purge_old() if purge else 0
        sent = services.deliver_due(batch=1000)
        forwarded = forwarding.forward_due()
        pulled = forwarding.pull_due()
        if report:
            self.stdout.write(f"webhooks: {sent['delivered']} delivered, {sent['failed']} failed, "
                              f"{sent['dead']} given up; {purged} old deliveries purged")
            self.stdout.write(f"open311: {forwarded['forwarded']} forwarded, {forwarded['failed']} failed; "
                              f"{pulled['updated']} updated, {pulled['closed']} closed, {pulled['failed']} pull failures")
