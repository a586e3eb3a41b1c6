"""Signed checkpoints (docs/checkpoints.md): whoever controls the database can rewrite an event and
recompute every later hash, which `yiwang verify` cannot see; a checkpoint handed out before catches it
and names the case. Also the chain of checkpoints, the worker's daily run, receipts and the public routes.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from yiwang.cases.chain import GENESIS, event_hash
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.records import checkpoints, signing
from yiwang.records.models import Checkpoint, CheckpointLeaf
from yiwang.records.selectors import latest_checkpoint, receipt_check, receipt_for
from yiwang.records.services import checkpoint_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.tampers  # the rewrites below go behind the engine's back on purpose


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "keys" / "signing.pem")


def _closed(world, phone: str = "13800000001") -> Case:
    case = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       applicant_name="王大爷", applicant_phone=phone, **SENIOR_OK).case
    for actor, action, inputs in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                                  ("clerk_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(actor), case_id=case.pk, action=action, version=case.version, **inputs)
    return case


@pytest.fixture
def two(world):
    return _closed(world), _closed(world, "13800000002")


def _rechain(case_id: int) -> None:
    """What an attacker with the database does after editing a timeline: every hash recomputed from
    GENESIS, the case's last hash and event count set to match. The chain is whole again."""
    prev = GENESIS
    events = list(CaseEvent.objects.filter(case_id=case_id).order_by("seq"))
    for e in events:
        prev = event_hash(prev=prev, seq=e.seq, at=e.at, actor_id=e.actor_id, action=e.action,
                          from_state=e.from_state, to_state=e.to_state, from_unit_id=e.from_unit_id,
                          to_unit_id=e.to_unit_id, payload=e.payload)
        CaseEvent.objects.filter(pk=e.pk).update(hash=prev)
    Case.objects.filter(pk=case_id).update(last_hash=prev, event_count=len(events))


def _file(tmp_path, name: str = "cp.json"):
    path = tmp_path / name
    out = StringIO()
    call_command("checkpoint", "--out", str(path), stdout=out)
    assert "checkpoint " in out.getvalue() and path.exists()
    return path


def _verify(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _verify_fails(*args) -> str:
    err = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("verify", *args, stdout=StringIO(), stderr=err)
    return str(refused.value) + "\n" + err.getvalue()


def test_a_rewritten_past_event_with_every_later_hash_recomputed_is_caught_and_named(two, tmp_path):
    victim, bystander = two
    path = _file(tmp_path)
    assert "every event the checkpoint covers is as it was signed" in _verify("--checkpoint", str(path))[0]

    accept = CaseEvent.objects.get(case=victim, seq=2)
    CaseEvent.objects.filter(pk=accept.pk).update(payload={**accept.payload, "comment": "材料齐全(改写)"})
    _rechain(victim.pk)

    # The chain is whole again: plain `yiwang verify` has nothing to compare it with and passes.
    assert "all hash chains intact" in _verify()[0]
    # The checkpoint handed out before has: it fails and names the case, and only that case.
    report = _verify_fails("--checkpoint", str(path))
    assert victim.number in report and bystander.number not in report
    assert "1 problem(s) found against checkpoint 1" in report


def test_a_removed_event_is_caught_even_when_the_rest_is_renumbered_and_rechained(two, tmp_path):
    victim, _ = two
    path = _file(tmp_path)
    CaseEvent.objects.filter(case=victim, seq=2).delete()
    for seq in (3, 4):
        CaseEvent.objects.filter(case=victim, seq=seq).update(seq=seq - 1)
    _rechain(victim.pk)

    report = _verify_fails("--checkpoint", str(path))
    assert victim.number in report and "3 of the 4 events" in report


def test_reordered_events_are_caught(two, tmp_path):
    victim, _ = two
    path = _file(tmp_path)
    CaseEvent.objects.filter(case=victim, seq=2).update(seq=99)
    CaseEvent.objects.filter(case=victim, seq=3).update(seq=2)
    CaseEvent.objects.filter(case=victim, seq=99).update(seq=3)
    _rechain(victim.pk)

    report = _verify_fails("--checkpoint", str(path))
    assert victim.number in report and "changed, removed or reordered" in report


def test_a_tampered_file_or_another_key_is_refused(two, tmp_path):
    path = _file(tmp_path)
    doc = json.loads(path.read_bytes())

    forged = json.loads(json.dumps(doc))
    forged["checkpoint"]["case_count"] += 1
    (tmp_path / "forged.json").write_bytes(checkpoints.canonical(forged))
    assert "signature does not match" in _verify_fails("--checkpoint", str(tmp_path / "forged.json"))

    leaves = json.loads(json.dumps(doc))
    leaves["leaves"][0][3] = "f" * 64  # a leaf changed to fit a rewrite: no longer the signed root
    (tmp_path / "leaves.json").write_bytes(checkpoints.canonical(leaves))
    assert "signed Merkle root" in _verify_fails("--checkpoint", str(tmp_path / "leaves.json"))

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "other.pem").write_text(signing.pem(other))
    assert "signature does not match" in _verify_fails("--checkpoint", str(path), "--key", str(tmp_path / "other.pem"))
    # The published key, as /api/v1/public/signing-key gives it (base64 of 32 bytes), is accepted.
    (tmp_path / "mine.b64").write_text(signing.public_b64())
    assert "signature valid" in _verify("--checkpoint", str(path), "--key", str(tmp_path / "mine.b64"))[0]

    (tmp_path / "junk.json").write_text("=1+1\x07")
    assert "is not JSON" in _verify_fails("--checkpoint", str(tmp_path / "junk.json"))
    assert "cannot read" in _verify_fails("--checkpoint", str(tmp_path / "absent.json"))


