"""统一身份认证: logging in through the province's OpenID Connect provider (mozilla-django-oidc).

On only when settings name a client (``YIWANG_OIDC_CLIENT_ID``, settings.py): then yiwang.urls mounts
this module's ``urlpatterns`` under /oidc/ and ``Backend`` is an authentication backend. The flow is the
authorization code flow with PKCE; the ID token must be RS256-signed by a key in the provider's JWKS,
issued by the configured issuer to this client, unexpired and carry the session's nonce.

Who logs in (``Backend.get_or_create_user``), in this order:

1. the user linked to the provider's issuer and stable subject (``OidcLink``: a second login with the
   same ``sub`` is the same user; staff are linked this way, see ``link_create``);
2. else the resident whose ID number is the verified ID number claim (its checksum valid), whose
   account gets the link; a resident without an account gets one. A staff or admin account is never
   found this way: the claims alone do not open it, only a link an administrator made;
3. else a new resident and account, from the ID number, name and phone claims.

mozilla-django-oidc's default — find the user by the e-mail claim, which a provider may not have
verified — is never used. A claim that is missing or invalid refuses the login with a message on the
login page, as does a tampered or replayed ``state`` and any failure to reach or trust the provider.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from yiwang.core import clock, idnumber, text
from yiwang.core.errors import Conflict, NotFound, ValidationFailed
from yiwang.org import services
from yiwang.org.models import Level, OidcLink, Region, Resident

log = logging.getLogger("yiwang.security")

# mozilla-django-oidc's endpoint settings and the discovery document's names for them. A setting left
# empty is read from the issuer's /.well-known/openid-configuration.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
_DISCOVERY_SECONDS = 3600  # a provider rotates endpoints rarely; keys are fetched from the JWKS each login
_discovery: dict[str, tuple[float | None, dict]] = {}
_discovery_lock = threading.Lock()

_MOBILE = re.compile(r"1[3-9]\d{9}")
SESSION_ISSUER = "yiwang_oidc_issuer"  # set on a session 统一身份认证 opened: its logout ends the provider's too


class Refused(Exception):
    """A login this module will not complete; the message is shown on the login page."""


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))


def issuer() -> str:
    return settings.YIWANG_OIDC_ISSUER


def _document() -> dict:
    """The issuer's discovery document, fetched at most once an hour."""
    iss = issuer()
    with _discovery_lock:
        fetched_at, document = _discovery.get(iss, (None, {}))
        if fetched_at is None or time.monotonic() - fetched_at > _DISCOVERY_SECONDS:
            answer = requests.get(iss + "/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
            answer.raise_for_status()
            document = answer.json()
            if document.get("issuer") != iss:
                # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched from.
                raise SuspiciousOperation(f"discovery names issuer {document.get('issuer')!r}, not {iss!r}")
            _discovery[iss] = (time.monotonic(), document)
    return document


def _discover(name: str) -> str:
    value = _document().get(_DISCOVERED[name])
    if not value:
        raise ImproperlyConfigured(f"the OpenID provider {issuer()} publishes no {_DISCOVERED[name]}")
    return value


def _setting(attr: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings, with endpoints not set explicitly taken from discovery."""
    value = getattr(settings, attr, None)
    if attr in _DISCOVERED and not value:
        return _discover(attr)
    if value is None:
        if default:
            return default[0]
        raise ImproperlyConfigured(f"{attr} is not set")
    return value


def refuse(request: HttpRequest, reason: str) -> None:
    messages.error(request, _("统一身份认证登录失败：%(reason)s") % {"reason": reason})


# --- claims ------------------------------------------------------------------------------------------

def _claim(claims: dict, setting: str) -> str:
    name = getattr(settings, setting)
    value = claims.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Refused(_("身份提供方没有提供“%(claim)s”。请联系管理员。") % {"claim": name})
    if not isinstance(value, str):
        raise Refused(_("身份提供方提供的“%(claim)s”无效。") % {"claim": name})
    return value.strip()


def verified_id_number(claims: dict) -> str:
    number = _claim(claims, "YIWANG_OIDC_ID_NUMBER_CLAIM").upper()
    if not idnumber.is_valid(number):
        raise Refused(_("身份提供方提供的身份证号码无效。"))
    return number


def mobile(claims: dict) -> str:
    """The phone claim as a mainland mobile number: OpenID's ``phone_number`` is E.164 (+86 138…)."""
    raw = re.sub(r"[\s\-()]", "", _claim(claims, "YIWANG_OIDC_PHONE_CLAIM"))
    number = raw.removeprefix("+86")
    if not _MOBILE.fullmatch(number):
        raise Refused(_("身份提供方提供的手机号码无效。"))
    return number


def _new_resident_region() -> Region:
    code = settings.YIWANG_OIDC_RESIDENT_REGION
    regions = Region.objects.filter(code=code) if code else Region.objects.filter(level=Level.AREA, parent=None)
    found = list(regions[:2])
    if len(found) != 1:
        log.error("oidc: no region for new residents (YIWANG_OIDC_RESIDENT_REGION=%r)", code)
        raise Refused(_("未配置新居民的户籍区域。请联系管理员。"))
    return found[0]


# --- links -------------------------------------------------------------------------------------------

def _clean_link(subject: str, issuer_url: str | None) -> tuple[str, str]:
    subject = (subject or "").strip()
    if not subject or len(subject) > 255 or text.holds_control_character(subject):
        raise ValidationFailed(_("身份标识（sub）不能为空，至多 255 个字符，且不能含控制字符。"), field="subject")
    iss = (issuer_url or issuer() or "").strip().rstrip("/")
    if not iss:
        raise ValidationFailed(_("未配置统一身份认证（YIWANG_OIDC_ISSUER），请指定身份提供方的 issuer。"), field="issuer")
    if not iss.startswith(("https://", "http://")) or len(iss) > 255:
        raise ValidationFailed(_("身份提供方的 issuer 应是 https:// 开头的网址。"), field="issuer")
    return subject, iss


def link_check(*, user, subject: str, issuer_url: str | None = None, lock: bool = False) -> tuple[str, str]:
    """The subject and issuer a link of ``user`` would have, cleaned, or the refusal (a DomainError
    naming the field): what ``link_create`` and the admin's form both ask."""
    subject, iss = _clean_link(subject, issuer_url)
    if not user.is_active:
        raise ValidationFailed(_("账号 %(u)s 已停用。") % {"u": user.get_username()}, field="user")
    rows = OidcLink.objects.select_for_update() if lock else OidcLink.objects
    taken = rows.filter(issuer=iss, subject=subject).select_related("user").first()
    if taken is not None:
        raise Conflict(_("该身份标识已绑定账号 %(u)s；请先解除绑定。") % {"u": taken.user.get_username()},
                       field="subject")
    return subject, iss


@transaction.atomic
def link_create(*, user, subject: str, issuer_url: str | None = None) -> OidcLink:
    """Let ``user`` log in as the provider's ``subject`` (its stable ``sub``): how a staff account is
    connected to the province's identity (``yiwang oidc link``, the admin). A subject logs in as one
    account only: one already linked is refused, naming the account, never moved silently."""
    subject, iss = link_check(user=user, subject=subject, issuer_url=issuer_url, lock=True)
    link = OidcLink.objects.create(user=user, issuer=iss, subject=subject, created_at=clock.now())
    log.info("oidc: subject %s of %s linked to user %s", subject, iss, user.pk)
    return link


@transaction.atomic
def link_delete(*, user, subject: str, issuer_url: str | None = None) -> None:
    """Stop ``subject`` from logging in as ``user``; sessions already open stay until they log out."""
    subject, iss = _clean_link(subject, issuer_url)
    deleted, _rows = OidcLink.objects.filter(user=user, issuer=iss, subject=subject).delete()
    if not deleted:
        raise NotFound(_("账号 %(u)s 没有绑定这个身份标识。") % {"u": user.get_username()}, field="subject")
    log.info("oidc: subject %s of %s unlinked from user %s", subject, iss, user.pk)


def links(*, user=None) -> list[OidcLink]:
    rows = OidcLink.objects.select_related("user").order_by("user__username", "issuer", "subject")
    return list(rows.filter(user=user) if user is not None else rows)


def _username(iss: str, sub: str) -> str:
    # Not the ID number, the name or the phone: a username is shown on pages and in logs.
    return "oidc_" + hashlib.sha256(f"{iss}\n{sub}".encode()).hexdigest()[:20]


class Backend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching users by issuer + subject and the verified ID number."""

    get_settings = staticmethod(_setting)

    def __init__(self, *args, **kwargs) -> None:
        # Django builds every backend for every password login and every request's session user:
        # the provider's settings (and its discovery document) are read only when we authenticate.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce; a password login (core.throttle) is not for us, even
        # when its URL happens to carry ?code=&state=.
        if request is None or "nonce" not in kwargs:
            return None
        try:
            super().__init__()
            return super().authenticate(request, **kwargs)
        except Refused as refusal:
            log.warning("oidc login refused: %s", refusal)
            refuse(request, str(refusal))
        except (requests.RequestException, SuspiciousOperation, jwt.PyJWTError, ValueError, KeyError) as exc:
            # The provider unreachable, an error from its token endpoint, a token that fails a check.
            log.warning("oidc login failed: %s: %s", type(exc).__name__, exc)
            refuse(request, _("无法完成与身份提供方的验证，请稍后重试。"))
        return None

    def _verify_jws(self, payload, key):
        # mozilla-django-oidc checks the signature and the nonce but not the audience or the issuer
        # (OpenID Connect Core 3.1.3.7): a token the provider issued to another client would pass.
        alg = jwt.get_unverified_header(payload).get("alg")
        if alg != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token algorithm {alg!r}, expected {self.OIDC_RP_SIGN_ALGO}")
        return jwt.decode(
            payload, key, algorithms=[alg], audience=self.OIDC_RP_CLIENT_ID, issuer=issuer(), leeway=60,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        # OpenID Connect Core 5.3.2: the UserInfo answer is about the ID token's subject, or unusable.
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("the UserInfo subject is not the ID token's")
        return claims

    def verify_claims(self, claims):
        return True  # checked where each claim is used, so that the refusal names it

    def filter_users_by_claims(self, claims):
        # The library's default finds users by their e-mail claim; yiwang never does (an e-mail is
        # not verified identity). get_or_create_user below matches by issuer+sub or the ID number.
        return self.UserModel.objects.none()

    def get_or_create_user(self, access_token, id_token, payload):
        try:
            claims = self.get_userinfo(access_token, id_token, payload)
        except SuspiciousOperation as exc:
            # mozilla-django-oidc would swallow it and refuse without a word.
            log.warning("oidc userinfo refused: %s", exc)
            raise Refused(_("无法完成与身份提供方的验证，请稍后重试。")) from exc
        iss, sub = issuer(), str(payload["sub"])
        user = self._find_or_create(iss, sub, claims)
        if not user.is_active:
            raise Refused(_("该账号已停用。"))
        OidcLink.objects.filter(issuer=iss, subject=sub).update(last_login_at=clock.now())
        log.info("oidc login: user %s (subject %s)", user.pk, sub)
        return user

    def _find_or_create(self, iss: str, sub: str, claims: dict):
        link = OidcLink.objects.select_related("user").filter(issuer=iss, subject=sub).first()
        if link is not None:
            resident = Resident.objects.filter(user=link.user).first()
            claimed = claims.get(settings.YIWANG_OIDC_ID_NUMBER_CLAIM)
            if (resident is not None and resident.id_number and isinstance(claimed, str)
                    and claimed.strip().upper() != resident.id_number.upper()):
                # The provider now says this subject is somebody else: trust neither.
                log.error("oidc: subject %s is linked to resident %s but claims another ID number", sub,
                          resident.pk)
                raise Refused(_("该统一身份认证账号与已绑定的身份证号码不一致。请联系管理员。"))
            return link.user
        number = verified_id_number(claims)
        try:
            with transaction.atomic():
                user = self._user_for_id_number(number, claims, iss, sub)
                OidcLink.objects.create(user=user, issuer=iss, subject=sub, created_at=clock.now())
        except IntegrityError:
            # Two first logins of the same subject at once: the other one linked it.
            link = OidcLink.objects.select_related("user").filter(issuer=iss, subject=sub).first()
            if link is None:
                raise
            return link.user
        return user

    def _user_for_id_number(self, number: str, claims: dict, iss: str, sub: str):
        # Stored upper-cased (resident_create); the lower-case x of an older import too. Not __iexact,
        # which PostgreSQL answers without the index.
        residents = list(Resident.objects.filter(id_number__in={number, number.lower()}).select_related("user")[:3])
        with_account = [r for r in residents if r.user is not None]
        if len(with_account) > 1 or (not with_account and len(residents) > 1):
            raise Refused(_("该身份证号码对应多份居民档案，请到便民服务站办理。"))
        if with_account:
            user = with_account[0].user
            if user.is_superuser or user.is_staff or user.staff_roles.exists():
                # A claim alone never opens a staff account: an administrator links it (link_create).
                log.warning("oidc: subject %s claims the ID number of staff user %s, who is not linked", sub, user.pk)
                raise Refused(_("工作人员账号须由管理员绑定统一身份认证后才能这样登录。"))
            return user
        user = services.user_create(username=_username(iss, sub))
        if residents:  # known from a window or a grid import, never logged in: this is their account
            resident = residents[0]
            resident.user = user
            resident.save(update_fields=["user"])
            return user
        name = _claim(claims, "YIWANG_OIDC_NAME_CLAIM")
        user.first_name = name[:150]
        user.save(update_fields=["first_name"])
        services.resident_create(name=name[:50], phone=mobile(claims), region=_new_resident_region(),
                                 id_number=number, birth_date=idnumber.birth_date(number), user=user)
        return user

    def get_user(self, user_id):
        # ModelBackend's: an account deactivated since it logged in is logged out (mozilla's is not).
        return ModelBackend.get_user(self, user_id)


# --- views -------------------------------------------------------------------------------------------

class _Start(OIDCAuthenticationRequestView):
    get_settings = staticmethod(_setting)


class _Callback(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(_setting)

    def login_success(self):
        response = super().login_success()
        # After auth.login, which may flush the session: logging out later also ends the provider's.
        self.request.session[SESSION_ISSUER] = issuer()
        return response

    @property
    def failure_url(self) -> str:
        return reverse("web:login")

    def get(self, request):
        if request.GET.get("error"):
            # The provider's error text is the redirect's query string: anybody's words, not shown.
            refuse(request, _("身份提供方没有完成登录。"))
        elif "code" in request.GET and "state" in request.GET:
            if request.GET["state"] not in (request.session.get("oidc_states") or {}):
                # Tampered with, replayed, or from another browser: mozilla would answer 400 or say nothing.
                log.warning("oidc callback with an unknown state")
                refuse(request, _("登录请求已失效或不是从本站发起的，请重新登录。"))
                return self.login_failure()
        else:
            refuse(request, _("身份提供方没有完成登录。"))
        return super().get(request)


def end_session_url(request: HttpRequest) -> str | None:
    """Where to send a browser logging out of a session that 统一身份认证 opened, so that the provider's
    session ends too (OpenID Connect RP-Initiated Logout 1.0): the provider's ``end_session_endpoint``
    with this client and the site's home as ``post_logout_redirect_uri`` (register it at the provider).
    None, and the logout is yiwang's alone, for any other session, when the provider advertises no such
    endpoint or cannot be reached. Call it before the session is flushed."""
    if not enabled() or request.session.get(SESSION_ISSUER) != issuer():
        return None
    try:
        endpoint = _document().get("end_session_endpoint")
    except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
        log.warning("oidc logout: discovery failed, the provider's session stays: %s: %s", type(exc).__name__, exc)
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = urlencode({"client_id": settings.OIDC_RP_CLIENT_ID,
                       "post_logout_redirect_uri": request.build_absolute_uri("/")})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def start(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404
    try:
        return _Start.as_view()(request)
    except (requests.RequestException, SuspiciousOperation, ValueError) as exc:  # discovery failed
        log.warning("oidc discovery failed: %s: %s", type(exc).__name__, exc)
        refuse(request, _("无法连接身份提供方，请稍后重试。"))
        return _Callback().login_failure()


def callback(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404
    return _Callback.as_view()(request)


# Mounted at /oidc/ by yiwang.urls when settings name a client.
urlpatterns = [
    path("authenticate/", start, name="oidc_authentication_init"),
    path("callback/", callback, name="oidc_authentication_callback"),
]
