"""What the benchmarks share: the repository root, their error, running a `yiwang` subcommand."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    pass


def run(argv: list[str], env: dict, timeout: float = 60.0) -> str:
    """Run a command from the repository root; its stdout, or BenchError with everything it said."""
    p = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout
