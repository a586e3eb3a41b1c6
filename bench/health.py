#!/usr/bin/env python
"""What polling /healthz, /readyz and /metrics costs: p50/p95 per call and SQL queries per call.

``.venv/bin/python bench/health.py [--requests 300]`` against the database of YIWANG_DATABASE_URL
(default: the demo's var/yiwang.sqlite3; run ``make demo`` first), in-process with Django's test client,
so the figures are the app's own cost without a server or a network. Prints the database's size (cases,
tally rows, outbox rows) beside the figures, because /metrics reads the tallies and /readyz the outbox.
Nothing is written to the database. /readyz answers 503 where no worker runs; it costs the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
os.environ.setdefault("YIWANG_LOG_LEVEL", "WARNING")  # the access line of every call would drown the figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from yiwang.cases.models import Case, CaseTally
    from yiwang.messages.models import Message

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {Case.objects.count():,} cases, "
          f"{CaseTally.objects.count():,} tally rows, {Message.objects.count():,} outbox rows")
    client = Client()  # 127.0.0.1: let into /metrics when no YIWANG_METRICS_TOKEN is set
    token = os.environ.get("YIWANG_METRICS_TOKEN", "")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    for path in ("/healthz", "/readyz", "/metrics"):
        status = client.get(path, **headers).status_code  # warm: the migration graph, the first connection
        times = []
        with CaptureQueriesContext(connection) as queries:
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(path, **headers)
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{path:9} {status}  p50 {statistics.median(times):6.2f} ms  p95 {p95:6.2f} ms  "
              f"{len(queries) / args.requests:.1f} queries/call  ({args.requests} calls)")


if __name__ == "__main__":
    main()
