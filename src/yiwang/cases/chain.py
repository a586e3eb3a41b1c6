"""The hash chain of a case's timeline.

Each event's hash covers the previous event's hash and the event's own content, so changing,
removing or reordering any event breaks every hash after it; the case row keeps the last hash, so
truncating the chain shows too. The first event chains from GENESIS. The case id is not hashed:
it is unknown before the insert, and intake must not spend a third statement on it; the case row's
``last_hash`` ties the chain to its case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

GENESIS = "0" * 64


def event_hash(
    *, prev: str, seq: int, at: dt.datetime, actor_id: int | None, action: str, from_state: str,
    to_state: str, from_unit_id: int | None, to_unit_id: int | None, payload: dict,
) -> str:
    body = json.dumps(
        [prev, seq, at.astimezone(dt.UTC).isoformat(timespec="microseconds"), actor_id, action,
         from_state, to_state, from_unit_id, to_unit_id, payload],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def verify_events(events, last_hash: str) -> str | None:
    """Return None when ``events`` (ordered by seq) chain correctly up to ``last_hash``, else why not."""
    prev = GENESIS
    expected_seq = 1
    for e in events:
        if e.seq != expected_seq:
            return f"event sequence jumps from {expected_seq - 1} to {e.seq}"
        h = event_hash(
            prev=prev, seq=e.seq, at=e.at, actor_id=e.actor_id, action=e.action, from_state=e.from_state,
            to_state=e.to_state, from_unit_id=e.from_unit_id, to_unit_id=e.to_unit_id, payload=e.payload,
        )
        if h != e.hash:
            return f"event {e.seq} ({e.action}) does not match its hash"
        prev = h
        expected_seq += 1
    if prev != last_hash:
        return "the case's last hash does not match its last event"
    return None
