"""Backups of a whole site: the database and the uploaded files in one archive that checks itself.

An archive is a plain tar (`yiwang backup`, `yiwang restore`, docs/operations.md):

    database.sqlite3 | database.pgdump   SQLite: an online copy through SQLite's backup API;
                                         PostgreSQL: pg_dump's custom format (-Fc)
    media/<path>                         every file under MEDIA_ROOT (materials and photos)
    manifest.json                        format, yiwang version, database vendor, applied migrations,
                                         counts of cases and events, and the sha256 of every other member
    manifest.sig                         an HMAC-SHA256 of manifest.json's bytes under a key derived from
                                         SECRET_KEY, and which key that was (a fingerprint)

Both databases are copied while the server runs and the copy is one consistent moment: SQLite's
backup API reads the whole file in one read transaction (WAL lets writers go on), and pg_dump is
handed the snapshot of a REPEATABLE READ transaction that also counted the rows for the manifest.
Uploaded files are written before the case that references them commits, so every file the database
copy references is already complete when the files are read after it.

A restore trusts nothing it has not checked: the manifest's signature, every member's sha256 and size,
the vendor and the schema are verified before anything is touched, and the restored database must hold the
counts the manifest promises. The database is replaced in one transaction (SQLite: the backup API
into the live file; PostgreSQL: one psql transaction), so a failure leaves the old one whole.

The signature is what makes the checksums mean something: without it, whoever can write where the
archives are kept could change a database and write its new checksum beside it, and the restore
would load their rows. Only this installation (its SECRET_KEY) can sign; an archive it did not sign
(another installation's, one made under an earlier key, one of format 1) is restored only when the
operator says so (--trust-unsigned).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from yiwang.core import clock, confcache

FORMAT = "yiwang-backup"
# 2: manifest.sig signs the manifest. Format 1 (yiwang 0.1, unsigned) is still read, if trusted.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
TRUST_FLAG = "--trust-unsigned"
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
MEDIA = "media"
PG_INSTALLED = "/usr/lib/postgresql/*/bin"
CHUNK = 1024 * 1024
# A stored material is named by the sha256 of its content (cases/attachments.py).
CONTENT_NAMED = re.compile(r"^[0-9a-f]{64}$")

Say = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class BackupSummary:
    path: Path
    size: int
    manifest: dict


@dataclass
class RestoreSummary:
    manifest: dict
    media_written: int = 0
    media_unchanged: int = 0
    migrated: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- backup


def backup_create(*, path: Path | str | None = None, force: bool = False, say: Say = print) -> BackupSummary:
    """Write an archive of the configured database and MEDIA_ROOT to ``path`` (default var/backups/)."""
    vendor = _vendor()
    final = _target(path)
    if final.exists() and not force:
        raise BackupError(f"{final} already exists: give another path, or --force to replace it")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        # Everything is written beside the archive and renamed into place at the end: a crash, a full
        # disk or Ctrl-C never leaves a half-written file under the final name.
        staging = Path(tempfile.mkdtemp(prefix=".yiwang-backup-", dir=final.parent))
    except OSError as exc:
        raise BackupError(f"cannot write in {final.parent}: {exc.strerror}") from exc
    try:
        member = DATABASE_MEMBER[vendor]
        dump = staging / member
        started = time.monotonic()
        state = _sqlite_snapshot(dump) if vendor == "sqlite" else _pg_dump(dump)
        counts = state["counts"]
        say(f"database: {vendor}, {_size(dump.stat().st_size)}, {counts['cases']} cases and "
            f"{counts['events']} events ({time.monotonic() - started:.1f} s)")
        partial = staging / "archive.tar"
        parts: dict[str, dict] = {}
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            parts[member] = _add_file(tar, dump, member)
            dump.unlink()  # the disk holds one copy of the database at a time, not two
            media = _add_media(tar, parts, say)
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "created_at": clock.now().isoformat(), "yiwang_version": _version(), "vendor": vendor,
                "database": member, "migrations": state["migrations"],
                "counts": {**counts, "media_files": media},
                "parts": parts,
            }
            written = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            _add_bytes(tar, MANIFEST, written)
            _add_bytes(tar, SIGNATURE, json.dumps(manifest_signature(written)).encode())
        # It holds personal data (names, phone and ID numbers): for its owner only, like the database.
        os.chmod(partial, 0o600)
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        raise BackupError(f"writing {final} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = final.stat().st_size
    say(f"wrote {final} ({_size(size)}): {counts['cases']} cases, {counts['events']} events, {media} files")
    return BackupSummary(path=final, size=size, manifest=manifest)


def _target(path: Path | str | None) -> Path:
    name = f"yiwang-{timezone.localtime(clock.now()):%Y%m%d-%H%M%S}.tar"
    if path is None:
        return Path(settings.VAR_DIR) / "backups" / name
    path = Path(path).expanduser()
    return path / name if path.is_dir() else path


def _sqlite_snapshot(target: Path) -> dict:
    source = Path(connection.settings_dict["NAME"])
    if not source.is_file():
        raise BackupError(f"no database at {source}: check YIWANG_DATABASE_URL")
    try:
        with contextlib.closing(sqlite3.connect(source, timeout=60)) as src, \
                contextlib.closing(sqlite3.connect(target)) as dst:
            # One step (pages=-1, the default): the whole copy is read in one read transaction, so it
            # is one moment of the database, and under WAL the server's writers are not held up.
            src.backup(dst)
            # The copy is one self-contained file, without a -wal beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy of {source} fails SQLite's quick_check ({check}): the database "
                                  "itself may be damaged; run `sqlite3 FILE 'PRAGMA integrity_check'`")
            return _state(dst.cursor())
    except sqlite3.Error as exc:
        raise BackupError(f"copying {source} failed: {exc}") from exc


def _pg_dump(target: Path) -> dict:
    pg_dump = find_pg_tool("pg_dump")
    with transaction.atomic(), connection.cursor() as cursor:
        # The counts in the manifest and pg_dump see the same snapshot: pg_dump imports this one.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        state = _state(cursor)
        _run([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={target}",
              *_pg_connection_args()], "pg_dump")
    return state


def _add_media(tar: tarfile.TarFile, parts: dict[str, dict], say: Say) -> int:
    root = Path(settings.MEDIA_ROOT)
    files = total = 0
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()  # materials are at most 5 MB (cases/attachments.py)
        digest = hashlib.sha256(data).hexdigest()
        rel = path.relative_to(root).as_posix()
        if CONTENT_NAMED.match(path.stem) and path.stem != digest:
            # Named by a hash it does not have: an upload still being written, which no case in the
            # database copy can reference yet. Copying it would restore a truncated file that a later
            # upload of the same content would then reuse.
            say(f"media: skipped {rel} (being written)")
            continue
        name = f"{MEDIA}/{rel}"
        parts[name] = _add_bytes(tar, name, data, mtime=path.stat().st_mtime)
        files += 1
        total += len(data)
    say(f"media: {files} files, {_size(total)}")
    return files


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict:
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with open(path, "rb") as f:
        reader = _Hashing(f)
        tar.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float | None = None) -> dict:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(mtime if mtime is not None else time.time())
    tar.addfile(info, io.BytesIO(data))
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, f):
        self.f, self.digest = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.digest.update(data)
        return data


# ---------------------------------------------------------------------------------------------- restore


def backup_check(*, path: Path | str, trust_unsigned: bool = False, say: Say = print) -> dict:
    """Verify an archive (signature, manifest, every member's checksum) without touching anything; its manifest.

    ``trust_unsigned``: go on when this installation did not sign it, saying so.
    """
    with _opened(Path(path), trust_unsigned, say) as (tar, manifest):
        _extract(Path(path), tar, manifest, None)
    say(_described(manifest))
    return manifest


def backup_restore(*, path: Path | str, force: bool = False, trust_unsigned: bool = False,
                   say: Say = print) -> RestoreSummary:
    """Replace the configured database and add MEDIA_ROOT's files from an archive, after checking it.

    Refuses a database that holds data unless ``force``, and an archive this installation did not sign
    unless ``trust_unsigned``. The caller verifies the result (records.verification).
    """
    path = Path(path)
    vendor = _vendor()
    with _opened(path, trust_unsigned, say) as (tar, manifest):
        say(_described(manifest))
        if manifest["vendor"] != vendor:
            raise BackupError(
                f"this is a backup of a {manifest['vendor']} database, and yiwang is configured for {vendor} "
                f"(YIWANG_DATABASE_URL): point YIWANG_DATABASE_URL at a {manifest['vendor']} database to "
                "restore it; restore does not move data between SQLite and PostgreSQL")
        _check_schema(manifest)
        if not force and not _database_is_empty():
            raise BackupError("the database already holds data (regions, users or cases): restoring would "
                              "replace all of it. Take a backup of it first, then run restore with --force")
        media_root = Path(settings.MEDIA_ROOT)
        try:
            media_root.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"cannot create {media_root.parent}: {exc.strerror}") from exc
        # Staged beside MEDIA_ROOT, so that moving each file into place is a rename.
        with _staging(media_root.parent) as staging:
            _extract(path, tar, manifest, staging)
            say("archive: every checksum matches the manifest")
            summary = RestoreSummary(manifest=manifest)
            # Files first: a database whose restore fails leaves at most unreferenced files behind,
            # never cases that reference missing ones.
            _restore_media(staging / MEDIA, media_root, summary)
            say(f"media: {summary.media_written} files written, {summary.media_unchanged} already in place")
            started = time.monotonic()
            dump = staging / manifest["database"]
            if vendor == "sqlite":
                _sqlite_restore(dump)
            else:
                _pg_restore(dump)
    confcache.clear_all()
    with connection.cursor() as cursor:
        counts = _state(cursor)["counts"]
    expected = {k: manifest["counts"][k] for k in ("cases", "events")}
    if counts != expected:
        raise BackupError(f"the restored database holds {counts['cases']} cases and {counts['events']} events, "
                          f"the manifest {expected['cases']} and {expected['events']}: do not use it; "
                          "restore from another backup")
    say(f"database: restored {counts['cases']} cases and {counts['events']} events "
        f"({time.monotonic() - started:.1f} s)")
    summary.migrated = _migrate_forward()
    if summary.migrated:
        say(f"schema: applied {len(summary.migrated)} newer migrations ({', '.join(summary.migrated)})")
    return summary


@contextlib.contextmanager
def _opened(path: Path, trust_unsigned: bool, say: Say) -> Iterator[tuple[tarfile.TarFile, dict]]:
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed in the finally below
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{path} is not a yiwang backup (not a tar archive: {exc})") from exc
    try:
        try:
            member = tar.getmember(MANIFEST)
            written = tar.extractfile(member).read()
            manifest = json.loads(written)
        except KeyError:
            raise BackupError(f"{path} is not a complete yiwang backup: it has no {MANIFEST} "
                              "(a truncated copy, or another kind of archive)") from None
        except (tarfile.TarError, OSError, ValueError) as exc:
            raise BackupError(f"{path} is truncated or damaged: its {MANIFEST} cannot be read ({exc})") from exc
        _check_version(path, manifest)
        _check_signature(path, tar, written, trust_unsigned, say)
        _check_manifest(path, manifest)
        yield tar, manifest
    finally:
        tar.close()


def _check_version(path: Path, manifest) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a yiwang backup (its {MANIFEST} is another format)")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise BackupError(f"{path} is in backup format {manifest.get('format_version')!r}; this yiwang reads "
                          f"formats {', '.join(map(str, READABLE_VERSIONS))}: restore it with the yiwang version "
                          f"that wrote it ({manifest.get('yiwang_version')})")


def manifest_signature(written: bytes) -> dict:
    """What manifest.sig holds for a manifest's bytes: this installation's HMAC of them, and its key's id."""
    return {"algorithm": "HMAC-SHA256", "key_id": _key_id(),
            "signature": salted_hmac("yiwang.core.backup.manifest", written, algorithm="sha256").hexdigest()}


def _key_id() -> str:
    # Tells which key signed an archive (this installation's or another's) without revealing the key.
    return salted_hmac("yiwang.core.backup.key-id", b"", algorithm="sha256").hexdigest()[:16]


def _check_signature(path: Path, tar: tarfile.TarFile, written: bytes, trust_unsigned: bool, say: Say) -> None:
    problem = _signature_problem(tar, written)
    if problem is None:
        say(f"signature: made by this installation (key {_key_id()})")
        return
    if trust_unsigned:
        say(f"signature: NOT checked, {problem}; going on because of {TRUST_FLAG}")
        return
    raise BackupError(
        f"{path} is refused: {problem}. Only archives signed with this installation's secret key are restored, "
        "so that nobody who can write where backups are kept can change their data. If you know where this one "
        f"comes from (another installation, or this one before its key changed), either run again with "
        f"{TRUST_FLAG}, or set YIWANG_SECRET_KEY to the key it was made with")


def _signature_problem(tar: tarfile.TarFile, written: bytes) -> str | None:
    """Why the manifest's signature does not hold, or None when this installation signed these bytes."""
    try:
        signed = json.loads(tar.extractfile(tar.getmember(SIGNATURE)).read())
    except KeyError:
        return "it carries no signature (format 1 archives, made by yiwang 0.1, are unsigned)"
    except (tarfile.TarError, OSError, ValueError):
        return f"its {SIGNATURE} cannot be read"
    if not isinstance(signed, dict) or not isinstance(signed.get("signature"), str):
        return f"its {SIGNATURE} cannot be read"
    if constant_time_compare(signed["signature"], manifest_signature(written)["signature"]):
        return None
    if signed.get("key_id") != _key_id():
        return (f"it was signed with another secret key (key {str(signed.get('key_id'))[:16]!r}, this "
                f"installation's is {_key_id()!r})")
    return f"its {MANIFEST} was changed after it was signed"


def _check_manifest(path: Path, manifest: dict) -> None:
    parts = manifest.get("parts")
    vendor = manifest.get("vendor")
    if (vendor not in DATABASE_MEMBER or manifest.get("database") != DATABASE_MEMBER[vendor]
            or not isinstance(parts, dict) or manifest["database"] not in parts
            or not isinstance(manifest.get("counts"), dict) or not isinstance(manifest.get("migrations"), dict)):
        raise BackupError(f"{path} is damaged: its {MANIFEST} lacks the database, its parts or its counts")
    for name, part in parts.items():
        if not _safe_name(name, manifest["database"]) or not isinstance(part, dict) \
                or not isinstance(part.get("sha256"), str) or not isinstance(part.get("size"), int):
            raise BackupError(f"{path} is damaged or hostile: its {MANIFEST} lists {name!r}")


def _safe_name(name: str, database: str) -> bool:
    p = PurePosixPath(name)
    return name == database or (
        len(p.parts) > 1 and p.parts[0] == MEDIA and not p.is_absolute() and ".." not in p.parts
        and "\\" not in name and "\0" not in name)


def _extract(path: Path, tar: tarfile.TarFile, manifest: dict, staging: Path | None) -> None:
    """Check every part against the manifest, copying it to ``staging`` (None: only check); refuse any mismatch."""
    parts = manifest["parts"]
    seen: set[str] = set()
    try:
        for member in tar.getmembers():
            if member.name in (MANIFEST, SIGNATURE):
                continue
            if member.name not in parts or member.name in seen or not member.isfile():
                raise BackupError(f"{path} is damaged or hostile: {member.name!r} is not in its {MANIFEST}")
            digest, size = hashlib.sha256(), 0
            with tar.extractfile(member) as src, _sink(staging, member.name) as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            expected = parts[member.name]
            if digest.hexdigest() != expected["sha256"] or size != expected["size"]:
                raise BackupError(f"{path} is damaged: {member.name} does not match the checksum in its "
                                  f"{MANIFEST}; nothing was restored. Use another backup")
            seen.add(member.name)
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{path} is damaged or truncated ({exc}); nothing was restored") from exc
    except OSError as exc:
        raise BackupError(f"extracting {path} failed ({exc}); nothing was restored") from exc
    missing = sorted(set(parts) - seen)
    if missing:
        raise BackupError(f"{path} is truncated or damaged: {len(missing)} parts listed in its {MANIFEST} are "
                          f"missing (first: {missing[0]}); nothing was restored")


def _sink(staging: Path | None, name: str) -> io.BufferedWriter:
    if staging is None:
        return open(os.devnull, "wb")
    dest = staging / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    return open(dest, "wb")


@contextlib.contextmanager
def _staging(parent: Path) -> Iterator[Path]:
    staging = Path(tempfile.mkdtemp(prefix=".yiwang-restore-", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_schema(manifest: dict) -> None:
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, names in manifest["migrations"].items() for name in names
                     if (app, name) not in known)
    if unknown:
        raise BackupError(f"this backup was made by a newer yiwang ({manifest.get('yiwang_version')}): this one "
                          f"does not know {len(unknown)} of its migrations ({', '.join(unknown[:3])}…). "
                          "Restore it with that version or a later one")


def _database_is_empty() -> bool:
    try:
        tables = set(connection.introspection.table_names())
        for model in (apps.get_model("cases", "Case"), apps.get_model("org", "Region"),
                      apps.get_model(*settings.AUTH_USER_MODEL.split("."))):
            if model._meta.db_table in tables and model.objects.exists():
                return False
    except DatabaseError as exc:
        raise BackupError(f"the database cannot be read ({exc}): if it is damaged, restore with --force") from exc
    return True


def _restore_media(staged: Path, media_root: Path, summary: RestoreSummary) -> None:
    if not staged.is_dir():
        return
    for src in sorted(staged.rglob("*")):
        if not src.is_file():
            continue
        dest = media_root / src.relative_to(staged)
        if dest.is_file() and _same_content(src, dest):
            summary.media_unchanged += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        # A rename: a reader of dest sees the old file or the whole new one.
        os.replace(src, dest)
        summary.media_written += 1


def _same_content(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and _sha256(a) == _sha256(b)


def _sqlite_restore(snapshot: Path) -> None:
    target = Path(connection.settings_dict["NAME"])
    connections.close_all()
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(snapshot)) as src, \
                contextlib.closing(sqlite3.connect(target, timeout=60)) as dst:
            # Through the backup API into the live file rather than a file swap: the copy is one write
            # transaction, so a crash midway leaves the old database, and a process that still has the
            # file open (a server nobody stopped) sees the old database or the restored one, never a
            # mix, nor a file that has been swapped under its -wal.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(f"writing {target} failed ({exc}); the database is as it was. If the file is "
                          "damaged, move it (and its -wal and -shm) away and restore again") from exc


WIPE_PUBLIC_SCHEMA = """
DO $$
DECLARE r record;
BEGIN
  -- Tables, views and sequences that belong to no table nor extension, then functions: what migrations
  -- made. Dropping the schema itself would need its owner and would lose its grants.
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
  LOOP
    EXECUTE format('DROP %s IF EXISTS public.%I CASCADE',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                   r.relname);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS routine FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                             AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.routine);
  END LOOP;
END $$;
"""


def _pg_restore(dump: Path) -> None:
    pg_restore = find_pg_tool("pg_restore")
    # psql from the same installation: pg_restore's script may use meta-commands only it knows.
    sibling = Path(pg_restore).with_name("psql")
    psql = str(sibling) if sibling.is_file() else find_pg_tool("psql")
    connections.close_all()
    # The wipe and the whole script run in one transaction, committed only once pg_restore has
    # written all of it: if either side fails, psql leaves without COMMIT, PostgreSQL rolls everything
    # back and the database is as it was. (psql --single-transaction would commit a script that
    # pg_restore broke off halfway: it cannot tell a short script from a whole one.)
    with tempfile.TemporaryFile() as script_errors, tempfile.TemporaryFile() as load_errors:
        load = subprocess.Popen([psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1",
                                 "--file=-", *_pg_connection_args()],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=load_errors, env=_pg_env())
        script = subprocess.Popen([pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
                                  stdout=subprocess.PIPE, stderr=script_errors)
        try:
            load.stdin.write(b"BEGIN;\n" + WIPE_PUBLIC_SCHEMA.encode())
            while chunk := script.stdout.read(CHUNK):
                load.stdin.write(chunk)
            if script.wait() == 0:
                load.stdin.write(b"\nCOMMIT;\n")
        except BrokenPipeError:
            pass  # psql stopped at an error (ON_ERROR_STOP): its stderr says which
        finally:
            script.stdout.close()
            if script.poll() is None:
                script.kill()
            script.wait()
            with contextlib.suppress(BrokenPipeError):
                load.stdin.close()
            load.wait()
        script_errors.seek(0)
        load_errors.seek(0)
        script_failure = script_errors.read().decode(errors="replace").strip()
        load_failure = load_errors.read().decode(errors="replace").strip()
    if load.returncode != 0:
        raise BackupError("loading the dump failed and PostgreSQL rolled it back, so the database is as it was: "
                          f"{load_failure}")
    if script.returncode != 0:
        raise BackupError(f"pg_restore could not read the dump ({script_failure}); nothing was committed, "
                          "the database is as it was")


def _migrate_forward() -> list[str]:
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return []
    call_command("migrate", interactive=False, verbosity=0)
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan]


# ---------------------------------------------------------------------------------------------- shared


def find_pg_tool(name: str, *, search_path: str | None = None, installed: str = PG_INSTALLED) -> str:
    """The PostgreSQL client program ``name``: from PATH, else the newest of Debian's installed versions."""
    found = shutil.which(name, path=search_path)
    if found:
        return found

    def major(p: str) -> float:
        try:
            return float(Path(p).parent.parent.name)
        except ValueError:
            return 0.0

    candidates = sorted(glob.glob(f"{installed}/{name}"), key=major, reverse=True)
    if candidates:
        return candidates[0]
    raise BackupError(f"{name} was not found on PATH nor in {installed}: install the PostgreSQL client programs "
                      "of the server's major version or newer (Debian: apt-get install postgresql-client)")


def _pg_connection_args() -> list[str]:
    s = connection.settings_dict
    return [f"--host={s['HOST'] or '127.0.0.1'}", f"--port={s['PORT'] or 5432}", f"--username={s['USER']}",
            f"--dbname={s['NAME']}"]


def _pg_env() -> dict:
    env = dict(os.environ)
    if connection.settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = connection.settings_dict["PASSWORD"]
    # With a failover pair's host list, pg_dump must reach the server whose snapshot it imports (and
    # pg_restore the one that takes writes), not the first host that answers.
    if attrs := connection.settings_dict.get("OPTIONS", {}).get("target_session_attrs"):
        env["PGTARGETSESSIONATTRS"] = attrs
    return env


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, env=_pg_env(), capture_output=True, text=True)
    except OSError as exc:
        raise BackupError(f"{what} could not start: {exc}") from exc
    if done.returncode != 0:
        raise BackupError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _state(cursor) -> dict:
    """Applied migrations and row counts, read through ``cursor`` (the snapshot being archived)."""
    counts = {}
    for key, model in (("cases", "Case"), ("events", "CaseEvent")):
        cursor.execute(f"SELECT COUNT(*) FROM {apps.get_model('cases', model)._meta.db_table}")
        counts[key] = cursor.fetchone()[0]
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, id")
    migrations: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        migrations.setdefault(app, []).append(name)
    return {"counts": counts, "migrations": migrations}


def _vendor() -> str:
    if connection.vendor not in DATABASE_MEMBER:
        raise BackupError(f"backups cover SQLite and PostgreSQL, not {connection.vendor}")
    return connection.vendor


def _version() -> str:
    try:
        return importlib.metadata.version("yiwang")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _described(manifest: dict) -> str:
    c = manifest["counts"]
    return (f"backup of {manifest['created_at']} (yiwang {manifest.get('yiwang_version')}, {manifest['vendor']}): "
            f"{c.get('cases')} cases, {c.get('events')} events, {c.get('media_files')} files")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
