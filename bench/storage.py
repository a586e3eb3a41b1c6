#!/usr/bin/env python
"""Storage benchmark: bytes per case on PostgreSQL, with its events, rating, notifications and indexes.

One command (``.venv/bin/python bench/storage.py``), against a PostgreSQL server you name:

1. creates a scratch database on it (``--server``, default postgres://postgres@127.0.0.1:5432),
   runs ``yiwang migrate`` and ``yiwang demo --cases N``: a year and a half of Xixian cases written
   through the services, so every case has the timeline, deadline, rating and notifications real
   use would have given it, and the other apps (grid, parking, patrol, ledger, party) their rows;
2. copies the per-case rows (cases_case, cases_caseevent, feedback_evaluation, cases_notification)
   ``--copies`` times with new ids and timestamps shifted by seconds, so that the indexes hold as
   many distinct keys as real cases would give them (PostgreSQL deduplicates equal B-tree keys);
3. VACUUM ANALYZE, then pg_total_relation_size (heap + TOAST + indexes) of every table, per case for
   the per-case tables and per row for the others; the sizes of cases_case's and the timeline's
   indexes one by one;
4. prints the table, writes bench/results/storage-<timestamp>.json, drops the scratch database
   (unless --keep).

docs/SCALING.md takes its bytes-per-case figures from this.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import YIWANG, environment, log, run, run_benchmark

PER_CASE = ("cases_case", "cases_caseevent", "feedback_evaluation", "cases_notification")
INDEXED = ("cases_case", "cases_caseevent")


def scratch_env(url: str, tmp: Path) -> dict:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    env.update(YIWANG_DATABASE_URL=url, YIWANG_VAR_DIR=str(tmp), YIWANG_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    env.pop("YIWANG_REPLICA_URL", None)
    return env


def copy_select(conn, table: str, k: int, offset: int) -> str:
    """INSERT … SELECT of one copy of ``table``: ids and references to cases moved by k × offset."""
    to_cases = {row[0] for row in conn.execute(
        "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
        "AND a.attnum = ANY(c.conkey) WHERE c.contype = 'f' AND c.conrelid = %s::regclass "
        "AND c.confrelid = 'cases_case'::regclass", (table,))}
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position", (table,)).fetchall()
    exprs = []
    for name, data_type in columns:
        if name == "id" or name in to_cases:
            exprs.append(f"{name} + {k * offset}")
        elif data_type == "timestamp with time zone":
            exprs.append(f"{name} + interval '{k} seconds'")
        elif name == "idempotency_key":
            exprs.append(f"{name} || '~{k}'")
        else:
            exprs.append(name)
    names = ", ".join(name for name, _t in columns)
    return f"INSERT INTO {table} ({names}) SELECT {', '.join(exprs)} FROM {table} WHERE id <= %s"


def sizes(conn) -> dict[str, dict]:
    rows = conn.execute(
        "SELECT c.relname, c.reltuples::bigint, pg_table_size(c.oid), pg_indexes_size(c.oid), "
        "pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC").fetchall()
    out = {}
    for name, estimate, table, indexes, total in rows:
        count = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] if estimate < 5_000_000 else estimate
        # A row's own bytes (tuple header 24 + line pointer 4): unlike the table's size, not dominated by
        # empty pages and per-index minimums in a table of a few hundred rows. Indexes: count them.
        width = conn.execute(f'SELECT avg(pg_column_size(t.*)) FROM (SELECT * FROM "{name}" LIMIT 10000) t').fetchone()[0]
        n_indexes = conn.execute("SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", (name,)).fetchone()[0]
        out[name] = {"rows": count, "table_bytes": table, "index_bytes": indexes, "total_bytes": total,
                     "row_bytes": round(width + 28) if width else None, "indexes": n_indexes}
    return out


def index_sizes(conn, table: str) -> dict[str, int]:
    return dict(conn.execute(
        "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass ORDER BY 2 DESC", (table,)).fetchall())


def bench(args, tmp: Path) -> tuple[dict, int]:
    import psycopg

    name = f"yiwang_storage_{os.getpid()}"
    admin = psycopg.connect(f"{args.server}/postgres", autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"{args.server}/{name}"
        env = scratch_env(url, tmp)
        log(f"migrating {name}")
        run([str(YIWANG), "migrate", "--noinput", "-v", "0"], env, timeout=300)
        log(f"loading the demo with {args.demo_cases} cases (through the services: minutes)")
        run([str(YIWANG), "demo", "--cases", str(args.demo_cases)], env, timeout=args.budget)
        with psycopg.connect(url, autocommit=True) as conn:
            loaded = conn.execute("SELECT count(*) FROM cases_case").fetchone()[0]
            # Copy k takes ids k × offset + 1 …: above every id of the loaded rows, in every per-case table.
            offset = max(conn.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in PER_CASE)
            log(f"copying the per-case rows {args.copies - 1} more times")
            for k in range(1, args.copies):
                with conn.transaction():
                    for table in PER_CASE:
                        conn.execute(copy_select(conn, table, k, offset), (offset,))
            log("VACUUM ANALYZE")
            conn.execute("VACUUM ANALYZE")
            tables = sizes(conn)
            indexes = {t: index_sizes(conn, t) for t in INDEXED}
            version = conn.execute("SHOW server_version").fetchone()[0]
    finally:
        if args.keep:
            print(f"kept the database {name} on {args.server}")
        else:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

    cases = tables["cases_case"]["rows"]
    per_case = {t: round(tables[t]["total_bytes"] / cases) for t in PER_CASE}
    results = {
        "environment": environment(postgresql=version), "demo_cases": loaded, "copies": args.copies,
        "cases": cases, "per_case_rows": {t: round(tables[t]["rows"] / cases, 2) for t in PER_CASE},
        "bytes_per_case": per_case, "bytes_per_case_total": sum(per_case.values()),
        "tables": tables, "indexes": indexes,
    }
    print(f"\n{cases:,} cases ({loaded:,} from the demo × {args.copies}), PostgreSQL {version}\n")
    print(f"{'table':<34}{'rows':>12}{'rows/case':>11}{'heap+toast':>13}{'indexes':>12}{'bytes/case':>12}")
    for t in PER_CASE:
        row = tables[t]
        print(f"{t:<34}{row['rows']:>12,}{row['rows'] / cases:>11.2f}{row['table_bytes'] / cases:>13,.0f}"
              f"{row['index_bytes'] / cases:>12,.0f}{per_case[t]:>12,}")
    print(f"{'per case, all of them':<34}{'':>36}{sum(per_case.values()):>24,}\n")
    print(f"{'other tables (as the demo loads them)':<38}{'rows':>10}{'total bytes':>14}{'row bytes':>11}{'indexes':>9}")
    for t, row in tables.items():
        if t not in PER_CASE and row["rows"]:
            print(f"{t:<38}{row['rows']:>10,}{row['total_bytes']:>14,}{row['row_bytes'] or 0:>11,}{row['indexes']:>9}")
    for t, named in indexes.items():
        print(f"\nindexes of {t}, bytes per case:")
        for index, size in named.items():
            print(f"  {index:<48}{size / cases:>10,.0f}")
    return results, 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                    help="PostgreSQL server URL without a database name; a scratch database is created on it")
    ap.add_argument("--demo-cases", type=int, default=3000, help="cases the demo writes through the services")
    ap.add_argument("--copies", type=int, default=20, help="how many times the per-case rows are there in the end")
    ap.add_argument("--budget", type=int, default=1800, help="seconds before the run is stopped")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--no-json", action="store_true", help="don't write bench/results/storage-<timestamp>.json")
    args = ap.parse_args(argv)
    if args.copies < 1:
        ap.error("--copies must be 1 or more")
    return run_benchmark("storage", ap, args, lambda tmp: bench(args, tmp), budget=args.budget)


if __name__ == "__main__":
    sys.exit(main())
