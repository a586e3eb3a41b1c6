"""How a message leaves: one small interface per channel, the backend chosen by settings.

An SMS provider adapter (Alibaba Cloud, Tencent Cloud, …) is a class with

    idempotent: bool
    def send(self, to: str, text: str, *, idempotency_id: str) -> str   # the provider's message id

that raises RetryableError (try again later: a timeout, throttling, the provider is down) or
PermanentError (never: an invalid number, a refused template). Any other exception counts as
retryable. ``idempotent`` is True only if the provider de-duplicates on ``idempotency_id`` (a
client-side id the provider remembers): then a message whose worker died mid-send is sent again with
the same id and the provider drops the repeat. Otherwise such a message is left "unknown" and never
sent twice (docs/messages.md, "After a crash"). The providers' adapters live in yiwang.messages.sms
and are chosen by YIWANG_SMS_PROVIDER (docs/sms.md); any other class can be named by its dotted path
in YIWANG_SMS_BACKEND. Either is built with no arguments and reads its own settings.
"""

from __future__ import annotations

import fcntl
import json
import os
import smtplib
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone
from django.utils.module_loading import import_string

from yiwang.core import clock
from yiwang.messages import texts


class DeliveryError(Exception):
    """A channel refused or failed to take a message."""


class RetryableError(DeliveryError):
    """Try again later: a timeout, throttling, the server or provider is unavailable."""


class PermanentError(DeliveryError):
    """Trying again cannot help: an invalid address, a refused message."""


class SmsBackend(Protocol):
    idempotent: bool

    def send(self, to: str, text: str, *, idempotency_id: str) -> str: ...


class Channel(Protocol):
    # Whether a repeat send with the same idempotency id is dropped by the receiving side.
    idempotent: bool

    def send(self, *, to: str, subject: str, text: str, idempotency_id: str) -> str: ...


class FileSms:
    """SMS written to a file, one JSON object a line: the demo and the tests, and any installation
    with no provider configured. `yiwang messages list` reads the outbox, not this file.

    Idempotent like a provider with client-side ids: a line with the same idempotency id is never
    written twice (the check and the append hold an exclusive lock on the file).
    """

    idempotent = True

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path or getattr(settings, "YIWANG_SMS_FILE", "") or settings.VAR_DIR / "messages" / "sms.jsonl")

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            for line in f:
                if f'"{idempotency_id}"' in line and json.loads(line).get("id") == idempotency_id:
                    return idempotency_id  # sent before by a worker that died before recording it
            f.seek(0, os.SEEK_END)
            # As the handset shows it: the signature first (a provider adds its own, docs/messages.md).
            signed = texts.signature() + text
            f.write(json.dumps({"id": idempotency_id, "to": to, "text": signed, "segments": texts.segments(text),
                                "at": timezone.localtime(clock.now()).isoformat(timespec="seconds")}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return idempotency_id


SMS_BACKENDS = {"file": FileSms}


class SmsChannel:
    """Hands an SMS to its backend. A text longer than one SMS goes as one long (concatenated) SMS
    where the backend can send one (both providers and the file channel; the default), else as
    numbered parts "(1/3)…" that each fit one SMS with the signature (``concatenates = False``),
    each part with its own idempotency id derived from the message's."""

    def __init__(self, backend: SmsBackend):
        self.backend = backend
        self.idempotent = bool(getattr(backend, "idempotent", False))
        self.concatenates = bool(getattr(backend, "concatenates", True))

    def send(self, *, to: str, subject: str, text: str, idempotency_id: str) -> str:
        if self.concatenates:
            return self.backend.send(to, text, idempotency_id=idempotency_id)
        parts = texts.split(text)
        if len(parts) == 1:
            return self.backend.send(to, text, idempotency_id=idempotency_id)
        # A retry after a failed part sends every part again: an idempotent backend drops the ones it
        # had, any other may repeat a part (never the whole message twice by itself: see "After a crash").
        ids = [self.backend.send(to, part, idempotency_id=f"{idempotency_id}-{i}") for i, part in enumerate(parts, 1)]
        return ",".join(ids)


class EmailChannel:
    """E-mail through Django's configured backend (SMTP: EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, …).

    Not idempotent: once the DATA command is sent, an SMTP client that hears no answer cannot know
    whether the server took the message, and nothing stops a second copy.
    """

    idempotent = False

    def send(self, *, to: str, subject: str, text: str, idempotency_id: str) -> str:
        domain = settings.YIWANG_EMAIL_ID_DOMAIN
        message_id = f"<{idempotency_id}@{domain}>"
        # A timeout well inside the worker's lease: a hung server costs an attempt, not a stuck row.
        connection = get_connection(fail_silently=False, timeout=settings.YIWANG_EMAIL_TIMEOUT)
        mail = EmailMessage(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
                            headers={"Message-ID": message_id}, connection=connection)
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentError(f"recipient refused: {codes}") from exc
            raise RetryableError(f"recipient deferred: {codes}") from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final no; 4xx asks us to come back later.
            error = PermanentError if 500 <= exc.smtp_code < 600 else RetryableError
            raise error(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused connections, timeouts
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        return message_id


class InAppChannel:
    """The row itself is the message: the recipient reads it in yiwang (selectors.inbox). Delivered
    when it is queued (services.enqueue), so the worker never sends one; kept for completeness."""

    idempotent = True

    def send(self, *, to: str, subject: str, text: str, idempotency_id: str) -> str:
        return ""


def _sms_backend(name: str) -> SmsBackend:
    """The SMS backend YIWANG_SMS_BACKEND names: "file", a class's dotted path, or nothing, which
    means the provider YIWANG_SMS_PROVIDER names (yiwang.messages.sms, docs/sms.md), else the file."""
    if not name:
        provider = _provider_backend()
        return provider if provider is not None else FileSms()
    cls = SMS_BACKENDS.get(name) or import_string(name)
    return cls()


def _provider_backend() -> SmsBackend | None:
    try:
        from yiwang.messages.sms import sms_backend_from_settings
    except ModuleNotFoundError as exc:  # the provider adapters are not installed in this tree
        if exc.name != "yiwang.messages.sms":
            raise
        return None
    return sms_backend_from_settings()


def channel_for(name: str) -> Channel:
    """The channel that sends messages of this name ("sms", "email", "inapp"), as settings say now.

    May raise ImproperlyConfigured (an SMS provider named without its settings)."""
    if name == "sms":
        return SmsChannel(_sms_backend(settings.YIWANG_SMS_BACKEND))
    if name == "email":
        return EmailChannel()
    if name == "inapp":
        return InAppChannel()
    raise ValueError(f"no message channel {name!r}")
