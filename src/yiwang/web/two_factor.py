"""Staff second factor (TOTP with recovery codes, on django-otp): enrolment, verification, enforcement.

``settings.YIWANG_STAFF_2FA`` decides (docs/security.md, 员工二次验证):

- ``required``: a staff member (a Staff membership, or a superuser) whose session is not verified is
  sent from the staff pages to verification, or to enrolment if they have no device yet;
- ``optional``: only staff who have enrolled are asked, the others go through;
- ``off``: nobody is asked.

Residents are never asked. The API is not guarded here: a bearer token is a random secret of its
own, a factor in itself, and Open311 keys likewise.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote

import django_otp
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from yiwang.org.decorators import staff_required
from yiwang.org.selectors import request_viewer

REQUIRED, OPTIONAL, OFF = "required", "optional", "off"
# Where staff work: the workbench, the leaders' dashboard, the command centre, the apps' staff pages and the admin.
GUARDED_PREFIXES = ("/work/", "/dashboard/", "/command/", "/ledger/", "/party/", "/patrol/", "/parking/", "/grid/",
                    "/admin/")
# The admin's own login and logout stay reachable, so that one can log in (then be asked) or leave.
UNGUARDED = ("/admin/login/", "/admin/logout/")
RECOVERY_CODES = 10
SESSION_KEY = "yiwang_totp_enrol_key"  # the secret being enrolled, until a first code confirms it


def mode() -> str:
    return getattr(settings, "YIWANG_STAFF_2FA", REQUIRED)


def _has_device(user) -> bool:
    return django_otp.user_has_device(user, confirmed=True)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse("web:queue")


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?next={quote(next_url)}"


class StaffSecondFactorMiddleware:
    """Sends unverified staff from the staff pages to verification (or enrolment).

    After django_otp's OTPMiddleware, which gives ``request.user.is_verified()``. A middleware rather
    than a decorator so that no staff page (the admin's included) can be added without it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        answer = self.check(request)
        return answer if answer is not None else self.get_response(request)

    @staticmethod
    def check(request: HttpRequest) -> HttpResponse | None:
        current = mode()
        if current == OFF:
            return None
        path = request.path_info
        if not path.startswith(GUARDED_PREFIXES) or path.startswith(UNGUARDED):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        # Django's is_staff too: anyone the admin lets in. Residents (and volunteers without a staff role)
        # are never asked.
        if not (user.is_staff or request_viewer(request).is_staff_member):
            return None
        if _has_device(user):
            return HttpResponseRedirect(_with_next("web:two_factor_verify", request.get_full_path()))
        if current == REQUIRED:
            return HttpResponseRedirect(_with_next("web:two_factor_setup", request.get_full_path()))
        return None


def _qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (no image request, no CDN: the CSP allows neither)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=15, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg"):]  # without the XML declaration, to sit inside the page


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: its secret as an otpauth:// URI and a QR code, confirmed by a first code;
    then the recovery codes, shown this once."""
    user = request.user
    next_url = _next_url(request)
    if _has_device(user) and not user.is_verified():
        # Someone holding only the password must not add a device of their own.
        return redirect(_with_next("web:two_factor_verify", next_url))
    key = request.session.get(SESSION_KEY)
    if not key:
        key = request.session[SESSION_KEY] = secrets.token_hex(20)
    device = TOTPDevice(user=user, key=key, name=_("身份验证器"), confirmed=True)
    error = ""
    if request.method == "POST":
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, 0)
        totp.time = time.time()
        token = request.POST.get("token", "").strip()
        if token.isdigit() and len(token) == device.digits and totp.verify(int(token), device.tolerance):
            device.last_t, device.drift = totp.t(), totp.drift  # this code cannot be used again
            codes = _enrol(user, device)
            del request.session[SESSION_KEY]
            django_otp.login(request, device)
            return render(request, "web/two_factor_codes.html", {"codes": codes, "next": next_url})
        error = _("验证码不正确，请输入验证器上显示的 6 位数字。")
    uri = device.config_url
    return render(request, "web/two_factor_setup.html", {
        "uri": uri, "secret": base64.b32encode(device.bin_key).decode(), "qr_svg": _qr_svg(uri),
        "error": error, "next": next_url, "enrolled": _has_device(user),
    }, status=422 if error else 200)


@transaction.atomic
def _enrol(user, device: TOTPDevice) -> list[str]:
    """One authenticator and one set of recovery codes per person: enrolling again replaces both."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    device.save()
    recovery = StaticDevice.objects.create(user=user, name=_("恢复码"), confirmed=True)
    codes = [StaticToken.random_token() for _i in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    return codes


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator, or one of the recovery codes (each once)."""
    user = request.user
    next_url = _next_url(request)
    if not _has_device(user):
        return redirect(_with_next("web:two_factor_setup", next_url))
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip().lower().replace(" ", "")
        device, throttled = _check(user, token)
        if device is not None:
            django_otp.login(request, device)
            request.session.cycle_key()  # a new session id for the now verified session
            return redirect(next_url)
        error = (_("尝试次数过多，请稍后再试。") if throttled
                 else _("验证码不正确。请输入验证器上的 6 位数字，或一个未用过的恢复码。"))
    return render(request, "web/two_factor_verify.html", {"error": error, "next": next_url},
                  status=422 if error else 200)


def _check(user, token: str):
    """The device that accepts ``token`` (a 6-digit code is the authenticator's, anything else a recovery
    code), and whether django-otp's throttling refused the attempt. Each device counts its own failures
    and makes the next attempt wait longer each time (OTP_TOTP_THROTTLE_FACTOR, OTP_STATIC_THROTTLE_FACTOR)."""
    model = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    throttled = False
    for device in model.objects.devices_for_user(user, confirmed=True):
        allowed, _data = device.verify_is_allowed()
        if not allowed:
            throttled = True
            continue
        accepted = django_otp.verify_token(user, device.persistent_id, token)
        if accepted is not None:
            return accepted, False
    return None, throttled