def test_checkpoints_chain_and_store_only_the_cases_that_moved(two, world):
    first = checkpoint_create()
    second = checkpoint_create()
    assert (first.number, first.previous) == (1, GENESIS)
    assert (second.number, second.previous) == (2, first.digest)
    assert second.root == first.root  # nothing moved in between
    assert CheckpointLeaf.objects.filter(checkpoint=second).count() == 0

    c = _closed(world, "13800000003")
    third = checkpoint_create()
    assert third.root != second.root and third.previous == second.digest
    assert list(CheckpointLeaf.objects.filter(checkpoint=third).values_list("case_id", flat=True)) == [c.pk]
    assert latest_checkpoint() == third

    body = json.loads(third.body)
    assert body["case_count"] == Case.objects.count() and body["previous"] == second.digest
    assert signing.valid(signing.public_key(), checkpoints.canonical(body), third.signature)
    assert third.tallies_digest == checkpoints.sha256(third.tallies.encode())


def test_a_published_checkpoint_replaced_in_the_database_is_caught(two, tmp_path):
    checkpoint_create()
    path = _file(tmp_path)  # checkpoint 2, handed out
    Checkpoint.objects.filter(number=2).update(digest="e" * 64)  # re-signed after a rewrite, say
    assert "the published checkpoint was replaced" in _verify_fails("--checkpoint", str(path))
    Checkpoint.objects.filter(number=2).update(digest=checkpoints.body_digest(
        checkpoints.canonical(json.loads(path.read_bytes())["checkpoint"]).decode()))
    Checkpoint.objects.filter(number=1).update(digest="d" * 64)
    assert "does not chain to this installation's checkpoint 1" in _verify_fails("--checkpoint", str(path))


def test_the_key_is_created_once_readable_by_its_owner_only(world, settings):
    key = signing.private_key()
    mode = stat.S_IMODE(os.stat(settings.YIWANG_SIGNING_KEY_FILE).st_mode)
    assert mode == 0o600
    assert signing.key_id(signing.private_key().public_key()) == signing.key_id(key.public_key())


def test_the_worker_makes_one_checkpoint_a_day(two):
    for _ in range(2):
        call_command("worker", "--once", stdout=StringIO())
    assert Checkpoint.objects.count() == 1
    assert Checkpoint.objects.get().daily_on is not None
    assert checkpoint_create(daily=True) is None
    assert checkpoint_create().number == 2  # a manual one is always made


