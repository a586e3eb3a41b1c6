"""Reads of the records app: published checkpoints and receipts (docs/checkpoints.md). No personal
data: a checkpoint names cases by number and hashes only, a receipt check answers yes or no."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import Max, Min
from django.utils.translation import gettext as _

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import workflow
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.records import checkpoints, signing
from yiwang.records.models import Checkpoint, CheckpointLeaf, SigningKey

# A whole hash, or its first 16 or more hex digits as a message carries it: 64 bits no rewrite can be
# made to hit by chance, and within one case's few events a prefix names one event.
HASH_RE = re.compile(r"^[0-9a-f]{16,64}$")


def latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint: what a public figure names as the state it was computed at."""
    return Checkpoint.objects.order_by("-number").first()


def checkpoint_list(*, limit: int = 50, before: int | None = None) -> list[Checkpoint]:
    rows = Checkpoint.objects.defer("tallies").order_by("-number")
    if before is not None:
        rows = rows.filter(number__lt=before)
    return list(rows[:limit])


def checkpoint_get(number: int) -> Checkpoint:
    cp = Checkpoint.objects.filter(number=number).first()
    if cp is None:
        raise NotFound(_("没有这个检查点。"))
    return cp


def checkpoint_leaves(cp: Checkpoint) -> list[checkpoints.Leaf]:
    """Each case's latest leaf up to ``cp``: the leaves its root was computed over."""
    last = (CheckpointLeaf.objects.filter(checkpoint__number__lte=cp.number).values("case_id")
            .annotate(last=Max("pk")).values("last"))
    return sorted(CheckpointLeaf.objects.filter(pk__in=last)
                  .values_list("case_id", "case_number", "event_count", "hash"))


def checkpoint_document(cp: Checkpoint) -> dict:
    """The file handed to an outside archive: the signed body, its signature, the public key that signed
    it (the one its body names, also after a rotation), the leaves and the tallies; `yiwang verify
    --checkpoint` checks it."""
    key = public_key_for(cp.key_id)
    return {
        "checkpoint": json.loads(cp.body),
        "signature": cp.signature,
        "signature_algorithm": "Ed25519 over the canonical JSON of \"checkpoint\"",
        "public_key": signing.public_b64(key) if key else "",
        "leaves": [list(leaf) for leaf in checkpoint_leaves(cp)],
        "tallies": json.loads(cp.tallies),
    }


# --- signing keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    pem: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None  # None: the key in use
    first_checkpoint: int | None
    last_checkpoint: int | None
    endorsed_by: str  # the key this one replaced, which signed the endorsement
    endorsement: str
    current: bool


def signing_keys() -> list[KeyInfo]:
    """Every key that signed or signs checkpoints, oldest first, with its validity and the checkpoints it
    signed. The key in use is listed even before the registry has a row for it (no checkpoint yet)."""
    current = signing.public_key()
    current_id = signing.key_id(current)
    used = {row["key_id"]: row for row in Checkpoint.objects.values("key_id").annotate(
        first=Min("number"), last=Max("number"), since=Min("created_at"))}
    rows = list(SigningKey.objects.all())
    out = [_key_info(r.key_id, r.public_key, r.created_at, r.retired_at, used.get(r.key_id), r.endorsed_by,
                     r.endorsement, r.key_id == current_id) for r in rows]
    if current_id not in {r.key_id for r in rows}:
        first = used.get(current_id)
        out.append(_key_info(current_id, signing.public_b64(current), first["since"] if first else None, None,
                             first, "", "", True))
    return out


def _key_info(key_id, public_b64, since, until, used, endorsed_by, endorsement, current) -> KeyInfo:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
    return KeyInfo(key_id=key_id, public_key=public_b64, pem=signing.pem(key), valid_from=since, valid_until=until,
                   first_checkpoint=used["first"] if used else None, last_checkpoint=used["last"] if used else None,
                   endorsed_by=endorsed_by, endorsement=endorsement, current=current)


def public_key_for(key_id: str) -> Ed25519PublicKey | None:
    """The published key with this id (the one a checkpoint names), or None when this installation never
    published it."""
    row = SigningKey.objects.filter(key_id=key_id).values_list("public_key", flat=True).first()
    if row:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(row))
    current = signing.public_key()
    return current if signing.key_id(current) == key_id else None


