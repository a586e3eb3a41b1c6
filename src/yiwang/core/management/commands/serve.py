"""`yiwang serve`: the production-shaped server (granian, WSGI; WhiteNoise serves compressed static files)."""

import os
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve yiwang with granian (collects static files first)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("YIWANG_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("YIWANG_THREADS", "2")))
        parser.add_argument("--no-collectstatic", action="store_true")

    def handle(self, *args, host, port, workers, threads, no_collectstatic, **options):
        if not no_collectstatic:
            call_command("collectstatic", interactive=False, verbosity=0)
        argv = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--no-ws",
            # static files are served by WhiteNoise inside the app: precompressed, cached headers
            "yiwang.wsgi:application",
        ]
        # Request latency is measured in each granian worker; this directory lets whichever worker answers
        # /metrics sum them all (core/metrics.py). Emptied here: files of a previous run's processes would
        # be counted again.
        metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.VAR_DIR / "prometheus")))
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"yiwang serving on http://{host}:{port}/ ({workers} workers)")
        self.stdout.flush()
        os.execv(sys.executable, argv)
