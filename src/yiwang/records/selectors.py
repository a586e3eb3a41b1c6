"""Reads of the records app: published checkpoints and receipts (docs/checkpoints.md). No personal
data: a checkpoint names cases by number and hashes only, a receipt check answers yes or no."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.db.models import Max
from django.utils.translation import gettext as _

from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import workflow
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.records import checkpoints
from yiwang.records.models import Checkpoint, CheckpointLeaf

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
    """The file handed to an outside archive: the signed body, its signature, the public key, the
    leaves and the tallies; `yiwang verify --checkpoint` checks it."""
    from yiwang.records import signing

    return {
        "checkpoint": json.loads(cp.body),
        "signature": cp.signature,
        "signature_algorithm": "Ed25519 over the canonical JSON of \"checkpoint\"",
        "public_key": signing.public_b64(),
        "leaves": [list(leaf) for leaf in checkpoint_leaves(cp)],
        "tallies": json.loads(cp.tallies),
    }


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
        if leaf.event_count > len(hashes) or hashes[leaf.event_count - 1] != leaf.hash:
            return ReceiptCheck(False, _("该办件的记录与第 %(n)s 号检查点签署时不一致，记录被改动过。")
                                % {"n": leaf.checkpoint.number}, seq=seq)
        if first_cover is None and leaf.event_count >= seq:
            first_cover = leaf.checkpoint
    if first_cover is None:
        return ReceiptCheck(True, _("哈希值与该办件的记录相符，但尚无已发布的检查点覆盖它(检查点每天生成)。"), seq=seq)
    return ReceiptCheck(True, _("哈希值与该办件的记录相符，已被第 %(n)s 号检查点签署覆盖，且之后的记录与所有检查点一致。")
                        % {"n": first_cover.number}, seq=seq, checkpoint=first_cover)
