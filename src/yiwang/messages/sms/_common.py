"""What both provider adapters share: reading settings, the endpoint override, phone numbers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def setting(name: str, default: str = "") -> str:
    # getattr, not settings.NAME: the adapters work before settings.py declares these names.
    return str(getattr(settings, name, default) or default)


def required(name: str) -> str:
    value = setting(name)
    if not value:
        raise ImproperlyConfigured(f"{name} is not set (docs/sms.md)")
    return value


def timeout_seconds() -> float:
    return float(setting("YIWANG_SMS_TIMEOUT", "10"))


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """("https", "dysmsapi.aliyuncs.com") from a bare host, ("http", "127.0.0.1:8123") from a URL.

    The endpoint setting is a host in production and an http:// URL of a local server in the tests;
    both SDKs take the host and the protocol apart.
    """
    if "://" not in endpoint:
        return "https", endpoint
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"an SMS endpoint must be a host or an http(s):// URL, not {endpoint!r}")
    return parts.scheme, parts.netloc


_MAINLAND = re.compile(r"^(?:\+?86|0086)?(1\d{10})$")


def mainland_number(to: str) -> str | None:
    """The 11 digits of a mainland mobile number written with or without +86/0086, else None."""
    match = _MAINLAND.match(re.sub(r"[\s-]", "", to))
    return match.group(1) if match else None


def sign_name() -> str:
    """The approved signature (短信签名) sent as SignName: YIWANG_SMS_SIGN_NAME, else the signature
    the messages show (the district's, messages.texts.signature) without its brackets; the provider adds the 【】."""
    from yiwang.messages.texts import signature

    name = setting("YIWANG_SMS_SIGN_NAME") or signature().strip().strip("【】[]").strip()
    if not name:
        raise ImproperlyConfigured("YIWANG_SMS_SIGN_NAME is not set (docs/sms.md)")
    return name
