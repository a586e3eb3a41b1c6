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
import secrets
from json.encoder import c_make_encoder, encode_basestring

GENESIS = "0" * 64

# Payload keys that carry what a resident gave (their words, their name, their files, where a result is
# delivered). A new event holding any of them is *sealed*: the hash covers a salted digest of each such
# value, not the value, so erasing the value and the salt later leaves the hash recomputable from the
# digest (docs/retention.md). Staff texts (reply, note, result) are not sealed: they are the record.
SEALED_KEYS = ("comment", "applicant", "materials", "resubmitted", "delivery")
SALT = "_salt"  # the event's salt while its sealed values are held in clear
SEALED = "_sealed"  # key → digest, once the values are erased
# An event written before sealing existed (or a staff text) whose personal words were erased: it keeps
# the hash it was written with, and a later anonymise event of the same case attests that hash.
ATTESTED = "_attested"


def seal(payload: dict) -> dict:
    """``payload`` with a fresh salt when it holds a sealed key, so its hash follows the sealed rule."""
    if SALT in payload or SEALED in payload or not any(payload.get(k) for k in SEALED_KEYS):
        return payload
    return {**payload, SALT: secrets.token_hex(16)}


# What a hash covers, as text: json.dumps with these options built a new encoder on every call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


# The same encoding, made once: JSONEncoder.encode builds a new C encoder (and a Python closure) on
# every call, a third of a hash's cost. No circular-reference markers: a payload is decoded JSON or
# built from it, and a cycle would still fail (RecursionError instead of ValueError).
_c_encode = c_make_encoder(None, str, encode_basestring, None, ":", ",", True, False, True) \
    if c_make_encoder is not None else None


def _canonical(value) -> str:
    if _c_encode is None or isinstance(value, str):
        return _CANONICAL.encode(value)
    return "".join(_c_encode(value, 0))


def _utc_text(at: dt.datetime) -> str:
    """``at.astimezone(UTC).isoformat(timespec="microseconds")``, formatted by hand: isoformat's keyword
    parsing cost more than the formatting (1.0 µs), and an f-string with format specs costs 1.2 µs against
    this printf-style 0.6 µs."""
    if at.tzinfo is not dt.UTC:
        at = at.astimezone(dt.UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond)


def sealed_digest(salt: str, value) -> str:
    return hashlib.sha256((salt + _canonical(value)).encode()).hexdigest()


def hashed_payload(payload: dict) -> dict:
    """What the hash covers of ``payload``: the payload itself (events before sealing), or, for a sealed
    event, its other keys and one digest per sealed key, the same before and after erasure."""
    if SALT not in payload and SEALED not in payload:
        return payload
    digests = dict(payload.get(SEALED) or {})
    salt = payload.get(SALT)
    if salt:
        digests.update({k: sealed_digest(salt, payload[k]) for k in SEALED_KEYS if k in payload})
    out = {k: v for k, v in payload.items() if k not in SEALED_KEYS and k not in (SALT, SEALED)}
    out[SEALED] = digests
    return out


def event_hash(
    *, prev: str, seq: int, at: dt.datetime, actor_id: int | None, action: str, from_state: str,
    to_state: str, from_unit_id: int | None, to_unit_id: int | None, payload: dict,
) -> str:
    if isinstance(payload, dict) and isinstance(payload.get(ATTESTED), str):
        # Erased under the old rule: the hash it was written with, checked by verify_events against the
        # anonymise event that attests it (a checkpoint signed before the erasure holds it too).
        return payload[ATTESTED]
    if isinstance(payload, dict):
        payload = hashed_payload(payload)
    body = _canonical(
        [prev, seq, _utc_text(at), actor_id, action, from_state, to_state, from_unit_id, to_unit_id, payload],
    )
    return hashlib.sha256(body.encode()).hexdigest()


def verify_events(events, last_hash: str) -> str | None:
    """Return None when ``events`` (ordered by seq) chain correctly up to ``last_hash``, else why not."""
    events = list(events)
    # seq → hash that an anonymise event of this chain vouches for (an erased pre-sealing event).
    attested = {int(seq): h for e in events if e.action == "anonymise"
                for seq, h in ((e.payload or {}).get("attested") or {}).items()}
    prev = GENESIS
    expected_seq = 1
    for e in events:
        if isinstance((e.payload or {}).get(ATTESTED), str) and attested.get(e.seq) != e.payload[ATTESTED]:
            return f"event {e.seq} ({e.action}) is marked erased but no anonymise event attests its hash"
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
