"""`yiwang backup` and `yiwang restore`, run as an operator runs them: separate processes on a scratch site.

The site's database is of the run's vendor (tests/scratch_site.py): SQLite in the SQLite run,
a scratch PostgreSQL database in the PostgreSQL run. A round trip must give back every case with
the same number, state, event count and last hash, every event, and every attachment's bytes.
An archive is restored only if this installation signed it, unless the operator says otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.scratch_site import ROOT, SEED_WORLD, Site, migrated_site
from yiwang.core.backup import (
    DATABASE_MEMBER,
    BackupError,
    backup_check,
    backup_restore,
    find_pg_tool,
    manifest_signature,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8

SEED = SEED_WORLD + f"PNG = {PNG!r}\n" + """
from django.core.files.uploadedfile import SimpleUploadedFile
from yiwang.cases.attachments import attachment_store
from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create

clerk, handler = world.viewer("clerk_xfl"), world.viewer("handler_xfl")
photo = attachment_store(upload=SimpleUploadedFile("photo.png", PNG), content_type="image/png", ext="png")

def submit(**extra):
    return case_create(viewer=clerk, matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       form={"birth_date": "1950-01-01"}, materials=[{"code": "id_card"}, {"code": "photo"}],
                       applicant_name="王大爷", **extra).case

def act(case, viewer, action, **kw):
    version = Case.objects.get(pk=case.pk).version
    case_act(viewer=viewer, case_id=case.pk, action=action, version=version, **kw)

