"""`yiwang worker`: run background jobs, and enqueue the deadline sweep every --interval seconds."""

import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand

from yiwang.cases.tasks import sweep_deadlines, sweep_deadlines_task


class Command(BaseCommand):
    help = "Run the background worker (django-tasks) with the periodic deadline sweep."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0, help="seconds between sweeps")
        parser.add_argument("--once", action="store_true", help="run one sweep in this process and exit")

    def handle(self, *args, interval, once, **options):
        if once:
            counts = sweep_deadlines()
            self.stdout.write(f"sweep: {counts['red']} marked overdue, {counts['yellow']} marked due soon")
            return
        stop = threading.Event()

        def schedule():
            while not stop.is_set():
                sweep_deadlines_task.enqueue()
                stop.wait(interval)

        threading.Thread(target=schedule, daemon=True, name="sweep-scheduler").start()
        try:
            call_command("db_worker", interval=1)
        finally:
            stop.set()
