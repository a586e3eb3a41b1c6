"""Webhooks: subscribe, deliver what is due, replay. Every write is one transaction.

Delivery follows the outbox's design (yiwang.messages.services.deliver_due): a row is claimed with a
lease and committed before the network is touched, and its outcome is recorded after, each in its
own transaction. Unlike an SMS, a webhook may be sent again safely: every attempt carries the same
delivery id and body, and the receiver drops an id it has already processed (docs/integrations.md).
So a row whose worker died mid-send is simply claimed again (at least once), and a row recorded as
delivered (a 2xx) is never sent again by the worker (at most once per success); only a replay
asked for by a person sends it again, still under its id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import logging
import os
import secrets
import socket
import ssl
import time
import urllib.parse
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.cases.workflows import SYSTEM_ACTIONS, WORKFLOWS
from yiwang.core import clock, confcache
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.text import check_text
from yiwang.integrations.hooks import CACHE
from yiwang.integrations.models import Attempt, Delivery, DeliveryStatus, Subscription
from yiwang.org.models import Region

log = logging.getLogger("yiwang.integrations")

WAITING = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
SIGNATURE_HEADER = "X-Yiwang-Signature"
TIMESTAMP_HEADER = "X-Yiwang-Timestamp"
DELIVERY_HEADER = "X-Yiwang-Delivery"


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("YIWANG_WEBHOOK_MAX_ATTEMPTS", 20))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s doubled each time, at most an hour.

    With 20 attempts a receiver may be down for about 13 hours and still get everything."""
    base = float(_setting("YIWANG_WEBHOOK_BACKOFF_SECONDS", 30))
    cap = float(_setting("YIWANG_WEBHOOK_BACKOFF_MAX_SECONDS", 3600))
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "timestamp.body" with the subscription's secret, hex, prefixed "sha256="."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver checks (docs/integrations.md has the same in a few lines): the signature, and
    a timestamp within ``tolerance`` seconds so a captured request cannot be played again later."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- subscriptions -------------------------------------------------------------------------------

def known_actions() -> set[str]:
    names = {"submit", *SYSTEM_ACTIONS}
    for wf in WORKFLOWS.values():
        names.update(wf.actions)
    return names


