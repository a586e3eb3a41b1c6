"""Login throttling: slow the password guesser, not the account's owner.

Every password check goes through ``authenticate`` here (the login page, the admin's login page,
POST /api/v1/session). The scheme is OWASP's "device cookie" (Slow Brute Force Attack Prevention):

- A successful login gives the browser a **device cookie**: signed (``django.core.signing``, its
  own salt), HttpOnly, SameSite=Lax, Secure over HTTPS, bound to the username, with a random nonce.
  It is kept at logout and renewed (a new nonce) at every successful login.
- An attempt that presents a valid device cookie *for the username it tries* is **trusted**: it is
  counted only against that cookie (``YIWANG_LOGIN_FAILURES_PER_DEVICE``), never against the
  username or the address. Others' failures cannot lock the owner out of their usual browser, and
  the owner's typos there do not lock anyone else.
- Any other attempt (no cookie, a forged or expired one, another username's) is **untrusted**: it is
  counted against the username, from all untrusted clients together
  (``YIWANG_LOGIN_FAILURES_PER_USERNAME``), and against the client address across usernames
  (``YIWANG_LOGIN_FAILURES_PER_ADDRESS``, IPv6 by /64). The address limit is a ceiling against
  password spraying, set well above what an office behind one NAT produces: one person's typos stop
  at their own username's limit, so they cannot lock their colleagues out. (A per address-and-username
  count would add nothing: the username's count, from every address, is already lower.)

Counting is atomic, without locks: an attempt first **reserves** its place — it inserts its rows (one
per key it is counted against) in a statement of its own, committed — and only then counts the rows of
those keys within ``YIWANG_LOGIN_WINDOW_SECONDS``, its own included. If a count is over its limit the
attempt is refused without the password being looked at, and its rows are deleted again, so that
refused attempts neither extend a lockout nor count against the address. Otherwise the password is
checked: a wrong one leaves the rows as the failure's record; a correct one deletes them, and clears
the failures of what it was counted against (the device's, or, untrusted, the username's).
Why this admits at most ``limit`` checks however many attempts race: the k-th attempt to commit its
row counts after every earlier row was committed, and the rows of attempts that went on to the
password check stay, so it sees at least k rows and goes on only if k ≤ limit. (Racing attempts may
also see the rows of others that are about to be refused: under a burst some are refused that could
have gone in, never the other way round.) This needs ``authenticate`` to run outside a transaction
(autocommit), as Django runs every view unless told otherwise; within one, others see the rows only
at its commit.

Rows are core.LoginFailure, which every worker process sees; pruned as the window passes. The log
names the username and the address, never the password or the cookie.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.core import signing
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from yiwang.core import clock
from yiwang.core.errors import DomainError
from yiwang.core.models import LoginFailure

log = logging.getLogger("yiwang.security")

DEVICE_COOKIE = "yiwang_device"
DEVICE_SALT = "yiwang.core.throttle.device"
_ISSUED = "_yiwang_device_cookie"  # request attribute: the device cookie a login just earned


class TooManyAttempts(DomainError):
    """Refused before the password was looked at; try again after ``retry_after`` seconds."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int, message: str = ""):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__((message or _("登录失败次数过多，请 %(n)s 分钟后再试。")) % {"n": minutes})
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


def _normal_username(username: str) -> str:
    return username.strip().casefold()[:150]


def _username_key(username: str) -> str:
    return "user:" + _normal_username(username)


def _device_key(nonce: str) -> str:
    return "device:" + nonce


def _window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.YIWANG_LOGIN_WINDOW_SECONDS)


# Device cookies ------------------------------------------------------------------------------------

def device_cookie_value(username: str) -> str:
    """A new device cookie for ``username``: signed, with a fresh random nonce."""
    return signing.dumps({"user": _normal_username(username), "nonce": secrets.token_urlsafe(16)},
                         salt=DEVICE_SALT)


def device_nonce(request: HttpRequest, username: str) -> str | None:
    """The nonce of the request's device cookie if it is ours, unexpired and issued to ``username``.

    Anything else — no cookie, a forged or expired one, one issued to another username — is None:
    the attempt is untrusted.
    """
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        payload = signing.loads(value, salt=DEVICE_SALT, max_age=settings.YIWANG_LOGIN_DEVICE_DAYS * 86400)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(payload, dict) or payload.get("user") != _normal_username(username):
        return None
    nonce = payload.get("nonce")
    return nonce if isinstance(nonce, str) and nonce else None


