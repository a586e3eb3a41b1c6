"""Signed checkpoints of every case's chain and of the tallies (docs/checkpoints.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Checkpoint(models.Model):
    """One signed statement: "at ``created_at`` the cases' chains had this Merkle root and the tallies
    this digest". ``body`` is the canonical JSON that was signed, kept byte for byte, so the file handed
    to an archive can be rebuilt and its signature checked without trusting the other columns."""

    number = models.PositiveIntegerField(_("编号"), unique=True)
    created_at = models.DateTimeField(_("时间"))
    # The worker's day (local date) for a daily checkpoint: unique, so two workers make one a day.
    daily_on = models.DateField(null=True, blank=True, unique=True)
    case_count = models.PositiveIntegerField()
    event_count = models.PositiveBigIntegerField()
    root = models.CharField(max_length=64)
    tallies_digest = models.CharField(max_length=64)
    previous = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=64)
    body = models.TextField()
    signature = models.CharField(max_length=100)
    # The tallies as signed (canonical JSON): the figures an outsider re-adds (docs/checkpoints.md).
    tallies = models.TextField()

    class Meta:
        verbose_name = _("存证检查点")
        verbose_name_plural = _("存证检查点")
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.root[:16]}"


class CheckpointLeaf(models.Model):
    """A case's (event count, hash at that count) as first signed by ``checkpoint``. Written only when it
    changed since the previous checkpoint, so daily checkpoints grow the table by the cases that moved,
    not by every case every day; a checkpoint's leaves are each case's latest row up to it."""

    checkpoint = models.ForeignKey(Checkpoint, models.PROTECT, related_name="+")
    case_id = models.BigIntegerField()
    case_number = models.CharField(max_length=30)
    event_count = models.PositiveIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case_id", "checkpoint"], name="checkpoint_leaf_unique")]
        indexes = [models.Index(fields=["checkpoint"], name="checkpoint_leaf_cp_idx")]

    def __str__(self) -> str:
        return f"{self.case_number} @{self.event_count}"


class SigningKey(models.Model):
    """A public key that signed, or signs, checkpoints. Rotation (`yiwang checkpoint --rotate-key`) retires
    the current key and adds the next, so every checkpoint stays checkable with the key it names; the
    next key's public half is signed by the one before it (``endorsement``), so whoever pinned the old
    fingerprint can take the new one without trusting this server."""

    key_id = models.CharField(_("公钥指纹"), max_length=64, unique=True)
    public_key = models.CharField(_("公钥"), max_length=64)  # base64 of the raw 32 bytes
    created_at = models.DateTimeField(_("启用时间"))
    retired_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    # The key this one replaced, and its Ed25519 signature over records.checkpoints.rotation_statement.
    endorsed_by = models.CharField(max_length=64, blank=True)
    endorsement = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("签名公钥")
        verbose_name_plural = _("签名公钥")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.key_id[:16]
