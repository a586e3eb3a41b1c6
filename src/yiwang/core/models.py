from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ConfigVersion(models.Model):
    """One row per in-process configuration cache (see yiwang.core.confcache)."""

    name = models.CharField(max_length=50, primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


class LoginFailure(models.Model):
    """One login attempt counted against a key (yiwang.core.throttle): a failed password, or an
    attempt whose password is being checked right now (its row is written first, then counted).

    In the database rather than Django's cache: the default cache lives in one process, and every
    granian worker must see the same counts.
    """

    key = models.CharField(max_length=200)  # "user:<username>", "address:<ip or IPv6 /64>", "device:<nonce>"
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "at"]), models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.key}@{self.at:%Y-%m-%d %H:%M:%S}"


class IdempotencyRecord(models.Model):
    """The first answer to an API request sent with an ``Idempotency-Key`` (see yiwang.core.idempotency).

    Written in the same transaction as the request's own writes, so a stored answer always has its
    data and committed data always has its answer.
    """

    identity = models.CharField(max_length=64, help_text="whose key: user:<id> (API), page user:<id> (page forms)")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    created_at = models.DateTimeField(db_index=True)
    status = models.PositiveSmallIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["identity", "key"], name="idempotency_one_per_key")]

    def __str__(self) -> str:
        return f"{self.identity} {self.key} → {self.status}"


class AccessLog(models.Model):
    """Someone saw personal data in full — an unmasked ID number — outside a case's timeline.

    A case's own reveals are events on its hash-chained timeline (cases.services.case_reveal_id);
    this table records the others, such as a grid worker showing a resident's number on the grid
    page (grid.services.resident_reveal_id). Append-only, like the timeline.
    """

    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("查看人"))
    actor_name = models.CharField(_("查看人"), max_length=150)
    subject = models.CharField(_("对象"), max_length=40)  # the model seen, as app_label.model: "org.resident"
    subject_id = models.BigIntegerField(_("对象编号"))
    field = models.CharField(_("字段"), max_length=40)
    reason = models.CharField(_("理由"), max_length=500)
    region_path = models.CharField(max_length=255)  # the subject's region: who may audit it, how it shards

    class Meta:
        verbose_name = _("敏感信息查看记录")
        verbose_name_plural = _("敏感信息查看记录")
        indexes = [models.Index(fields=["subject", "subject_id", "at"], name="access_log_subject_idx"),
                   models.Index(fields=["at"], name="access_log_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.subject}#{self.subject_id}.{self.field}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("access log rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("access log rows are append-only")