def device_cookie_middleware(get_response):
    """Sets the device cookie a successful login earned (whichever of the login views it was)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        value = getattr(request, _ISSUED, None)
        if value is not None:
            response.set_cookie(DEVICE_COOKIE, value, max_age=settings.YIWANG_LOGIN_DEVICE_DAYS * 86400,
                                secure=settings.SESSION_COOKIE_SECURE or request.is_secure(),
                                httponly=True, samesite="Lax")
        return response

    return middleware


# Counting --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Attempt:
    username: str
    address: str
    nonce: str | None  # of a valid device cookie for this username: a trusted attempt

    @property
    def own_key(self) -> str:
        """The device's key, or (untrusted) the username's: the failures a correct password clears."""
        return _device_key(self.nonce) if self.nonce is not None else _username_key(self.username)

    def limits(self) -> dict[str, int]:
        """The keys this attempt is counted against, each with its limit."""
        if self.nonce is not None:
            return {self.own_key: settings.YIWANG_LOGIN_FAILURES_PER_DEVICE}
        return {self.own_key: settings.YIWANG_LOGIN_FAILURES_PER_USERNAME,
                _address_key(self.address): settings.YIWANG_LOGIN_FAILURES_PER_ADDRESS}

    def describe(self) -> str:
        return f"username={self.username[:150]!r} address={self.address} device={'yes' if self.nonce else 'no'}"


def _retry_after(key: str, limit: int, now: dt.datetime) -> int:
    """0 if ``key`` may try now, else the seconds until enough of its rows leave the window."""
    times = list(LoginFailure.objects.filter(key=key, at__gt=now - _window()).order_by("at")
                 .values_list("at", flat=True))
    if len(times) < limit:
        return 0
    frees_at = times[len(times) - limit] + _window()
    return max(1, math.ceil((frees_at - now).total_seconds()))


def reserve(limits: dict[str, int], *, now: dt.datetime, what: str, message: str = "") -> list[int]:
    """Count one attempt against each key of ``limits`` (key → most attempts in the window): insert its
    rows first, then count. The row ids, to keep as the attempt's record or delete once it succeeded;
    or TooManyAttempts, with the rows gone again, when a key is over its limit. See the module's
    docstring for why this admits no more than the limit however many attempts race. Used by logins
    and by /lookup/'s phone guesses; ``what`` names the attempt in the log."""
    # One INSERT, committed on its own (autocommit) before the count below reads.
    rows = LoginFailure.objects.bulk_create([LoginFailure(key=key, at=now) for key in limits])
    reserved = [row.pk for row in rows]
    counts = dict(LoginFailure.objects.filter(key__in=list(limits), at__gt=now - _window())
                  .values("key").annotate(n=Count("id")).values_list("key", "n"))
    over = [key for key, limit in limits.items() if counts.get(key, 0) > limit]
    if not over:
        return reserved
    LoginFailure.objects.filter(pk__in=reserved).delete()
    wait = max(1, *(_retry_after(key, limits[key], now) for key in over))
    log.warning("refused: too many failures (%s retry_after=%ss)", what, wait)
    raise TooManyAttempts(wait, message)


def release(reserved: list[int]) -> None:
    """Forget an attempt that succeeded."""
    LoginFailure.objects.filter(pk__in=reserved).delete()


def address_key(request: HttpRequest) -> str:
    """The key the caller's address is counted under (IPv6 by /64)."""
    return _address_key(client_address(request))


def authenticate(request: HttpRequest, *, username: str, password: str):
    """Django's authenticate behind the throttle: the user, or None for a wrong password.

    Raises TooManyAttempts, without checking the password, once what the attempt is counted against
    (its device cookie; else the username and the address) has failed too often within
    YIWANG_LOGIN_WINDOW_SECONDS. A success earns the browser a new device cookie for the username.
    """
    attempt = _Attempt(username=username, address=client_address(request), nonce=device_nonce(request, username))
    now = clock.now()
    reserved = reserve(attempt.limits(), now=now, what=attempt.describe())
    user = auth.authenticate(request, username=username, password=password)
    if user is None:
        LoginFailure.objects.filter(at__lte=now - _window()).delete()  # nothing older is ever counted
        log.warning("login failed (%s)", attempt.describe())
        return None
    LoginFailure.objects.filter(Q(pk__in=reserved) | Q(key=attempt.own_key)).delete()
    setattr(request, _ISSUED, device_cookie_value(user.get_username()))
    return user
