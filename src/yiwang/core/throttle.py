"""Login throttling: after too many failed passwords for a username, or from one client address,
within a window, further attempts are refused without checking the password.

Every password check goes through ``authenticate`` here (the login page, the admin's login page,
POST /api/v1/session). Failures are rows (core.LoginFailure) that every worker process sees; a
correct password clears its username's failures. The log names the username and the address,
never the password.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from yiwang.core import clock
from yiwang.core.errors import DomainError
from yiwang.core.models import LoginFailure

log = logging.getLogger("yiwang.security")


class TooManyAttempts(DomainError):
    """Refused before the password was looked at; try again after ``retry_after`` seconds."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(_("登录失败次数过多，请 %(n)s 分钟后再试。") % {"n": minutes})
        self.retry_after = retry_after


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For as written by our own proxies.

    With YIWANG_PROXY_COUNT = n trusted proxies in front, the address is the n-th entry from the
    right of X-Forwarded-For: entries further left were written by the client and prove nothing.
    """
    proxies = settings.YIWANG_PROXY_COUNT
    address = request.META.get("REMOTE_ADDR", "")
    if proxies > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return address


def _address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address:" + address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            # One IPv6 subscriber gets a whole /64: counting single addresses would not slow them down.
            return "address:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
        ip = ip.ipv4_mapped
    return "address:" + str(ip)


def _username_key(username: str) -> str:
    return "user:" + username.strip().casefold()[:150]


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.YIWANG_LOGIN_WINDOW_SECONDS)


def _retry_after(key: str, limit: int, now: dt.datetime) -> int:
    """0 if ``key`` may try now, else the seconds until enough of its failures leave the window."""
    times = list(LoginFailure.objects.filter(key=key, at__gt=now - _window()).order_by("at")
                 .values_list("at", flat=True))
    if len(times) < limit:
        return 0
    frees_at = times[len(times) - limit] + _window()
    return max(1, math.ceil((frees_at - now).total_seconds()))


def login_check(*, username: str, address: str) -> None:
    """Raise TooManyAttempts if this username or this address has failed too often lately."""
    now = clock.now()
    wait = max(_retry_after(_username_key(username), settings.YIWANG_LOGIN_FAILURES_PER_USERNAME, now),
               _retry_after(_address_key(address), settings.YIWANG_LOGIN_FAILURES_PER_ADDRESS, now))
    if wait:
        log.warning("login refused: too many failures (username=%r address=%s retry_after=%ss)",
                    username[:150], address, wait)
        raise TooManyAttempts(wait)


def login_failed(*, username: str, address: str) -> None:
    now = clock.now()
    with transaction.atomic():
        LoginFailure.objects.bulk_create([LoginFailure(key=_username_key(username), at=now),
                                          LoginFailure(key=_address_key(address), at=now)])
        LoginFailure.objects.filter(at__lte=now - _window()).delete()  # nothing older is ever counted
    log.warning("login failed (username=%r address=%s)", username[:150], address)


def login_succeeded(*, username: str) -> None:
    LoginFailure.objects.filter(key=_username_key(username)).delete()


def authenticate(request: HttpRequest, *, username: str, password: str):
    """Django's authenticate behind the throttle: the user, or None for a wrong password.

    Raises TooManyAttempts, without checking the password, once the username or the address has
    failed too often within YIWANG_LOGIN_WINDOW_SECONDS.
    """
    address = client_address(request)
    login_check(username=username, address=address)
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        login_failed(username=username, address=address)
    else:
        login_succeeded(username=username)
    return user
