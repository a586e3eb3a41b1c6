"""`yiwang import FILE|- [--skip-bad] [--commit-every N] [-q]`: load historical cases in bulk.

The format (JSON Lines, one case with its timeline and rating per line) and what is written when
are in docs/cli.md, "Importing historical cases"; the work is done by yiwang.records.imports.
"""

import gzip
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from yiwang.records.imports import Progress, import_cases


class ProgressBar:
    """Cases per second and the time left, on stderr: redrawn in place on a terminal, a line every
    ten seconds otherwise (a log file)."""

    def __init__(self, stream, total_cases: int | None):
        self.stream = stream
        self.tty = stream.isatty()
        self.total_cases = total_cases
        self.shown = 0.0

    def __call__(self, p: Progress, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < (0.5 if self.tty else 10.0):
            return
        self.shown = now
        rate = p.cases / p.seconds if p.seconds > 0 else 0.0
        share = None
        if self.total_cases:
            share = min(p.lines / self.total_cases, 1.0)
        elif p.total_bytes:
            share = min(p.bytes_read / p.total_bytes, 1.0)
        text = f"{p.cases:,} cases, {p.events:,} events, {p.ratings:,} ratings  {rate:,.0f} cases/s"
        if share is not None:
            width = 24
            filled = int(share * width)
            left = p.seconds * (1 - share) / share if share > 0 else 0
            text = f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%} {text}  ETA {_clock(left)}"
        if p.skipped:
            text += f"  {p.skipped:,} bad lines skipped"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Command(BaseCommand):
    help = ("Import historical cases with their timelines and ratings from JSON Lines (a file, a .gz file, "
            "or - for stdin), replayed through the workflows and written in bulk (docs/cli.md).")

    def add_arguments(self, parser):
        parser.add_argument("source", help="a .jsonl or .jsonl.gz file, or - to read standard input")
        parser.add_argument("--skip-bad", action="store_true",
                            help="skip lines that fail validation (each is reported) and import the rest")
        parser.add_argument("--commit-every", type=int, default=0, metavar="N",
                            help="commit after every N lines instead of once at the end (a failure then keeps "
                                 "the batches committed before it; each holds whole cases)")
        parser.add_argument("--max-errors", type=int, default=100, metavar="N",
                            help="report at most N bad lines (default 100); without --skip-bad, stop reading "
                                 "after that many")
        parser.add_argument("--total", type=int, default=None, metavar="LINES",
                            help="the number of lines to expect, for the progress bar's ETA on standard input")
        parser.add_argument("--rebuild-indexes", action="store_true",
                            help="drop the case tables' non-unique indexes and build them again at the end, in the "
                                 "import's transaction: faster for an import large against the tables, which stay "
                                 "locked to readers until it commits (not with --commit-every)")
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, source, skip_bad, commit_every, max_errors, total, quiet, rebuild_indexes=False,
               **options):
        if commit_every < 0 or max_errors < 1:
            raise CommandError("--commit-every must be 0 or more and --max-errors 1 or more")
        if rebuild_indexes and commit_every:
            raise CommandError("--rebuild-indexes needs the whole import in one transaction: not with --commit-every")
        raw, size = self._open(source)
        stream = gzip.GzipFile(fileobj=raw) if source.endswith(".gz") else raw
        bar = None if quiet or options.get("verbosity", 1) == 0 else ProgressBar(sys.stderr, total)
        try:
            report = import_cases(stream, skip_bad=skip_bad, commit_every=commit_every, max_errors=max_errors,
                                  progress=bar, position=raw.tell if size else None, total_bytes=size,
                                  rebuild_indexes=rebuild_indexes)
        except gzip.BadGzipFile as exc:
            raise CommandError(f"{source} is not a gzip file: {exc}") from exc
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        p = report.progress
        if bar is not None and report.written:
            bar(p, final=True)
        elif bar is not None and bar.tty:
            sys.stderr.write("\n")
        for line, message in report.errors:
            self.stderr.write(f"line {line}: {message}")
        if report.error_count > len(report.errors):
            self.stderr.write(f"… and {report.error_count - len(report.errors)} more bad lines")
        rate = p.cases / p.seconds if p.seconds else 0.0
        summary = (f"{p.cases:,} cases, {p.events:,} events and {p.ratings:,} ratings from {p.lines:,} lines "
                   f"in {p.seconds:.1f} s ({rate:,.0f} cases/s)")
        if not report.written:
            kept = (f"; lines 1-{report.committed_through:,} were committed in {report.batches_committed} batches "
                    f"before the first bad line and are kept" if report.batches_committed else
                    "; nothing was written")
            count = f"{report.error_count:,}{' (or more: reading stopped at --max-errors)' if report.stopped_early else ''}"
            raise CommandError(f"{count} bad lines: import refused{kept}. Fix them, or run again "
                               "with --skip-bad to import the good lines only.")
        if report.error_count:
            self.stderr.write(f"{report.error_count:,} bad lines skipped")
        self.stdout.write(f"imported {summary}; indicator rollups rebuilt")

    def _open(self, source: str):
        if source == "-":
            return sys.stdin.buffer, None
        try:
            raw = open(source, "rb")  # noqa: SIM115 - closed in handle()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror}") from exc
        return raw, os.fstat(raw.fileno()).st_size or None