submit(attachments=[photo])
act(submit(), clerk, "accept")
third = submit()
for viewer, action, kw in [(clerk, "accept", {}), (handler, "decide", {"decision": "approved"}),
                           (handler, "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
    act(third, viewer, action, **kw)
print(photo["reference"])
"""

SNAPSHOT = """
import json
from yiwang.cases.models import Case, CaseEvent
cases = [[c.number, c.state, c.event_count, c.last_hash, c.materials] for c in Case.objects.order_by("pk")]
print(json.dumps({"cases": cases, "events": CaseEvent.objects.count()}, ensure_ascii=False))
"""

# Cases keep coming in while the backup runs, until the test drops the stop file.
WRITER = """
import sys, time
from pathlib import Path
from yiwang.cases.services import case_create
from yiwang.org.selectors import viewer_for
from django.contrib.auth.models import User

clerk = viewer_for(User.objects.get(username="clerk_xfl"))
stop = Path(sys.argv[1])
deadline = time.monotonic() + 30
written = 0
while not stop.exists() and time.monotonic() < deadline:
    case_create(viewer=clerk, matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                form={"birth_date": "1950-01-01"}, materials=[{"code": "id_card"}, {"code": "photo"}])
    written += 1
print(written)
"""

CREATE = ["case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--region", "KG-DZ-XFL",
          "--form", '{"birth_date": "1950-01-01"}', "--materials", "id_card,photo"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Migrated once per module and seeded with three cases (one with a photo); each test gets a copy."""
    site = migrated_site(tmp_path_factory.mktemp("seeded"))
    site.photo = site.media / site.python(SEED).strip().splitlines()[-1]
    site.snapshot = snapshot(site)
    yield site
    site.drop()


@pytest.fixture
def site(seeded, tmp_path):
    copy = Site(tmp_path / "site", template=seeded)
    copy.photo = copy.media / seeded.photo.relative_to(seeded.media)
    copy.snapshot = seeded.snapshot
    yield copy
    copy.drop()


def snapshot(site: Site) -> dict:
    return json.loads(site.python(SNAPSHOT))


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


def test_a_round_trip_after_losing_everything_gives_back_every_case_chain_and_file(site):
    photo = site.photo.read_bytes()

    out = site.yiwang("backup").stdout
    assert "3 cases, 7 events, 1 files" in out
    written = list((site.var / "backups").iterdir())
    assert len(written) == 1, "nothing but the archive is left in var/backups"
    archive = written[0]
    assert re.fullmatch(r"yiwang-\d{8}-\d{6}\.tar", archive.name)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    manifest = manifest_of(archive)
    assert manifest["vendor"] == site.vendor
    assert manifest["counts"] == {"cases": 3, "events": 7, "media_files": 1}
    assert "0001_initial" in manifest["migrations"]["cases"]
    again = site.yiwang("backup", str(archive), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr

    site.wipe()
    assert not site.photo.exists()
    restored = site.yiwang("restore", str(archive)).stdout

    assert "signature: made by this installation" in restored
    assert "every checksum matches the manifest" in restored
    assert "all hash chains intact" in restored
    assert snapshot(site) == site.snapshot
    assert site.photo.read_bytes() == photo
    # The database goes on from where the backup left it: the next case gets a new number.
    number = site.yiwang(*CREATE).stdout.split()[0]
    assert number not in {c[0] for c in site.snapshot["cases"]}


def test_restore_refuses_a_database_with_data_or_a_damaged_archive_and_changes_nothing(site, tmp_path):
    photo = site.photo.read_bytes()
    archive = tmp_path / "backup.tar"
    site.yiwang("backup", str(archive))
    site.yiwang(*CREATE)
    site.photo.unlink()

    checked = site.yiwang("restore", "--check", str(archive)).stdout
    assert "3 cases" in checked and "every checksum matches" in checked
    refused = site.yiwang("restore", str(archive), check=False)
    assert refused.returncode != 0
    assert "already holds data" in refused.stderr and "--force" in refused.stderr
    damaged = site.yiwang("restore", str(flip_a_byte_of_the_database(archive, tmp_path / "flipped.tar")), "--force",
                          check=False)
    assert damaged.returncode != 0
    assert "does not match the checksum" in damaged.stderr and "Traceback" not in damaged.stderr
    assert len(snapshot(site)["cases"]) == 4

    site.yiwang("restore", str(archive), "--force")
    assert snapshot(site) == site.snapshot
    assert site.photo.read_bytes() == photo


def test_a_backup_taken_while_cases_are_written_restores_whole(site, tmp_path):
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", "import django; django.setup()\n" + WRITER, str(stop)],
                              env=site.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)  # Django's start-up, then a stream of case creations
        assert writer.poll() is None, writer.communicate()
        archive = tmp_path / "backup.tar"
        site.yiwang("backup", str(archive))
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    in_backup = manifest_of(archive)["counts"]["cases"]
    assert 3 <= in_backup <= 3 + int(out)

    elsewhere = Site(tmp_path / "elsewhere")
    # The same installation on a new machine: its secret key was kept apart from the backups.
    shutil.copy(site.var / "secret_key", elsewhere.var / "secret_key")
    try:
        # restore checks the restored counts against the manifest, then verifies every chain.
        done = elsewhere.yiwang("restore", str(archive))
        assert f"restored {in_backup} cases" in done.stdout
        assert "all hash chains intact" in done.stdout
    finally:
        elsewhere.drop()


def test_an_archive_from_another_installation_is_refused_unless_trusted(site, tmp_path):
    archive = tmp_path / "backup.tar"
    site.yiwang("backup", str(archive))
    elsewhere = Site(tmp_path / "elsewhere")  # its own secret key, written at its first command
    try:
        for command in (["restore", "--check", str(archive)], ["restore", str(archive)]):
            refused = elsewhere.yiwang(*command, check=False)
            assert refused.returncode != 0 and "Traceback" not in refused.stderr
            assert "it was signed with another secret key" in refused.stderr
            assert "--trust-unsigned" in refused.stderr and "YIWANG_SECRET_KEY" in refused.stderr
        done = elsewhere.yiwang("restore", str(archive), "--trust-unsigned").stdout
        assert "signature: NOT checked, it was signed with another secret key" in done
        assert "all hash chains intact" in done
        assert snapshot(elsewhere) == site.snapshot
    finally:
        elsewhere.drop()


# ------------------------------------------------------------------ archives checked in this process (no database)


def flip_a_byte_of_the_database(archive: Path, out: Path) -> Path:
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("database."))
    data[member.offset_data + member.size // 2] ^= 0xFF
    out.write_bytes(data)
    return out


def small_archive(path: Path, vendor: str = "sqlite", change=None, signed: bool = True) -> Path:
    """A well-formed archive with a stand-in database, signed with this installation's key unless not
    ``signed``; ``change(manifest, members)`` may spoil it before it is signed."""
    database = DATABASE_MEMBER[vendor]
    members = {database: b"a database " * 100, "media/materials/ab/photo.png": PNG}
    manifest = {
        "format": "yiwang-backup", "format_version": 2, "created_at": "2026-11-26T08:00:00+00:00",
        "yiwang_version": "0.1.0", "vendor": vendor, "database": database,
        "migrations": {"cases": ["0001_initial"]}, "counts": {"cases": 1, "events": 1, "media_files": 1},
        "parts": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in members.items()},
    }
    if change:
        change(manifest, members)
    members["manifest.json"] = json.dumps(manifest).encode()
    if signed:
        members["manifest.sig"] = json.dumps(manifest_signature(members["manifest.json"])).encode()
    return write_archive(path, members)


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_well_formed_archive_passes_the_check(tmp_path):
    said = []
    manifest = backup_check(path=small_archive(tmp_path / "ok.tar"), say=said.append)
    assert manifest["counts"]["cases"] == 1
    assert said[0].startswith("signature: made by this installation")


def members_of(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_an_archive_whose_data_and_checksum_were_both_changed_is_refused(tmp_path):
    members = members_of(small_archive(tmp_path / "signed.tar"))
    database = bytearray(members["database.sqlite3"])
    database[len(database) // 2] ^= 0xFF
    members["database.sqlite3"] = bytes(database)
    manifest = json.loads(members["manifest.json"])
    manifest["parts"]["database.sqlite3"]["sha256"] = hashlib.sha256(database).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()  # manifest.sig is the original one
    tampered = write_archive(tmp_path / "tampered.tar", members)

    with pytest.raises(BackupError, match=r"refused: its manifest\.json was changed after it was signed.*--trust-unsigned"):
        backup_check(path=tampered, say=lambda line: None)
    with pytest.raises(BackupError, match="was changed after it was signed"):
        backup_restore(path=tampered, force=True, say=lambda line: None)


def test_an_archive_without_a_signature_is_refused_unless_trusted(tmp_path):
    unsigned = small_archive(tmp_path / "unsigned.tar", signed=False)
    with pytest.raises(BackupError, match=r"refused: it carries no signature.*run again with --trust-unsigned"):
        backup_check(path=unsigned, say=lambda line: None)
    said = []
    assert backup_check(path=unsigned, trust_unsigned=True, say=said.append)["counts"]["cases"] == 1
    assert said[0] == ("signature: NOT checked, it carries no signature (format 1 archives, made by yiwang 0.1, are "
                       "unsigned); going on because of --trust-unsigned")


def test_an_archive_of_yiwang_0_1_is_read_when_trusted(tmp_path):
    def version_1(manifest, members):
        manifest["format_version"] = 1

    old = small_archive(tmp_path / "old.tar", change=version_1, signed=False)
    with pytest.raises(BackupError, match="no signature"):
        backup_check(path=old, say=lambda line: None)
    assert backup_check(path=old, trust_unsigned=True, say=lambda line: None)["format_version"] == 1


def test_an_archive_signed_with_another_key_is_refused_and_names_both_keys(tmp_path, settings):
    settings.SECRET_KEY = "another-installation-" + "k" * 29 + "ey"
    theirs = small_archive(tmp_path / "theirs.tar")
    settings.SECRET_KEY = "this-installation-" + "q" * 30 + "rs"
    with pytest.raises(BackupError, match=r"signed with another secret key \(key '[0-9a-f]{16}', this installation's "
                                          r"is '[0-9a-f]{16}'\).*YIWANG_SECRET_KEY"):
        backup_check(path=theirs, say=lambda line: None)
    assert backup_check(path=theirs, trust_unsigned=True, say=lambda line: None)["counts"]["cases"] == 1


def unlisted(manifest, members):
    members["media/extra.png"] = PNG


def hostile(manifest, members):
    members["media/../../escaped"] = PNG
    manifest["parts"]["media/../../escaped"] = manifest["parts"]["media/materials/ab/photo.png"]


def dropped(manifest, members):
    del members["media/materials/ab/photo.png"]


def other_format(manifest, members):
    manifest["format"] = "something-else"


@pytest.mark.parametrize("spoil, reason", [
    (flip_a_byte_of_the_database, "does not match the checksum"),
    ("truncate", "truncated"),
    ("garbage", "not a yiwang backup"),
    ("missing", "no such file"),
    (unlisted, "is not in its manifest.json"),
    (hostile, "hostile"),
    (dropped, "missing"),
    (other_format, "not a yiwang backup"),
])
def test_a_damaged_or_foreign_archive_is_refused_with_the_reason(tmp_path, spoil, reason):
    good = small_archive(tmp_path / "good.tar")
    path = tmp_path / "spoiled.tar"
    if spoil == "truncate":
        path.write_bytes(good.read_bytes()[:1500])
    elif spoil == "garbage":
        path.write_bytes(b"not an archive at all " * 100)
    elif spoil == "missing":
        pass
    elif spoil is flip_a_byte_of_the_database:
        spoil(good, path)
    else:
        small_archive(path, change=spoil)
    with pytest.raises(BackupError, match=reason):
        backup_check(path=path, say=lambda line: None)


def test_a_backup_of_the_other_database_vendor_is_refused(tmp_path):
    from django.db import connection

    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    with pytest.raises(BackupError, match=f"backup of a {other} database.*does not move data between"):
        backup_restore(path=small_archive(tmp_path / "other.tar", other), say=lambda line: None)


def test_a_backup_from_a_newer_schema_is_refused(tmp_path):
    from django.db import connection

    def newer(manifest, members):
        manifest["migrations"]["cases"].append("9999_from_the_future")

    with pytest.raises(BackupError, match=r"made by a newer yiwang.*cases\.9999_from_the_future"):
        backup_restore(path=small_archive(tmp_path / "newer.tar", connection.vendor, newer), say=lambda line: None)


def test_a_missing_postgresql_client_is_named_with_the_fix(tmp_path):
    with pytest.raises(BackupError, match=r"pg_dump was not found.*apt-get install postgresql-client"):
        find_pg_tool("pg_dump", search_path=str(tmp_path), installed=str(tmp_path / "*" / "bin"))


def test_the_newest_installed_postgresql_client_is_found_when_path_has_none(tmp_path):
    for version in ("9.6", "15", "13"):
        tool = tmp_path / version / "bin" / "pg_dump"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    found = find_pg_tool("pg_dump", search_path=str(tmp_path / "empty"), installed=str(tmp_path / "*" / "bin"))
    assert found == str(tmp_path / "15" / "bin" / "pg_dump")
