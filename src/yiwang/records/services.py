"""Writes of the records app: making a checkpoint, rotating its signing key (docs/checkpoints.md)."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from yiwang.cases.chain import GENESIS
from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.core.errors import Conflict
from yiwang.records import checkpoints, signing
from yiwang.records.models import Checkpoint, CheckpointLeaf, SigningKey


def checkpoint_create(*, daily: bool = False, at: dt.datetime | None = None) -> Checkpoint | None:
    """Sign the current state of every case's chain and of the tallies, in one transaction.

    ``daily``: the worker's run; None when today's checkpoint exists already (one per local day, even
    with two workers racing: ``daily_on`` is unique)."""
    at = at or clock.now()
    day = timezone.localtime(at).date() if daily else None
    if daily and Checkpoint.objects.filter(daily_on=day).exists():
        return None
    try:
        return _create(at, day)
    except IntegrityError:
        if daily:  # another worker made today's (or the next number) first
            return None
        raise


def _create(at: dt.datetime, day: dt.date | None) -> Checkpoint:
    with transaction.atomic():
        _snapshot()
        key = signing.private_key()
        public = key.public_key()
        registered = _register(public, at)
        if registered.retired_at is not None:
            # A retired key put back (a restored backup of the key file): its checkpoints would claim a
            # key that outsiders were told is no longer used.
            raise ImproperlyConfigured(
                f"{signing.key_path()} holds key {registered.key_id[:16]}…, retired at "
                f"{registered.retired_at:%Y-%m-%d %H:%M}: put the current key back, or rotate "
                "(yiwang checkpoint --rotate-key)")
        zone = timezone.get_current_timezone()
        leaves = [(pk, Case.format_number(created, pk, zone), n, last)
                  for pk, created, n, last in Case.objects.order_by("pk")
                  .values_list("pk", "created_at", "event_count", "last_hash").iterator(chunk_size=5000)]
        tallies = checkpoints.tallies_snapshot()
        previous = Checkpoint.objects.order_by("-number").first()
        header = {
            "format": checkpoints.FORMAT,
            "number": (previous.number + 1) if previous else 1,
            "created_at": at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "case_count": len(leaves),
            "event_count": sum(leaf[2] for leaf in leaves),
            "root": checkpoints.merkle_root(leaves),
            "tallies_digest": checkpoints.sha256(checkpoints.canonical(tallies)),
            "previous": previous.digest if previous else GENESIS,
            "key_id": signing.key_id(public),
        }
        body = checkpoints.canonical(header)
        cp = Checkpoint.objects.create(
            number=header["number"], created_at=at, daily_on=day, case_count=header["case_count"],
            event_count=header["event_count"], root=header["root"], tallies_digest=header["tallies_digest"],
            previous=header["previous"], digest=checkpoints.sha256(body), key_id=header["key_id"],
            body=body.decode(), signature=signing.sign(body), tallies=checkpoints.canonical(tallies).decode())
        _store_changed_leaves(cp, leaves)
        return cp


def _snapshot() -> None:
    """On PostgreSQL, read the cases and the tallies as of one moment (the first statement of the
    transaction); SQLite's write lock and a single SELECT per table come close enough there."""
    if connection.vendor == "postgresql" and connection.in_atomic_block and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _store_changed_leaves(cp: Checkpoint, leaves: list[checkpoints.Leaf]) -> None:
    latest = dict(
        ((case_id, (n, h)) for case_id, n, h in CheckpointLeaf.objects.filter(
            pk__in=CheckpointLeaf.objects.values("case_id").annotate(last=Max("pk")).values("last"))
         .values_list("case_id", "event_count", "hash")))
    CheckpointLeaf.objects.bulk_create(
        (CheckpointLeaf(checkpoint=cp, case_id=pk, case_number=number, event_count=n, hash=h)
         for pk, number, n, h in leaves if latest.get(pk) != (n, h)),
        batch_size=2000)


def _register(public: Ed25519PublicKey, at: dt.datetime) -> SigningKey:
    """The registry's row of ``public``, added on its first use. A key that signed checkpoints before the
    registry existed is dated by the first of them."""
    key_id = signing.key_id(public)
    first = Checkpoint.objects.filter(key_id=key_id).order_by("number").values_list("created_at", flat=True).first()
    row, _created = SigningKey.objects.get_or_create(
        key_id=key_id, defaults={"public_key": signing.public_b64(public), "created_at": first or at})
    return row


def signing_key_rotate(*, at: dt.datetime | None = None) -> SigningKey:
    """Retire the installation's signing key and make a new one (docs/checkpoints.md "Rotating the key").

    The old public key stays published with its validity, so every checkpoint it signed still checks; the
    old key signs the new one's public half (the endorsement) before it is overwritten. The key file is
    replaced last, inside the transaction: a failure before it leaves the old key in use, registered."""
    at = at or clock.now()
    old = signing.private_key()
    _register(old.public_key(), at)
    new = Ed25519PrivateKey.generate()
    old_id, new_id = signing.key_id(old.public_key()), signing.key_id(new.public_key())
    statement = checkpoints.rotation_statement(
        previous=old_id, key_id=new_id, public_key=signing.public_b64(new.public_key()),
        at=at.astimezone(dt.UTC).isoformat(timespec="seconds"))
    with transaction.atomic():
        row = SigningKey.objects.select_for_update().get(key_id=old_id)
        if row.retired_at is not None:  # another rotation went first, or the file holds a retired key
            raise Conflict(f"key {old_id[:16]}… was retired at {row.retired_at:%Y-%m-%d %H:%M}; nothing rotated")
        row.retired_at = at
        row.save(update_fields=["retired_at"])
        created = SigningKey.objects.create(
            key_id=new_id, public_key=statement["public_key"], created_at=at, endorsed_by=old_id,
            endorsement=base64.b64encode(old.sign(checkpoints.canonical(statement))).decode())
        signing.replace_private_key(new)
    return created
