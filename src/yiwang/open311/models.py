"""Open311 GeoReport v2 keys and the reports that came in through them.

The report itself is a Case (kind incident, channel open311); this app keeps only what the case
engine has no place for: which key sent it, the client's token, device and account, the e-mail.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import Case


class ApiKey(models.Model):
    """An integrator's key for POST requests (GeoReport v2 ``api_key``). Only its SHA-256 is kept.

    Reports are filed as ``user``: either an account made for the key (a grid-worker role at a
    command centre: it may report and nothing else) or an existing staff or resident account.
    """

    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="open311_keys",
                             verbose_name=_("以此账号上报"))
    created_at = models.DateTimeField(_("签发时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 密钥")
        verbose_name_plural = _("Open311 密钥")
        constraints = [
            # A name identifies one live key, so `yiwang open311-key NAME --revoke` is unambiguous.
            models.UniqueConstraint(fields=["name"], condition=models.Q(revoked_at__isnull=True),
                                    name="open311_key_active_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Submission(models.Model):
    """One report received through Open311: the case it became and the client's own identifiers."""

    case = models.OneToOneField(Case, models.PROTECT, related_name="open311_submission")
    api_key = models.ForeignKey(ApiKey, models.PROTECT, related_name="submissions", db_index=False)
    # GeoReport v2 ``token``: answered at once (the case exists when POST returns) and kept, so a
    # client that only stored the token can still find its service_request_id.
    token = models.CharField(max_length=40, unique=True)
    device_id = models.CharField(max_length=100, blank=True)
    account_id = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField()
    # Copied from the case's region for scoping and sharding, like every table that grows with use.
    region_path = models.CharField(max_length=255)

    class Meta:
        verbose_name = _("Open311 上报")
        verbose_name_plural = _("Open311 上报")
        indexes = [models.Index(fields=["api_key", "created_at"], name="open311_submission_key_idx")]

    def __str__(self) -> str:
        return self.token


class PublicText(models.Model):
    """How a report shows on the public map (docs/public-figures.md): hidden, or with the words staff
    approved for publication. A report without a row shows its category and state only, never what
    the reporter typed: approving a text is a person's decision, logged in ``PublicTextLog``."""

    case = models.OneToOneField(Case, models.CASCADE, related_name="public_text")
    hidden = models.BooleanField(_("不在公开地图显示"), default=False)
    text = models.CharField(_("公开说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("修改时间"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                   verbose_name=_("修改人"))

    class Meta:
        verbose_name = _("公开地图文字")
        verbose_name_plural = _("公开地图文字")

    def __str__(self) -> str:
        return f"{self.case_id}: {'hidden' if self.hidden else self.text[:30]}"


class PublicTextLog(models.Model):
    """One moderation of a report's public text: who, when, and the state before and after."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("操作人"))
    at = models.DateTimeField(_("时间"))
    hidden_before = models.BooleanField(_("修改前隐藏"))
    hidden_after = models.BooleanField(_("修改后隐藏"))
    text_before = models.CharField(_("修改前文字"), max_length=200, blank=True)
    text_after = models.CharField(_("修改后文字"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("公开地图审核记录")
        verbose_name_plural = _("公开地图审核记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["case", "at"], name="open311_pubtextlog_case_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} @ {self.at:%Y-%m-%d %H:%M}"
