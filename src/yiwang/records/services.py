"""Writes of the records app: making a checkpoint (docs/checkpoints.md)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from yiwang.cases.chain import GENESIS
from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.records import checkpoints, signing
from yiwang.records.models import Checkpoint, CheckpointLeaf


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
