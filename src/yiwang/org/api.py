from __future__ import annotations

import django_otp
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from yiwang.core import throttle
from yiwang.core.errors import PermissionDenied
from yiwang.core.schemas import Input
from yiwang.org import second_factor, selectors
from yiwang.org.selectors import request_viewer

router = Router(tags=["organisation"])


class RegionOut(Schema):
    code: str
    name: str
    level: str
    path: str


class UnitOut(Schema):
    code: str
    name: str
    kind: str
    region_path: str


class MembershipOut(Schema):
    unit: str
    unit_name: str
    role: str


class MeOut(Schema):
    username: str
    is_superuser: bool
    resident_id: int | None
    roles: list[MembershipOut]


@router.get("/me", response=MeOut, summary="Who the caller is and in which units")
def me(request):
    v = request_viewer(request)
    h = selectors.hierarchy()
    roles = [
        {"unit": h.units[m.unit_id].code, "unit_name": h.units[m.unit_id].name, "role": m.role}
        for m in v.memberships if m.unit_id in h.units
    ]
    return {"username": v.username, "is_superuser": v.is_superuser, "resident_id": v.resident_id, "roles": roles}


@router.get("/regions", response=list[RegionOut], auth=None, summary="Regions under a parent (top level without one)")
def regions(request, parent: str | None = None):
    return [r.__dict__ for r in selectors.region_list(parent_code=parent)]


@router.get("/units", response=list[UnitOut], summary="Units the caller may hand a case to")
def units(request):
    return [u.__dict__ for u in selectors.units_reachable(request_viewer(request))]


class LoginIn(Input):
    username: str
    password: str
    # A staff member asked for a second factor (YIWANG_STAFF_2FA) sends a code from their authenticator,
    # or one of their recovery codes, with the password.
    otp_token: str | None = None


@router.post("/session", response={200: MeOut}, auth=None,
             summary="Log in with a password (browser session); 429 with Retry-After after too many failures")
def login(request, payload: LoginIn):
    """Starts a Django session; later unsafe calls must send the CSRF token (cookie `csrftoken`)."""
    if request.content_type != "application/json":
        # Another site's form can post text/plain but not JSON: without this it could log a visitor's
        # browser into the other site's account (login CSRF). API clients need no CSRF token here.
        raise HttpError(415, _("请以 application/json 提交用户名和密码。"))
    user = throttle.authenticate(request, username=selectors.login_username(payload.username),
                                 password=payload.password)
    if user is None:
        raise PermissionDenied(_("用户名或密码不正确。"), field="password")
    device = _second_factor(user, payload.otp_token)
    django_login(request, user)
    if device is not None:
        django_otp.login(request, device)
    get_token(request)
    request._yiwang_viewer = selectors.viewer_for(user)
    return me(request)


def _second_factor(user, token: str | None):
    """The device whose code verifies this login, None when none is asked for; refuses (no session is
    started) when the staff rule asks for one and ``token`` is missing or wrong."""
    step = second_factor.missing(user, selectors.viewer_for(user))
    if step is None:
        return None
    if step == second_factor.ENROL:
        raise second_factor.refusal(step)
    if not token:
        raise second_factor.SecondFactorRequired(
            _("请同时提交验证器上的 6 位验证码或一个恢复码（otp_token）。"), field="otp_token")
    device, throttled = second_factor.check(user, token)
    if device is None:
        raise second_factor.SecondFactorRequired(
            _("尝试次数过多，请稍后再试。") if throttled
            else _("验证码不正确。请输入验证器上的 6 位数字，或一个未用过的恢复码。"), field="otp_token")
    return device


@router.delete("/session", response={204: None}, summary="Log out")
def logout(request):
    django_logout(request)
    return Status(204, None)