def checkpoint_signature_valid(cp: Checkpoint) -> bool:
    """Whether ``cp``'s stored body carries a valid signature by the published key it names."""
    key = public_key_for(cp.key_id)
    return key is not None and signing.valid(key, cp.body.encode(), cp.signature)


# --- receipts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    number: str
    submitted_hash: str
    closed_hash: str | None


def receipt_for(case: Case) -> Receipt | None:
    """The resident's receipt: the case's hash at submission (its first event) and at its latest
    closing (None while open). The caller has already been allowed to see ``case``."""
    closed = workflow(case.kind).closed
    first = None
    closing = None
    for seq, hash_, from_state, to_state in (CaseEvent.objects.filter(case_id=case.pk).order_by("seq")
                                             .values_list("seq", "hash", "from_state", "to_state")):
        if seq == 1:
            first = hash_
        if to_state in closed and from_state not in closed:
            closing = hash_
        elif to_state not in closed:
            closing = None  # reopened: the receipt waits for the next closing
    if first is None:
        return None
    return Receipt(number=case.number, submitted_hash=first, closed_hash=closing)


@dataclass(frozen=True)
class ReceiptCheck:
    ok: bool
    message: str
    seq: int | None = None
    checkpoint: Checkpoint | None = None  # the first published checkpoint covering the hash


def receipt_check(*, number: str, hash_: str) -> ReceiptCheck:
    """Whether ``hash_`` is in case ``number``'s timeline as it stands, that timeline still chains, and
    every published checkpoint that signed the case still matches it. Says nothing about the case
    beyond that; a wrong number and a wrong hash get the same answer."""
    number = (number or "").strip().upper()
    hash_ = (hash_ or "").strip().lower()
    errors = {}
    if Case.parse_number(number) is None:
        errors["number"] = [_("请输入办件编号，如 YW2026112600000001。")]
    if not HASH_RE.match(hash_):
        errors["hash"] = [_("哈希值是 64 位十六进制字符(0-9、a-f)，也可只填短信中的前 16 位。")]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    unknown = ReceiptCheck(False, _("该办件当前的记录中没有这个哈希值：回执有误，或记录在回执开具之后被改动过。"))
    case = Case.objects.filter(pk=Case.parse_number(number)[1]).only("pk", "created_at", "last_hash").first()
    if case is None or case.number != number:
        return unknown
    events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("seq"))
    if verify_events(events, case.last_hash) is not None:
        return ReceiptCheck(False, _("该办件的哈希链已不完整，记录被改动过。"))
    matching = [e.seq for e in events if e.hash.startswith(hash_)]
    if len(matching) != 1:
        return unknown
    seq = matching[0]
    hashes = [e.hash for e in events]
    first_cover = None
    for leaf in CheckpointLeaf.objects.filter(case_id=case.pk).select_related("checkpoint").order_by("checkpoint__number"):
        if not checkpoint_signature_valid(leaf.checkpoint):
            # Signed by whichever published key it names (also one since rotated); a body or signature
            # changed in the database, or a key never published, is no proof.
            return ReceiptCheck(False, _("第 %(n)s 号检查点的签名无法用已公布的公钥核验，不能作为凭证。")
                                % {"n": leaf.checkpoint.number}, seq=seq)
        if leaf.event_count > len(hashes) or hashes[leaf.event_count - 1] != leaf.hash:
            return ReceiptCheck(False, _("该办件的记录与第 %(n)s 号检查点签署时不一致，记录被改动过。")
                                % {"n": leaf.checkpoint.number}, seq=seq)
        if first_cover is None and leaf.event_count >= seq:
            first_cover = leaf.checkpoint
    if first_cover is None:
        return ReceiptCheck(True, _("哈希值与该办件的记录相符，但尚无已发布的检查点覆盖它(检查点每天生成)。"), seq=seq)
    return ReceiptCheck(True, _("哈希值与该办件的记录相符，已被第 %(n)s 号检查点签署覆盖，且之后的记录与所有检查点一致。")
                        % {"n": first_cover.number}, seq=seq, checkpoint=first_cover)
