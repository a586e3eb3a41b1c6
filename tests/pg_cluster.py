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
import time
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


def kill_tree(pid: int) -> None:
    """SIGKILL a process and its children, all at once."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
    for victim in (pid, *children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


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

    # -------------------------------------------------------------------------------- failover (tests/test_failover.py, bench/failover.py)

    def pid(self) -> int | None:
        """The postmaster's pid, from postmaster.pid; None when the cluster is not running."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.dir / "postmaster.pid").read_text().split()[0])
        return None

    def kill(self) -> None:
        """SIGKILL the postmaster and every process it started at once: the host died, nothing flushed
        or said goodbye (a postmaster killed alone leaves its backends to notice and exit)."""
        if (pid := self.pid()) is not None:
            kill_tree(pid)

    def standby_of(self, primary: Cluster, **settings: str | int) -> None:
        """This cluster as a streaming standby of ``primary`` (pg_basebackup -R), configured with ``settings``."""
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", str(self.dir),
                 "-R", "-X", "stream", "-c", "fast", "--no-sync")
        self.configure(port=self.port, **settings)

    def make_synchronous(self, timeout: float = 60) -> None:
        """Every commit on this primary waits for its standby's flush from now on
        (``synchronous_standby_names = '*'``); returns once a standby streams as synchronous. Set only
        now: with no standby yet, a commit (CREATE DATABASE, a restore) would wait forever."""

        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            conn.execute("SELECT pg_reload_conf()")
            deadline = time.monotonic() + timeout
            while conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone()[0] < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no synchronous standby streams from :{self.port} after {timeout} s")
                time.sleep(0.1)

    def promote(self) -> None:
        """Make this standby the primary and wait until it accepts writes (pg_ctl promote -w)."""
        self.run("pg_ctl", "-D", str(self.dir), "-w", "-t", "30", "promote")
