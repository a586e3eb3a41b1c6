#!/usr/bin/env python
"""What the district's identity costs a page (org.district): ``.venv/bin/python bench/district_identity.py``.

Loads tests/data/district_demo into a throw-away SQLite database, then, in this process with the test
client, requests the portal's home page for ``--seconds`` and counts, per request, the SQL queries and
those that read the identity (org_district) or ask whether it changed (core_configversion, at most once
per YIWANG_CONFIG_RECHECK_SECONDS per cache). Also times identity() itself, warm. Nothing listens on a port.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="yiwang-district-")
    os.environ["YIWANG_DATABASE_URL"] = f"sqlite:///{tmp}/db.sqlite3"
    os.environ.setdefault("YIWANG_VAR_DIR", tmp)
    os.environ["DJANGO_SETTINGS_MODULE"] = "yiwang.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from yiwang.org.district import identity

    setup_test_environment()
    logging.disable(logging.INFO)  # the access log line per request
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    call_command("district", "load", str(ROOT / "tests" / "data" / "district_demo"), stdout=io.StringIO())
    client = Client()
    client.get("/")  # warm: templates, the caches
    times, queries, identity_queries = [], [], []
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            assert client.get("/").status_code == 200
            times.append(time.perf_counter() - started)
        queries.append(len(captured))
        identity_queries.append(sum("org_district" in q["sql"] or "core_configversion" in q["sql"] for q in captured))
    started = time.perf_counter()
    for _ in range(100_000):
        identity()
    per_call = (time.perf_counter() - started) / 100_000
    print(f"home page: {len(times)} requests in {args.seconds:.0f} s, p50 {statistics.median(times) * 1000:.1f} ms, "
          f"queries per request {statistics.mean(queries):.2f} (max {max(queries)})")
    print(f"  identity or cache-version queries: {sum(identity_queries)} in {len(times)} requests "
          f"(recheck every {settings.YIWANG_CONFIG_RECHECK_SECONDS:g} s per cache)")
    print(f"identity(), warm: {per_call * 1e6:.2f} µs per call")


if __name__ == "__main__":
    main()
