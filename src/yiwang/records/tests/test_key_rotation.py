"""Rotating the checkpoint signing key (docs/checkpoints.md "Rotating the key"): the old public key stays
published with its validity, checkpoints signed by it still verify (`yiwang verify --checkpoint`, the
file download, /receipts/check/), the old key endorses the new one, and a checkpoint naming a key never
published, or with a tampered signature, fails with a message that says so."""

from __future__ import annotations

import base64
import json
import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client

from yiwang.records import checkpoints, signing
from yiwang.records.models import Checkpoint, SigningKey
from yiwang.records.selectors import receipt_check, receipt_for
from yiwang.records.services import checkpoint_create, signing_key_rotate
from yiwang.records.tests.test_checkpoint import _closed, _verify, _verify_fails

pytestmark = pytest.mark.tampers


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "keys" / "signing.pem")


def _run(*args) -> str:
    out = StringIO()
    call_command("checkpoint", *args, stdout=out)
    return out.getvalue()


def test_checkpoints_signed_before_a_rotation_still_verify_and_the_old_key_stays_published(world, tmp_path, settings):
    case = _closed(world)
    _run("--out", str(tmp_path / "cp1.json"))
    old_id = signing.key_id(signing.public_key())
    key_file = Path(settings.YIWANG_SIGNING_KEY_FILE)
    old_pem = key_file.read_bytes()

    said = _run("--rotate-key", "--out", str(tmp_path / "cp2.json"))
    new_id = signing.key_id(signing.public_key())
    assert new_id != old_id and f"new key {new_id}" in said and "checkpoint 2" in said
    # The old private key is gone from the key file, which stays readable by its owner only.
    assert key_file.read_bytes() != old_pem
    assert stat.S_IMODE(os.stat(settings.YIWANG_SIGNING_KEY_FILE).st_mode) == 0o600
    assert [json.loads(cp.body)["key_id"] for cp in Checkpoint.objects.order_by("number")] == [old_id, new_id]

    # Both files verify, each with the key it names; the one from before the rotation with the old key.
    for name in ("cp1.json", "cp2.json"):
        assert "signature valid" in _verify("--checkpoint", str(tmp_path / name))[0]
    # Checkpoint 1 downloaded after the rotation carries the key that signed it, not the current one.
    anonymous = Client()
    download = anonymous.get("/checkpoints/1.json")
    doc = json.loads(download.content)
    assert signing.key_id(signing.load_public(doc["public_key"].encode())) == old_id
    (tmp_path / "dl1.json").write_bytes(download.content)
    assert "signature valid" in _verify("--checkpoint", str(tmp_path / "dl1.json"))[0]
    # With the old key given explicitly (what an outsider pinned), checkpoint 1 checks; checkpoint 2 is
    # refused naming both keys.
    (tmp_path / "old.b64").write_text(doc["public_key"])
    assert "signature valid" in _verify("--checkpoint", str(tmp_path / "cp1.json"), "--key", str(tmp_path / "old.b64"))[0]
    refused = _verify_fails("--checkpoint", str(tmp_path / "cp2.json"), "--key", str(tmp_path / "old.b64"))
    assert f"names key {new_id[:16]}" in refused and f"the key given is {old_id[:16]}" in refused

    # Published: every key with its validity and the checkpoints it signed.
    answer = anonymous.get("/api/v1/public/signing-key").json()
    assert answer["key_id"] == new_id
    keys = {k["key_id"]: k for k in answer["keys"]}
    assert set(keys) == {old_id, new_id}
    assert (keys[old_id]["first_checkpoint"], keys[old_id]["last_checkpoint"], keys[old_id]["current"]) == (1, 1, False)
    assert keys[old_id]["valid_until"] == keys[new_id]["valid_from"] and keys[new_id]["valid_until"] is None
    assert (keys[new_id]["first_checkpoint"], keys[new_id]["current"]) == (2, True)
    page = anonymous.get("/checkpoints/").content.decode()
    assert old_id in page and new_id in page and "历次签名公钥" in page

    # The old key signed the new one's public half: whoever pinned the old fingerprint can take the new.
    new = keys[new_id]
    statement = checkpoints.rotation_statement(previous=old_id, key_id=new_id, public_key=new["public_key"],
                                               at=SigningKey.objects.get(key_id=new_id).created_at
                                               .isoformat(timespec="seconds").replace("Z", "+00:00"))
    old_key = signing.load_public(keys[old_id]["public_key"].encode())
    assert new["endorsed_by"] == old_id
    assert signing.valid(old_key, checkpoints.canonical(statement), new["endorsement"])

    # A receipt covered by the checkpoint the old key signed still checks.
    result = receipt_check(number=case.number, hash_=receipt_for(case).closed_hash)
    assert result.ok and result.checkpoint.number == 1


def test_an_unknown_key_or_a_tampered_signature_fails_with_a_clear_message(world, tmp_path):
    _closed(world)
    path = tmp_path / "cp.json"
    _run("--out", str(path))
    doc = json.loads(path.read_bytes())

    stranger = json.loads(json.dumps(doc))
    stranger["checkpoint"]["key_id"] = "ab" * 32
    (tmp_path / "stranger.json").write_bytes(checkpoints.canonical(stranger))
    said = _verify_fails("--checkpoint", str(tmp_path / "stranger.json"))
    assert "names signing key abababababababab" in said and "never published" in said

    forged = json.loads(json.dumps(doc))
    sig = bytearray(base64.b64decode(forged["signature"]))
    sig[0] ^= 1
    forged["signature"] = base64.b64encode(bytes(sig)).decode()
    (tmp_path / "forged.json").write_bytes(checkpoints.canonical(forged))
    assert "signature does not match" in _verify_fails("--checkpoint", str(tmp_path / "forged.json"))


def test_a_checkpoint_altered_in_the_database_is_no_proof_for_a_receipt(world):
    case = _closed(world)
    cp = checkpoint_create()
    signing_key_rotate()
    assert receipt_check(number=case.number, hash_=receipt_for(case).closed_hash).ok
    Checkpoint.objects.filter(pk=cp.pk).update(body=cp.body.replace('"case_count":1', '"case_count":2'))
    result = receipt_check(number=case.number, hash_=receipt_for(case).closed_hash)
    assert not result.ok and "第 1 号检查点的签名" in result.message


def test_a_retired_key_put_back_signs_nothing_and_a_second_rotation_from_it_is_refused(world, settings):
    _closed(world)
    checkpoint_create()
    key_file = Path(settings.YIWANG_SIGNING_KEY_FILE)
    old_pem = key_file.read_bytes()
    signing_key_rotate()
    current = key_file.read_bytes()
    key_file.write_bytes(old_pem)  # a backup of the key file restored by mistake
    with pytest.raises(ImproperlyConfigured, match="retired at"):
        checkpoint_create()
    with pytest.raises(CommandError, match="was retired"):
        _run("--rotate-key")
    key_file.write_bytes(current)
    assert checkpoint_create().number == 2
    with pytest.raises(CommandError, match="--rotate-key and --daily"):
        _run("--rotate-key", "--daily")


def test_a_key_used_before_the_registry_is_dated_by_its_first_checkpoint(world):
    _closed(world)
    first = checkpoint_create()
    SigningKey.objects.all().delete()  # an installation upgraded with checkpoints already signed
    old_id = first.key_id
    signing_key_rotate()
    old = SigningKey.objects.get(key_id=old_id)
    assert old.created_at == first.created_at and old.retired_at is not None
