"""The outbox: one row per message to one recipient on one channel (docs/messages.md).

A row is written in the same transaction as the event that causes it (services.enqueue), and the
worker delivers it afterwards (services.deliver_due). The row is also the record of the outcome.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from yiwang.org.models import Resident


class Channel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("电子邮件")
    INAPP = "inapp", _("站内消息")


class Status(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败，待重试")
    DEAD = "dead", _("已放弃")
    # A worker died while handing the row to a channel that cannot tell a repeat from a new message
    # (SMTP): it may or may not have gone out. Never re-sent by itself; someone checks and decides.
    UNKNOWN = "unknown", _("结果不明，待核实")


class ChannelPreference(models.Model):
    """How one staff member wants to hear of each kind of case notification besides the workbench's
    list (in-app, always on): by SMS, by e-mail, both or neither (docs/messages.md "Staff messages").

    The kinds are the case engine's notification kinds; this app only stores them. A kind not in
    ``channels`` gets the engine's default for it, so a person who never saved the page is covered."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="channel_preference")
    # Staff accounts carry no mobile number of their own; the SMS go here.
    phone = models.CharField(_("手机号"), max_length=11, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    # {kind: ["sms", "email"]}: the channels chosen for that kind, [] for the workbench only.
    channels = models.JSONField(default=dict)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("通知渠道偏好")
        verbose_name_plural = _("通知渠道偏好")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.channels}"


class Message(models.Model):
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    # The address the channel sends to: a mobile number (sms), an e-mail address (email); for in-app
    # messages a readable label of the recipient, who is the resident or the user below.
    to = models.CharField(_("收件人"), max_length=254)
    resident = models.ForeignKey(Resident, models.CASCADE, null=True, blank=True, related_name="+",
                                 db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, null=True, blank=True, related_name="+",
                             db_index=False)
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    text = models.TextField(_("内容"))
    # What made this message, per person and channel, e.g. "case:<id>:<event seq>:<person>:<channel>":
    # the same event never queues two messages to one person on one channel.
    dedupe_key = models.CharField(max_length=200, unique=True)
    # Given to the channel with every attempt: a provider that honours it sends a repeat once only.
    idempotency_id = models.CharField(max_length=32, unique=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # The lease of the worker that is sending it (status sending): who and until when.
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)  # in-app messages: when the recipient opened it
    # SMS: how many 70/67-character segments the text (with the signature) is billed as; 1 otherwise.
    segments = models.PositiveSmallIntegerField(_("短信条数"), default=1)

    class Meta:
        indexes = [
            # The worker's question: what is due now (pending or failed), and whose lease ran out (sending).
            models.Index(fields=["status", "next_attempt_at"], name="messaging_due"),
            models.Index(fields=["to", "created_at"], name="messaging_to"),
            models.Index(fields=["resident", "created_at"], name="messaging_resident",
                         condition=models.Q(resident__isnull=False)),
            models.Index(fields=["user", "created_at"], name="messaging_user",
                         condition=models.Q(user__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(channel="inapp") | models.Q(resident__isnull=False) | models.Q(user__isnull=False),
                name="messaging_inapp_has_recipient"),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.to} {self.status}"


class MessageTemplate(models.Model):
    """The text a resident is sent at one event (docs/messages.md "Templates"): per event, optionally
    per matter (which overrides the general one), language and channel ("" = every channel).

    The text names variables as ``{case_number}`` from one fixed set (yiwang.messages.texts); a row
    that names anything else, or would not render, is refused by clean() and by save() itself, so
    neither the admin nor a script or the shell can store a broken one."""

    event = models.CharField(_("事件"), max_length=40)
    matter = models.ForeignKey("catalog.Matter", models.CASCADE, null=True, blank=True, related_name="+",
                               verbose_name=_("事项"), help_text=_("留空则用于所有事项；指定事项的模板优先。"))
    language = models.CharField(_("语言"), max_length=10, default="zh-hans")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, blank=True,
                               help_text=_("留空则用于所有渠道；短信宜短，站内消息可以长一些。"))
    text = models.TextField(_("内容"))
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("消息模板")
        verbose_name_plural = _("消息模板")
        constraints = [
            # NULL matters are distinct in a plain unique constraint, so the general row has its own.
            models.UniqueConstraint(fields=["event", "language", "channel"], condition=models.Q(matter__isnull=True),
                                    name="messages_template_general"),
            models.UniqueConstraint(fields=["event", "matter", "language", "channel"],
                                    condition=models.Q(matter__isnull=False), name="messages_template_matter"),
        ]

    def __str__(self) -> str:
        return f"{self.event}/{self.matter_id or '*'}/{self.language}/{self.channel or '*'}"

    def save(self, *args, **kwargs) -> None:
        # Checked here too, not only in forms: a template saved from a script must render as well.
        self.full_clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from yiwang.messages import texts

        if self.event not in texts.DEFAULTS:
            raise ValidationError({"event": _("没有名为“%(event)s”的消息事件；可用的有：%(known)s。")
                                   % {"event": self.event, "known": ", ".join(texts.DEFAULTS)}})
        self.language = (self.language or "").lower()
        if self.language not in {code for code, _name in settings.LANGUAGES}:
            raise ValidationError({"language": _("不支持的语言“%(language)s”。") % {"language": self.language}})
        texts.check(self.text)

