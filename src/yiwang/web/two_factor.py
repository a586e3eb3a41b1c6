"""Staff second factor (TOTP with recovery codes, on django-otp): enrolment, verification, recovery codes,
enforcement on the staff pages.

Who is asked is decided once, in org.second_factor (``settings.YIWANG_STAFF_2FA``: required, optional,
off; docs/security.md, 员工二次验证); the API's session auth asks the same rule. Residents are never
asked. Bearer tokens are not guarded here: a token is a random secret of its own, issued by an
administrator from the command line (docs/security.md says why that is safe).
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote

import django_otp
from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from yiwang.core import pages, throttle
from yiwang.org import second_factor
from yiwang.org.decorators import staff_required
from yiwang.org.selectors import request_viewer

# Where staff work: the workbench, the leaders' dashboard, the command centre, the apps' staff pages and the admin.
# Also the portal's pages where a staff session acts with staff powers: a case page (a staff member reads any
# case in their scope there, not only their own) and a matter's application form (a window clerk applies on
# a resident's behalf, 代办, and attests the originals seen). Residents there are never asked.
GUARDED_PREFIXES = ("/work/", "/dashboard/", "/command/", "/ledger/", "/party/", "/patrol/", "/parking/", "/grid/",
                    "/admin/", "/cases/")
GUARDED_PAGES = re.compile(r"/matters/[^/]+/apply/")
# The admin's own login and logout stay reachable, so that one can log in (then be asked) or leave.
UNGUARDED = ("/admin/login/", "/admin/logout/")
SESSION_KEY = "yiwang_totp_enrol_key"  # the secret being enrolled, until a first code confirms it


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
        path = request.path_info
        if not (path.startswith(GUARDED_PREFIXES) or GUARDED_PAGES.match(path)) or path.startswith(UNGUARDED):
            return None
        if second_factor.mode() == second_factor.OFF:
            return None  # nothing to check: no session or staff lookup
        # A database that cannot answer here is handler500's 503 (core.middleware.server_error).
        step = second_factor.missing(getattr(request, "user", None), request_viewer(request))
        if step == second_factor.VERIFY:
            return HttpResponseRedirect(_with_next("web:two_factor_verify", request.get_full_path()))
        if step == second_factor.ENROL:
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
    if second_factor.has_device(user) and not user.is_verified():
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
            codes = second_factor.enrol(user=user, device=device)
            del request.session[SESSION_KEY]
            django_otp.login(request, device)
            return render(request, "web/two_factor_codes.html", {"codes": codes, "next": next_url})
        error = _("验证码不正确，请输入验证器上显示的 6 位数字。")
    uri = device.config_url
    secret = base64.b32encode(device.bin_key).decode()
    return render(request, "web/two_factor_setup.html", {
        "uri": uri, "secret": secret, "qr_svg": _qr_svg(uri),
        # In fours, as authenticator apps accept it typed: 32 letters in one run are easy to mistype.
        "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "error": error, "next": next_url, "enrolled": second_factor.has_device(user),
    }, status=422 if error else 200)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator, or one of the recovery codes (each once)."""
    user = request.user
    next_url = _next_url(request)
    if not second_factor.has_device(user):
        return redirect(_with_next("web:two_factor_setup", next_url))
    error = ""
    if request.method == "POST":
        device, throttled = second_factor.check(user, request.POST.get("token", ""))
        if device is not None:
            django_otp.login(request, device)
            request.session.cycle_key()  # a new session id for the now verified session
            return redirect(next_url)
        error = (_("尝试次数过多，请稍后再试。") if throttled
                 else _("验证码不正确。请输入验证器上的 6 位数字，或一个未用过的恢复码。"))
    return render(request, "web/two_factor_verify.html", {"error": error, "next": next_url},
                  status=422 if error else 200)


class RecoveryForm(forms.Form):
    token = pages.OptionalTextField()
    password = pages.OptionalTextField()
    action = pages.OptionalTextField()


@staff_required
@sensitive_post_parameters("token", "password")
@require_http_methods(["GET", "HEAD", "POST"])
def recovery(request: HttpRequest) -> HttpResponse:
    """The recovery codes: how many are left; after the person proves it is them again (a current code
    from the authenticator, or their password), the unused codes, or a new set that replaces every old one.

    Only a verified session gets here (someone holding the password alone must not read the codes that
    would let them pass the second factor), and it still asks again: a session left open on a shared
    desk is not the person."""
    user = request.user
    next_url = _next_url(request)
    if not second_factor.has_device(user):
        return redirect(_with_next("web:two_factor_setup", next_url))
    if not user.is_verified():
        return redirect(_with_next("web:two_factor_verify", request.get_full_path()))
    error, status, codes, replaced = "", 200, None, False
    if request.method == "POST":
        posted = RecoveryForm(request.POST)
        posted.is_valid()
        data = posted.cleaned_data
        error, status = _reauthenticate(request, data.get("token") or "", data.get("password") or "")
        if not error:
            replaced = data.get("action") == "replace"
            codes = (second_factor.recovery_codes_replace(user=user) if replaced
                     else second_factor.recovery_codes(user))
    return render(request, "web/two_factor_recovery.html", {
        "error": error, "codes": codes, "replaced": replaced, "next": next_url,
        "remaining": len(second_factor.recovery_codes(user)),
    }, status=status)


def _reauthenticate(request: HttpRequest, token: str, password: str) -> tuple[str, int]:
    """("", 200) when ``token`` (a current authenticator code, not a recovery code) or ``password`` is the
    signed-in person's, else the message to show and the page's status. Both are throttled: the code by django-otp, the password
    by core.throttle, as at login."""
    user = request.user
    token = token.strip().replace(" ", "")
    if token:
        if not (token.isdigit() and len(token) == 6):
            return _("请输入验证器上显示的 6 位数字（恢复码不能用来查看恢复码）。"), 422
        device, throttled = second_factor.check(user, token)
        if device is not None:
            return "", 200
        if throttled:
            return _("尝试次数过多，请稍后再试。"), 429
        return _("验证码不正确，请输入验证器上显示的 6 位数字。"), 422
    if password:
        try:
            again = throttle.authenticate(request, username=user.get_username(), password=password)
        except throttle.TooManyAttempts as exc:
            return exc.message, 429
        if again is not None and again.pk == user.pk:
            return "", 200
        return _("密码不正确。"), 422
    return _("请输入验证器上的验证码或您的登录密码。"), 422