def test_a_receipt_checks_until_its_case_is_rewritten(two, client):
    victim, _ = two
    receipt = receipt_for(victim)
    assert receipt.submitted_hash == CaseEvent.objects.get(case=victim, seq=1).hash
    assert receipt.closed_hash == CaseEvent.objects.get(case=victim, seq=4).hash == victim.last_hash

    pending = receipt_check(number=victim.number, hash_=receipt.closed_hash)
    assert pending.ok and pending.checkpoint is None
    checkpoint_create()
    covered = receipt_check(number=victim.number.lower(), hash_=receipt.closed_hash.upper())
    assert covered.ok and covered.checkpoint.number == 1

    accept = CaseEvent.objects.get(case=victim, seq=2)
    CaseEvent.objects.filter(pk=accept.pk).update(payload={**accept.payload, "comment": "改写"})
    _rechain(victim.pk)
    # The closing hash is gone from the timeline; the submission hash is still there (event 1 was not
    # touched) but the case no longer matches what checkpoint 1 signed.
    assert not receipt_check(number=victim.number, hash_=receipt.closed_hash).ok
    before = receipt_check(number=victim.number, hash_=receipt.submitted_hash)
    assert not before.ok and "第 1 号检查点" in before.message

    page = client.get("/receipts/check/", {"number": victim.number, "hash": receipt.closed_hash})
    assert page.status_code == 200 and "不相符" in page.content.decode()


@pytest.mark.parametrize(("number", "hash_", "field"), [
    ("=1+1", "a" * 64, "number"),
    ("YW2026112600000001", "=1+1", "hash"),
    ("YW2026112600000001", "g" * 64, "hash"),
    ("61040219500101123X", "a" * 64, "number"),
])
def test_the_receipt_page_refuses_bad_input_beside_the_field(world, client, number, hash_, field):
    page = client.get("/receipts/check/", {"number": number, "hash": hash_})
    assert page.status_code == 422
    html = page.content.decode()
    assert f'id="{field}-error"' in html
    assert 'value="61040219500101123X"' not in html  # an ID number typed in is echoed masked, as everywhere


def test_control_characters_are_refused_naming_the_field(world, client):
    page = client.get("/receipts/check/", {"number": "\x00\x07YW", "hash": "a" * 64})
    assert page.status_code == 422 and "number" in page.content.decode()


def test_an_unknown_case_and_a_wrong_hash_answer_alike(two, client):
    a, _ = two
    wrong = receipt_check(number=a.number, hash_="0" * 64)
    unknown = receipt_check(number=a.number[:-1] + "9", hash_=a.last_hash)
    assert not wrong.ok and not unknown.ok and wrong.message == unknown.message


def test_the_case_page_shows_the_receipt_to_its_resident(world, client):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    client.force_login(world.users["resident_wang"])
    html = client.get(f"/cases/{case.number}/").content.decode()
    assert 'id="receipt-submitted"' in html and case.last_hash in html
    assert 'id="receipt-closed"' not in html  # not closed yet


# --- the public routes ----------------------------------------------------------------------------


def test_public_checkpoints_and_the_key_need_no_login_and_check_out(two, tmp_path):
    anonymous = Client()
    assert anonymous.get("/api/v1/public/checkpoints").json() == []
    assert "还没有检查点" in anonymous.get("/checkpoints/").content.decode()
    checkpoint_create()
    cp = checkpoint_create()

    listed = anonymous.get("/api/v1/public/checkpoints").json()
    assert [c["number"] for c in listed] == [2, 1] and listed[0]["previous"] == listed[1]["digest"]
    assert [c["number"] for c in anonymous.get("/api/v1/public/checkpoints?before=2&limit=99999999999").json()] == [1]

    detail = anonymous.get("/api/v1/public/checkpoints/2").json()
    key = anonymous.get("/api/v1/public/signing-key").json()
    # An outsider's check with nothing but the published JSON: the signature over the signed body.
    public = signing.load_public(key["public_key"].encode())
    assert signing.valid(public, checkpoints.canonical(detail["signed"]), detail["signature"])
    assert key["key_id"] == detail["key_id"] == detail["signed"]["key_id"]
    assert base64.b64decode(key["public_key"]) == signing.raw(signing.public_key())

    for missing in ("/api/v1/public/checkpoints/3", "/api/v1/public/checkpoints/99999999999999999999",
                    "/checkpoints/99999999999999999999.json"):
        assert anonymous.get(missing).status_code in (404, 422), missing

    page = anonymous.get("/checkpoints/").content.decode()
    assert cp.root in page and cp.signature in page and "/checkpoints/2.json" in page
    download = anonymous.get("/checkpoints/2.json")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    (tmp_path / "dl.json").write_bytes(download.content)
    assert "signature valid" in _verify("--checkpoint", str(tmp_path / "dl.json"))[0]
    assert anonymous.get("/checkpoints/", {"before": "²"}).status_code == 400

    schema = anonymous.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/public/checkpoints", "/api/v1/public/checkpoints/{checkpoint_number}",
            "/api/v1/public/signing-key"} <= set(schema)
