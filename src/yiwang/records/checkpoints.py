"""What a checkpoint signs and how it is checked (docs/checkpoints.md).

A checkpoint covers every case by one leaf: (case id, case number, event count, the hash of the
event with that number). The leaves, sorted by case id, form a Merkle tree (RFC 6962's domain
separation: 0x00 before a leaf, 0x01 before a pair; an odd node is carried up unchanged). The signed
body is canonical JSON of the root, the digest of the tallies, the case and event counts, the time and
the digest of the previous checkpoint's body, so the checkpoints form a chain of their own.

Checking a case against its leaf recomputes its first N events from GENESIS and compares the result
with the hash signed then. Rewriting an event and recomputing every later hash, and the case's
``last_hash``, still ends in another hash at N than the one signed: that is what a checkpoint adds to
`yiwang verify`, which can only check the chain against itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

from yiwang.cases import rollups as case_rollups
from yiwang.cases.chain import GENESIS, event_hash
from yiwang.cases.models import CaseEvent
from yiwang.feedback import rollups as rating_rollups
from yiwang.records import signing
from yiwang.records.verification import Report

FORMAT = "yiwang-checkpoint/1"
BATCH = 500
EVENT_FIELDS = ("case_id", "seq", "at", "actor_id", "action", "from_state", "to_state", "from_unit_id",
                "to_unit_id", "payload", "hash")

Leaf = tuple[int, str, int, str]  # case id, case number, event count, hash of event number <count>


def canonical(value) -> bytes:
    """The one byte string of a JSON value that is signed and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leaf_hash(leaf: Leaf) -> bytes:
    return hashlib.sha256(b"\x00" + canonical(list(leaf))).digest()


def merkle_root(leaves: Iterable[Leaf]) -> str:
    """The root over ``leaves`` in case id order (the caller's order does not matter)."""
    level = [leaf_hash(leaf) for leaf in sorted(leaves)]
    if not level:
        return sha256(b"")
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def tallies_snapshot() -> dict:
    """The stored tallies the public figures and the dashboards are summed from, as sorted lists."""
    return {
        "cases": sorted([*key, *measures] for key, measures in case_rollups.stored().items()),
        "case_days": sorted([path, day.isoformat(), kind, *counts] for (path, day, kind), counts in
                            case_rollups.stored_days().items()),
        "case_months": sorted([path, kind, state, unit, month.strftime("%Y-%m"), *measures]
                              for (path, kind, state, unit, month), measures in
                              case_rollups.stored_months().items()),
        "case_received": sorted([path, kind, unit, month.strftime("%Y-%m"), n]
                                for (path, kind, unit, month), n in case_rollups.stored_received().items()),
        "ratings": sorted([*key, n] for key, n in rating_rollups.stored().items()),
        "rating_months": sorted([path, unit, rating, month.strftime("%Y-%m"), n]
                                for (path, unit, rating, month), n in rating_rollups.stored_months().items()),
    }


def body_digest(body: str) -> str:
    return sha256(body.encode())


# --- checking -------------------------------------------------------------------------------------


def prefix_hash(rows: list[tuple]) -> tuple[str | None, str | None]:
    """(the hash recomputed over ``rows`` from GENESIS, None) when they are events 1..n in order and each
    matches its stored hash, else (None, why not). ``rows`` are EVENT_FIELDS tuples ordered by seq."""
    prev = GENESIS
    for expected, (_case, seq, at, actor_id, action, from_state, to_state, from_unit, to_unit, payload,
                   stored) in enumerate(rows, start=1):
        if seq != expected:
            return None, f"event {expected} is missing (the timeline jumps to {seq})"
        prev = event_hash(prev=prev, seq=seq, at=at, actor_id=actor_id, action=action, from_state=from_state,
                          to_state=to_state, from_unit_id=from_unit, to_unit_id=to_unit, payload=payload)
        if prev != stored:
            return None, f"event {seq} ({action}) does not match its stored hash"
    return prev, None


def events_of(case_ids: list[int]) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {i: [] for i in case_ids}
    for row in CaseEvent.objects.filter(case_id__in=case_ids).order_by("case_id", "seq").values_list(*EVENT_FIELDS):
        out[row[0]].append(row)
    return out


def check_leaves(leaves: list[Leaf], limit: int = 50) -> Iterator[tuple[Leaf, str | None, int]]:
    """For each leaf: (leaf, the problem or None, events checked), reading the events in batches."""
    for start in range(0, len(leaves), BATCH):
        batch = leaves[start:start + BATCH]
        events = events_of([leaf[0] for leaf in batch])
        for leaf in batch:
            case_id, _number, count, signed = leaf
            rows = events[case_id]
            if count and not rows:
                yield leaf, "its timeline is gone", 0
                continue
            covered = [r for r in rows if r[1] <= count]
            got, why = prefix_hash(covered)
            if why is None and len(covered) < count:
                why = f"it has {len(covered)} of the {count} events the checkpoint covers"
            elif why is None and (got if count else GENESIS) != signed:
                why = (f"its first {count} events no longer hash to the signed {signed[:16]}…: an event was "
                       "changed, removed or reordered and the later hashes recomputed")
            yield leaf, why, len(covered)


def verify_document(doc: dict, key) -> Report:
    """Check a checkpoint file: signature, Merkle root, tallies digest, and every covered case."""
    report = Report()  # what `yiwang verify` reports, for the file's cases
    try:
        header = doc["checkpoint"]
        body = canonical(header)
        signature = doc["signature"]
        leaves = [(int(a), str(b), int(c), str(d)) for a, b, c, d in doc["leaves"]]
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"not a checkpoint file: {exc!r}")
        return report
    if header.get("format") != FORMAT:
        report.problems.append(f"unknown format {header.get('format')!r} (expected {FORMAT})")
        return report
    if header.get("key_id") and header.get("key_id") != signing.key_id(key):
        report.problems.append(f"the signature does not match the checkpoint with this public key: checkpoint "
                               f"{header.get('number')} names key {str(header.get('key_id'))[:16]}…, the key "
                               f"given is {signing.key_id(key)[:16]}…")
        return report
    if not signing.valid(key, body, signature):
        report.problems.append("the signature does not match the checkpoint with this public key: the file was "
                               "altered, or it was signed by another key")
        return report
    if merkle_root(leaves) != header.get("root"):
        report.problems.append("the leaves in the file do not give the signed Merkle root")
        return report
    if len(leaves) != header.get("case_count"):
        report.problems.append("the file has another number of leaves than the signed case count")
        return report
    if "tallies" in doc and sha256(canonical(doc["tallies"])) != header.get("tallies_digest"):
        report.problems.append("the tallies in the file do not give the signed tallies digest")
    for leaf, why, checked in check_leaves(leaves):
        report.cases += 1
        report.events += checked
        if why:
            report.problems.append(f"case {leaf[1]} (id {leaf[0]}): {why}")
    return report


# --- key rotation -----------------------------------------------------------------------------------

ROTATION_FORMAT = "yiwang-key-rotation/1"


def rotation_statement(*, previous: str, key_id: str, public_key: str, at: str) -> dict:
    """What the retiring key signs when it hands over: "from ``at`` checkpoints are signed by
    ``key_id`` (``public_key``, base64 of the raw 32 bytes)". Its canonical JSON is the signed message."""
    return {"format": ROTATION_FORMAT, "previous": previous, "key_id": key_id, "public_key": public_key, "at": at}