def subscription_add(*, name: str, url: str, actions: list[str] | None = None, region_code: str | None = None,
                     secret: str | None = None) -> Subscription:
    """Subscribe ``url`` to events of ``actions`` (none: all) in ``region_code`` and below (none: all).
    The secret is generated unless given; it is shown once to whoever made the subscription."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("请填写订阅名称（不超过 100 个字）。"), field="name")
    check_text(name, field="name")  # a NUL or other control character: refused by field, on every database
    try:
        URLValidator(schemes=["http", "https"])(url or "")
    except DjangoValidationError:
        raise ValidationFailed(_("接收地址须为 http(s):// 开头的网址。"), field="url") from None
    actions = sorted({a.strip() for a in (actions or []) if a.strip()})
    unknown = set(actions) - known_actions()
    if unknown:
        raise ValidationFailed(_("没有这种事件类型：%(names)s。") % {"names": "、".join(sorted(unknown))},
                               field="actions")
    region = None
    if region_code:
        region = Region.objects.filter(code=region_code).first()
        if region is None:
            raise ValidationFailed(_("没有区划代码为 %(code)s 的区域。") % {"code": region_code}, field="region")
    with transaction.atomic():
        if Subscription.objects.filter(name=name).exists():
            raise ValidationFailed(_("已有同名订阅。"), field="name")
        sub = Subscription.objects.create(name=name, url=url, actions=actions, region=region,
                                          secret=secret or secrets.token_urlsafe(32))
        confcache.bump(CACHE)
    return sub


def subscription_set_active(*, name: str, active: bool) -> Subscription:
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(name=name).first()
        if sub is None:
            raise NotFound(_("没有这个订阅。"), field="name")
        sub.active = active
        sub.save(update_fields=["active"])
        confcache.bump(CACHE)
    return sub


def config_changed() -> None:
    """Call inside the transaction of any other change to subscriptions or forwarding rules (the admin)."""
    confcache.bump(CACHE)


def replay(*, delivery_ids: list[str] | None = None, subscription: str | None = None,
           since: dt.datetime | None = None, status: str | None = None) -> int:
    """Queue deliveries again, now, under their own ids and bodies: those named, or a subscription's
    (since a moment, of a status). A receiver that dedupes by id processes each one at most once; one
    that lost its data takes them again. Returns how many were queued."""
    rows: QuerySet[Delivery] = Delivery.objects.all()
    if delivery_ids:
        rows = rows.filter(delivery_id__in=delivery_ids)
    elif subscription:
        rows = rows.filter(subscription__name=subscription)
    else:
        raise ValidationFailed(_("请指定推送编号或订阅名称。"), field="delivery")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if status:
        rows = rows.filter(status=status)
    with transaction.atomic():
        # A row being sent right now keeps its lease; it is delivered by its worker anyway.
        return rows.exclude(status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING, next_attempt_at=clock.now(), attempts=0, last_error="")


# --- delivery ------------------------------------------------------------------------------------

def _abandoned_q(now: dt.datetime) -> Q:
    return Q(status=DeliveryStatus.SENDING, claimed_until__lt=now)


def _due_q(now: dt.datetime) -> Q:
    # An abandoned row is due again at once: resending under the same id is safe (see the module doc).
    return Q(status__in=WAITING, next_attempt_at__lte=now) | _abandoned_q(now)


def _claim_one(busy: set[int] = frozenset()) -> Delivery | None:
    """Lease the next due delivery of a subscription not in ``busy`` (one with a POST in flight)."""
    now = clock.now()
    due = Delivery.objects.filter(_due_q(now)).exclude(subscription_id__in=busy)
    if not due.exists():  # no write transaction when idle (SQLite)
        return None
    with transaction.atomic():
        rows = due.order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        row = rows.select_related("subscription").first()
        if row is None:
            return None
        row.status = DeliveryStatus.SENDING
        row.attempts += 1
        row.claimed_by = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        row.claimed_until = now + dt.timedelta(seconds=float(_setting("YIWANG_WEBHOOK_LEASE_SECONDS", 120)))
        row.save(update_fields=["status", "attempts", "claimed_by", "claimed_until"])
    return row


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


def post(url: str, secret: str, delivery_id: str, body: bytes, *, timeout: float,
         connect_timeout: float | None = None) -> Outcome:
    """One signed POST. A 2xx is success; anything else, or no answer, is a failure to retry.

    ``connect_timeout`` bounds the TCP (and TLS) handshake, ``timeout`` each wait for the receiver
    after it: a receiver that is down fails in seconds, one that is slow to answer at ``timeout``."""
    if not url.startswith(("http://", "https://")):  # the admin's URL field also admits ftp://
        return Outcome(ok=False, status_code=None, error="the URL must start with http:// or https://", duration_ms=0)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "yiwang-webhooks/1",
        SIGNATURE_HEADER: sign(secret, timestamp, body), TIMESTAMP_HEADER: timestamp, DELIVERY_HEADER: delivery_id,
    }
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    code, error = None, ""
    conn: http.client.HTTPConnection | None = None
    try:
        connect = connect_timeout if connect_timeout is not None else timeout
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=connect,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=connect)
        conn.connect()
        conn.sock.settimeout(timeout)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        code = response.status
        response.read(1024)
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except Exception as exc:  # refused, reset, timed out, bad name: the receiver is not there yet
        error = f"{type(exc).__name__}: {exc}"
    finally:
        if conn is not None:
            conn.close()
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(ok=code is not None and 200 <= code < 300, status_code=code, error=error[:500],
                   duration_ms=duration)


def _send(row: Delivery) -> Outcome:
    """The POST of one claimed delivery; no database access (it runs in the pool's threads)."""
    sub = row.subscription
    return post(sub.url, sub.secret, row.delivery_id, row.body.encode(),
                timeout=float(_setting("YIWANG_WEBHOOK_TIMEOUT_SECONDS", 10)),
                connect_timeout=float(_setting("YIWANG_WEBHOOK_CONNECT_TIMEOUT_SECONDS", 5)))


def _record(row: Delivery, outcome: Outcome) -> str:
    sub = row.subscription
    now = clock.now()
    if outcome.ok:
        fields = {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": ""}
    elif row.attempts >= max_attempts():
        fields = {"status": DeliveryStatus.DEAD, "last_error": outcome.error}
    else:
        fields = {"status": DeliveryStatus.FAILED, "last_error": outcome.error,
                  "next_attempt_at": now + backoff(row.attempts)}
    with transaction.atomic():
        Attempt.objects.create(delivery=row, at=now, status_code=outcome.status_code,
                               duration_ms=outcome.duration_ms, error=outcome.error, ok=outcome.ok)
        # Still ours: a worker whose lease was taken over does not overwrite the new holder's outcome.
        recorded = Delivery.objects.filter(pk=row.pk, claimed_by=row.claimed_by,
                                           status=DeliveryStatus.SENDING).update(claimed_until=None, **fields)
    if not recorded:
        log.warning("webhooks: delivery %s was taken over before its outcome was recorded", row.delivery_id)
    if fields["status"] == DeliveryStatus.DEAD:
        log.warning("webhooks: gave up on delivery %s to %s after %s attempts: %s", row.delivery_id, sub.name,
                    row.attempts, outcome.error)
    return str(fields["status"])


def deliver_due(*, batch: int = 100, max_seconds: float = 60.0) -> Counter:
    """Send up to ``batch`` due deliveries; how many were claimed and each outcome.

    The POSTs run in a small pool (YIWANG_WEBHOOK_WORKERS threads), at most one at a time per
    subscription: a slow or hanging receiver holds one thread for at most its timeout, and every other
    receiver's deliveries go on through the rest. The database is touched only from this thread (claims
    and outcomes), so the pool needs no connections of its own. New claims stop after ``max_seconds``,
    so the worker's round also gets to its Open311 work; what is left is due in the next round."""
    counts: Counter = Counter()
    workers = max(1, int(_setting("YIWANG_WEBHOOK_WORKERS", 4)))
    started = time.monotonic()
    in_flight: dict[Future, Delivery] = {}
    busy: set[int] = set()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") as pool:
        while True:
            while (counts["claimed"] < batch and len(in_flight) < workers
                   and time.monotonic() - started < max_seconds):
                row = _claim_one(busy)
                if row is None:
                    break
                counts["claimed"] += 1
                busy.add(row.subscription_id)
                in_flight[pool.submit(_send, row)] = row
            if not in_flight:
                break
            done, _pending = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                row = in_flight.pop(future)
                busy.discard(row.subscription_id)
                counts[_record(row, future.result())] += 1
    return counts


def purge_old(*, now: dt.datetime | None = None, chunk: int = 1000) -> int:
    """Delete deliveries delivered or given up on more than YIWANG_WEBHOOK_KEEP_DAYS ago, with their
    attempt logs, a chunk per transaction; None keeps them for ever. Waiting ones are never purged."""
    days = _setting("YIWANG_WEBHOOK_KEEP_DAYS", 30)
    if days is None:
        return 0
    cutoff = (now or clock.now()) - dt.timedelta(days=float(days))
    old = Delivery.objects.filter(status__in=(DeliveryStatus.DELIVERED, DeliveryStatus.DEAD), created_at__lt=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(old.order_by("pk").values_list("pk", flat=True)[:chunk])
            if not ids:
                break
            Attempt.objects.filter(delivery__in=ids).delete()
            total += Delivery.objects.filter(pk__in=ids).delete()[1].get("integrations.Delivery", 0)
    if total:
        log.info("webhooks: purged %s deliveries delivered or given up before %s", total, cutoff.isoformat())
    return total
