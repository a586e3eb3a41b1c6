"""Every write of the outbox: queue a message, deliver what is due, settle what a human checked.

The guarantees and the crash rule are described in docs/messages.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.messages import texts
from yiwang.messages.channels import Channel as MessageChannel
from yiwang.messages.channels import PermanentError, RetryableError, channel_for
from yiwang.messages.models import Channel, ChannelPreference, Message, Status
from yiwang.org.services import mobile_number

log = logging.getLogger("yiwang.messages")

# Due for an attempt: never tried yet, or failed and its backoff is over.
WAITING = (Status.PENDING, Status.FAILED)


# Set while history is being written (the demo's past, a replay): nobody is told of what happened
# then, and a delivery run must not send years of notices at once.
_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("yiwang_messages_quiet", default=False)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Inside, ``enqueue`` queues nothing and returns None."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def enqueue(*, channel: str, text: str, dedupe_key: str, to: str = "", subject: str = "", resident=None,
            user=None, not_before: dt.datetime | None = None, urgent: bool = True) -> Message | None:
    """Queue one message to one recipient on one channel, in the caller's transaction.

    Call it inside the transaction that writes the event the message is about: if that rolls back,
    the message was never queued; if it commits, the worker will deliver it. ``dedupe_key`` names the
    event, the person and the channel (e.g. "case:12:3:resident:7:sms"); queuing the same key again
    returns the row already queued and queues nothing. An in-app message (``resident`` or ``user``)
    is delivered by being written: it is "sent" at once and the worker never touches it.
    An SMS that is not ``urgent`` and is queued in the quiet hours waits until they end (quiet_until).
    """
    if _quiet.get():
        return None
    if channel not in Channel.values:
        raise ValueError(f"no message channel {channel!r}")
    inapp = channel == Channel.INAPP
    if inapp and resident is None and user is None:
        raise ValueError("an in-app message needs a resident or a user")
    if not inapp and not to:
        raise ValueError(f"a {channel} message needs an address")
    if not dedupe_key:
        raise ValueError("a message needs a dedupe key")
    if inapp and not to:
        to = f"resident:{resident.pk}" if resident is not None else f"user:{user.pk}"
    now = clock.now()
    if channel == Channel.SMS and not urgent:
        not_before = quiet_until(not_before or now) or not_before
    row = Message(channel=channel, to=to, resident=resident, user=user, subject=subject, text=text,
                  dedupe_key=dedupe_key, idempotency_id=uuid.uuid4().hex,
                  status=Status.SENT if inapp else Status.PENDING, next_attempt_at=not_before or now,
                  sent_at=now if inapp else None, created_at=now)
    if channel == Channel.SMS:
        row.segments = texts.segments(text)  # what the resident receives and the provider bills
    try:
        # A savepoint only (or a transaction of its own when the caller has none): a duplicate key
        # rolls back this insert, not the caller's work.
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        existing = Message.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:  # another constraint: a real error
            raise
        return existing
    return row


def quiet_until(at: dt.datetime) -> dt.datetime | None:
    """When the quiet hours (settings.YIWANG_QUIET_HOURS, local time, e.g. "22:00-07:00") that ``at``
    falls in end, or None outside them. Nobody is woken by a routine SMS; it goes at their end."""
    window = (settings.YIWANG_QUIET_HOURS or "").strip()
    if not window:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in window.split("-"))
    local = timezone.localtime(at)
    moment = local.time()
    inside = start <= moment < end if start <= end else (moment >= start or moment < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:  # in the evening part of a window that spans midnight: tomorrow morning
        ends += dt.timedelta(days=1)
    return ends


def deliver_due(*, batch: int = 100) -> Counter:
    """Deliver up to ``batch`` due messages, one at a time; how many were claimed and each outcome.

    Each message is claimed (status "sending", a lease with this worker's token) and committed
    before its channel is called, and its outcome is recorded after, each in its own transaction.
    """
    counts: Counter = Counter()
    now = clock.now()
    if not Message.objects.filter(Q(status__in=WAITING, next_attempt_at__lte=now) | _abandoned_q(now)).exists():
        return counts  # idle: one read, and no channel (a provider's SDK client) is built
    channels = _channels()
    # A channel that cannot be built (a provider named without its settings) counts as one that
    # cannot drop repeats: its abandoned rows are left unknown, its attempts fail and are retried.
    idempotent = {name: getattr(channel, "idempotent", False) for name, channel in channels.items()}
    counts.update(_settle_abandoned(idempotent))
    for _turn in range(batch):
        row = _claim_one(idempotent)
        if row is None:
            break
        counts["claimed"] += 1
        counts[_attempt(row, channels[row.channel])] += 1
    return counts


def _channels() -> dict[str, MessageChannel | Exception]:
    channels: dict[str, MessageChannel | Exception] = {}
    for name in Channel.values:
        try:
            channels[name] = channel_for(name)
        except Exception as exc:
            log.error("messages: the %s channel is not usable: %s", name, exc)
            channels[name] = exc
    return channels


def _token() -> str:
    # Who holds a lease, for logs and `yiwang messages list --json`; unique per claim, so a worker
    # whose lease was taken over cannot overwrite the outcome the new holder records.
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _abandoned_q(now: dt.datetime) -> Q:
    return Q(status=Status.SENDING, claimed_until__lt=now)


def _settle_abandoned(idempotent: dict[str, bool]) -> Counter:
    """Rows whose worker stopped mid-send (its lease ran out). On a channel that drops repeats of an
    idempotency id they are simply claimed again (_claim_one); on any other they may or may not
    have gone out, so they become "unknown" and are never sent again by themselves. A row that has
    been abandoned on its last allowed attempt is given up ("dead"), so a message that kills its
    worker cannot kill every worker after it."""
    now = clock.now()
    abandoned = Message.objects.filter(_abandoned_q(now))
    blind = [name for name, safe in idempotent.items() if not safe]
    counts: Counter = Counter()
    # Looked at first without a transaction: on SQLite a write transaction takes the database's one
    # write lock, and every worker asks this every second.
    if not abandoned.exists():
        return counts
    with transaction.atomic():
        counts["unknown"] = abandoned.filter(channel__in=blind).update(
            status=Status.UNKNOWN, claimed_until=None,
            last_error="worker stopped mid-send: it may or may not have gone out; not sent again")
        counts["dead"] = abandoned.filter(attempts__gte=settings.YIWANG_MESSAGE_MAX_ATTEMPTS).update(
            status=Status.DEAD, claimed_until=None, last_error="worker stopped mid-send on the last attempt")
    if counts["unknown"]:
        log.warning("messages: %s left unknown by a worker that stopped mid-send (yiwang messages list "
                    "--status unknown)", counts["unknown"])
    return +counts


def _claim_one(idempotent: dict[str, bool]) -> Message | None:
    now = clock.now()
    retake = [name for name, safe in idempotent.items() if safe]
    due = Q(status__in=WAITING, next_attempt_at__lte=now) | (_abandoned_q(now) & Q(channel__in=retake))
    if not Message.objects.filter(due).exists():  # nothing due: no write transaction (see above)
        return None
    with transaction.atomic():
        rows = Message.objects.filter(due).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            # PostgreSQL: workers side by side each take another row instead of queueing on one.
            # (SQLite takes the write lock at BEGIN IMMEDIATE: one claimer at a time anyway.)
            rows = rows.select_for_update(skip_locked=True)
        row = rows.first()
        if row is None:
            return None
        row.status = Status.SENDING
        row.attempts += 1
        row.claimed_by = _token()
        row.claimed_until = now + dt.timedelta(seconds=settings.YIWANG_MESSAGE_LEASE_SECONDS)
        row.save(update_fields=["status", "attempts", "claimed_by", "claimed_until"])
    return row


def _attempt(row: Message, channel: MessageChannel | Exception | None = None) -> str:
    """Hand a claimed row to its channel and record what came of it: "sent", "failed" or "dead"."""
    error = ""
    try:
        if channel is None:
            channel = channel_for(row.channel)
        if isinstance(channel, Exception):
            raise channel
        provider_id = channel.send(to=row.to, subject=row.subject, text=row.text, idempotency_id=row.idempotency_id)
    except PermanentError as exc:
        status, error = Status.DEAD, f"permanent: {exc}"
    except Exception as exc:  # RetryableError, and anything unforeseen: try again after a while
        if not isinstance(exc, RetryableError):
            log.exception("messages: %s channel raised on message %s", row.channel, row.pk)
        status = Status.DEAD if row.attempts >= settings.YIWANG_MESSAGE_MAX_ATTEMPTS else Status.FAILED
        error = f"{type(exc).__name__}: {exc}"
    else:
        status = Status.SENT
    now = clock.now()
    fields = {"status": status, "claimed_until": None, "last_error": error[:500]}
    if status == Status.SENT:
        fields.update(sent_at=now, provider_id=str(provider_id or "")[:200])
    elif status == Status.FAILED:
        fields["next_attempt_at"] = now + backoff(row.attempts)
    with transaction.atomic():
        # Still ours: also when a slow send outlived its lease and the row was marked unknown
        # meanwhile, since this worker knows the outcome. Not when another worker re-took it.
        recorded = Message.objects.filter(pk=row.pk, claimed_by=row.claimed_by,
                                          status__in=[Status.SENDING, Status.UNKNOWN]).update(**fields)
    if not recorded:
        log.warning("messages: message %s was taken over by another worker before its outcome (%s) "
                    "was recorded", row.pk, status)
    if status == Status.DEAD:
        log.warning("messages: gave up on message %s (%s) after %s attempts: %s", row.pk, row.channel,
                    row.attempts, error)
    return str(status)


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt: doubling from the base, capped, and
    up to a tenth longer at random, so the messages a provider's outage held back do not all come
    back in the same second."""
    base = settings.YIWANG_MESSAGE_RETRY_BASE_SECONDS
    wait = min(base * 2 ** max(attempts - 1, 0), settings.YIWANG_MESSAGE_RETRY_CAP_SECONDS)
    return dt.timedelta(seconds=wait * random.uniform(1.0, 1.1))


@transaction.atomic
def resend(*, message_id: int) -> Message:
    """Queue again a message that was given up or left unknown, once someone has checked that it
    did not arrive (for an unknown one, that is the whole point of the status): a fresh set of attempts."""
    row = Message.objects.select_for_update().get(pk=message_id)
    if row.status not in (Status.UNKNOWN, Status.DEAD, Status.FAILED):
        raise ValueError(f"message {message_id} is {row.status}: only unknown, dead or failed ones are sent again")
    row.status, row.attempts, row.next_attempt_at = Status.PENDING, 0, clock.now()
    row.claimed_by, row.claimed_until = "", None
    row.save(update_fields=["status", "attempts", "next_attempt_at", "claimed_by", "claimed_until"])
    return row


@transaction.atomic
def confirm_sent(*, message_id: int) -> Message:
    """Record that an unknown message did arrive (someone checked the mailbox or the provider's log)."""
    row = Message.objects.select_for_update().get(pk=message_id)
    if row.status != Status.UNKNOWN:
        raise ValueError(f"message {message_id} is {row.status}: only unknown ones are confirmed")
    row.status, row.sent_at = Status.SENT, clock.now()
    row.save(update_fields=["status", "sent_at"])
    return row


@transaction.atomic
def mark_read(*, message_id: int, resident_id: int | None = None, user_id: int | None = None) -> bool:
    """The recipient opened an in-app message; only its own recipient can mark it."""
    rows = Message.objects.filter(pk=message_id, channel=Channel.INAPP, read_at__isnull=True)
    if resident_id is not None:
        rows = rows.filter(resident_id=resident_id)
    elif user_id is not None:
        rows = rows.filter(user_id=user_id)
    else:
        return False
    return bool(rows.update(read_at=clock.now()))


# --- staff channel preferences (docs/messages.md "Staff messages") -------------------------------

ADDRESSED = (Channel.SMS, Channel.EMAIL)  # the channels a preference may add; in-app is always on


@transaction.atomic
def preference_save(*, user_id: int, phone: str, email: str, channels: dict[str, list[str]]) -> ChannelPreference:
    """Store how a staff member wants to hear of each kind (``channels``: kind → chosen channels) and
    the addresses they go to. A number or address that is not one, or a channel chosen without its
    address, is refused beside that address's field."""
    phone, email = (phone or "").strip(), (email or "").strip()
    if phone:
        phone = mobile_number(phone, field="phone")
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(_("请填写有效的电子邮箱地址。"), field="email") from None
    if len(email) > 254:
        raise ValidationFailed(_("电子邮箱地址太长。"), field="email")
    chosen = {kind: sorted(set(names)) for kind, names in channels.items()}
    for names in chosen.values():
        if not set(names) <= set(ADDRESSED):
            raise ValueError(f"no channel a preference may choose among {names!r}")
    if not phone and any(Channel.SMS in names for names in chosen.values()):
        raise ValidationFailed(_("选择了短信通知，请填写手机号。"), field="phone")
    if not email and any(Channel.EMAIL in names for names in chosen.values()):
        raise ValidationFailed(_("选择了邮件通知，请填写电子邮箱。"), field="email")
    preference, _created = ChannelPreference.objects.update_or_create(
        user_id=user_id, defaults={"phone": phone, "email": email, "channels": chosen, "updated_at": clock.now()})
    return preference
