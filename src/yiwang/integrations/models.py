"""Outbound webhooks and Open311 forwarding: what other systems hear of cases (docs/integrations.md)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Region


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Subscription(models.Model):
    """An endpoint that is told of case events of some actions in a region and below."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    url = models.URLField(_("接收地址"), max_length=500)
    # Shared with the receiver once, when the subscription is made; it signs every delivery.
    secret = models.CharField(_("签名密钥"), max_length=100, default=new_secret)
    # Action names (submit, dispatch, close, …); empty: every action.
    actions = models.JSONField(_("事件类型"), default=list, blank=True)
    # Empty: every region.
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("区域（含下级）"))
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("事件推送订阅")
        verbose_name_plural = _("事件推送订阅")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("失败待重试")
    DEAD = "dead", _("已放弃")


class Delivery(models.Model):
    """One event for one subscription. Its ``delivery_id`` and ``body`` never change: every attempt
    and every replay sends the same bytes under the same id, so a receiver can drop repeats."""

    delivery_id = models.CharField(max_length=40, unique=True)
    subscription = models.ForeignKey(Subscription, models.CASCADE, related_name="deliveries")
    case_id = models.BigIntegerField(db_index=True)
    seq = models.PositiveIntegerField()
    action = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("事件推送")
        verbose_name_plural = _("事件推送")
        constraints = [models.UniqueConstraint(fields=["subscription", "case_id", "seq"],
                                               name="integrations_delivery_once_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="integrations_delivery_due")]

    def __str__(self) -> str:
        return self.delivery_id


class Attempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    delivery = models.ForeignKey(Delivery, models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"


class ForwardingRule(models.Model):
    """Cases of chosen matters in a region and below go to another Open311 GeoReport v2 server."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    base_url = models.URLField(_("Open311 地址"), max_length=500,
                               help_text=_("如 https://example.gov.cn/open311/v2（不含 requests.json）"))
    jurisdiction_id = models.CharField(_("jurisdiction_id"), max_length=100, blank=True)
    api_key = models.CharField(_("api_key"), max_length=200)
    # Local matter code → the remote server's service_code.
    service_codes = models.JSONField(_("服务代码对照"), default=dict)
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("区域（含下级）"))
    pull_minutes = models.PositiveIntegerField(_("拉取间隔（分钟）"), default=10)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("Open311 转发规则")
        verbose_name_plural = _("Open311 转发规则")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ForwardStatus(models.TextChoices):
    PENDING = "pending", _("待转发")
    FORWARDED = "forwarded", _("已转发")
    FAILED = "failed", _("转发失败待重试")
    CLOSED = "closed", _("对方已办结")
    DEAD = "dead", _("已放弃")


class Forwarded(models.Model):
    """A case sent (or to be sent) to a rule's server, and what that server last said of it."""

    case = models.OneToOneField("cases.Case", models.CASCADE, related_name="forwarded")
    rule = models.ForeignKey(ForwardingRule, models.PROTECT, related_name="cases")
    status = models.CharField(max_length=10, choices=ForwardStatus.choices, default=ForwardStatus.PENDING)
    service_request_id = models.CharField(_("对方编号"), max_length=100, blank=True)
    # GeoReport v2 lets a server answer a POST with a token only, and the id later (tokens/{token}).
    token = models.CharField(max_length=100, blank=True)
    remote_status = models.CharField(max_length=20, blank=True)
    remote_notes = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    pulled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("Open311 转发记录")
        verbose_name_plural = _("Open311 转发记录")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="integrations_forward_due")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.service_request_id or '?'}"
