"""Public, signed checkpoints (docs/checkpoints.md): no login, no personal data."""

from __future__ import annotations

import datetime as dt
import json

from django.urls import reverse
from ninja import Router, Schema

from yiwang.records import selectors, signing
from yiwang.records.models import Checkpoint

router = Router(tags=["public"])


class CheckpointOut(Schema):
    number: int
    created_at: dt.datetime
    case_count: int
    event_count: int
    root: str
    tallies_digest: str
    previous: str
    digest: str
    key_id: str
    signature: str
    file_url: str


class CheckpointDetail(CheckpointOut):
    signed: dict  # the body that was signed; its canonical JSON is what the signature covers


class PublishedKeyOut(Schema):
    key_id: str
    public_key: str
    pem: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None  # null: the key in use
    first_checkpoint: int | None
    last_checkpoint: int | None
    endorsed_by: str  # the key it replaced, which signed `endorsement` over the rotation statement
    endorsement: str
    current: bool


class SigningKeyOut(Schema):
    algorithm: str
    key_id: str
    public_key: str
    pem: str
    keys: list[PublishedKeyOut]  # every key that signed checkpoints here, oldest first


def _out(cp: Checkpoint) -> dict:
    return {f: getattr(cp, f) for f in CheckpointOut.model_fields if f != "file_url"} | {
        "file_url": reverse("checkpoint_file", args=[cp.number])}


@router.get("/public/checkpoints", response=list[CheckpointOut], auth=None,
            summary="Signed checkpoints of every case's chain and the tallies, latest first")
def checkpoints(request, before: int | None = None, limit: int = 50):
    limit = max(1, min(limit, 200))
    return [_out(cp) for cp in selectors.checkpoint_list(limit=limit, before=before)]


@router.get("/public/checkpoints/{checkpoint_number}", response=CheckpointDetail, auth=None, summary="One signed checkpoint")
def checkpoint(request, checkpoint_number: int):
    cp = selectors.checkpoint_get(checkpoint_number)
    return _out(cp) | {"signed": json.loads(cp.body)}


@router.get("/public/signing-key", response=SigningKeyOut, auth=None,
            summary="The Ed25519 public key that signs the checkpoints now, and every key that signed them before")
def signing_key(request):
    key = signing.public_key()
    return {"algorithm": "Ed25519", "key_id": signing.key_id(key), "public_key": signing.public_b64(key),
            "pem": signing.pem(key), "keys": [vars(k) for k in selectors.signing_keys()]}
