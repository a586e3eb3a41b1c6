"""Throw-away PostgreSQL clusters for tests that need a server of their own: one they may stop,
kill, replicate or reconfigure, which the run's server (YIWANG_DATABASE_URL) must never be.

A cluster lives in a temp dir, listens on 127.0.0.1 on a free port only, and runs as the ``postgres``
OS user when the tests run as root (initdb and postgres refuse root). Used by tests/test_replica.py
(a primary and a streaming replica) and tests/test_crash_safety.py (a database killed mid-load).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

SERVER_BINARIES = ("initdb", "pg_ctl", "pg_basebackup")


def _version(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<major>/bin: "9.6" and "16" compare as versions, not as text.
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


@functools.cache
def pg_bin() -> Path | None:
    """The directory of the server binaries (initdb, pg_ctl, pg_basebackup), wherever this machine keeps
    them: pg_config --bindir; else Debian's /usr/lib/postgresql/<major>/bin, the newest major first
    (the server packages do not put initdb on PATH); else the directory of an initdb on PATH."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout
            if bindir.strip():
                candidates.append(Path(bindir.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    return next((d for d in candidates if all((d / name).is_file() for name in SERVER_BINARIES)), None)


def missing() -> str | None:
    """What this machine lacks to start a cluster of its own, or None."""
    if pg_bin() is None:
        return (f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found by pg_config --bindir, "
                "in /usr/lib/postgresql/*/bin or on PATH: install the server (Debian: apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no postgres OS user to run the PostgreSQL server as"
        if shutil.which("runuser") is None:
            return "running as root, and runuser is missing (needed to run the server as postgres)"
    return None


def require_server(what: str) -> None:
    """Skip the calling test when this machine cannot start a cluster, naming what is missing; in CI
    (``CI`` set) fail instead, so that a runner without the server cannot pass by skipping."""
    lack = missing()
    if lack and os.environ.get("CI"):
        pytest.fail(f"{lack} (CI is set: {what} must run)")
    if lack:
        pytest.skip(lack)


def as_server_user() -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_root(prefix: str) -> Path:
    """A temp dir the server user may write to. Not pytest's tmp_path: its parents are root's, mode 700."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


class Cluster:
    """One PostgreSQL cluster in ``root/name``, listening on 127.0.0.1:port only."""

    def __init__(self, root: Path, name: str, port: int):
        self.root, self.dir, self.port, self.log = root, root / name, port, root / f"{name}.log"

    def run(self, binary: str, *args: str, timeout: float = 60) -> str:
        argv = [*as_server_user(), str(pg_bin() / binary), *args]
        done = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}")
        return done.stdout

    def initdb(self, **settings: str | int) -> None:
        """A new cluster (trust authentication, UTF8, C locale) configured with ``settings``."""
        self.run("initdb", "-D", str(self.dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                 "--locale=C", "--no-sync", "--no-instructions")
        self.configure(listen_addresses="127.0.0.1", port=self.port, unix_socket_directories=str(self.root),
                       **settings)

    def configure(self, **settings: str | int) -> None:
        with (self.dir / "postgresql.conf").open("a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value!r}\n" if isinstance(value, str) else f"{key} = {value}\n")

    def start(self) -> None:
        self.run("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop_argv(self) -> list[str]:
        return [*as_server_user(), str(pg_bin() / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"]

    def stop(self) -> None:
        pid_file = self.dir / "postmaster.pid"
        if not pid_file.exists():
            return
        subprocess.run(self.stop_argv(), cwd=self.root, capture_output=True, timeout=30)
        if pid_file.exists():  # pg_ctl could not stop it: the postmaster whose pid it wrote, immediate shutdown
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)

    def url(self, dbname: str = "yiwang") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"
