from __future__ import annotations

from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.middleware.csrf import get_token
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from yiwang.core import throttle
from yiwang.core.errors import PermissionDenied
from yiwang.core.schemas import Input
from yiwang.org import selectors
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


@router.post("/session", response={200: MeOut}, auth=None,
             summary="Log in with a password (browser session); 429 with Retry-After after too many failures")
def login(request, payload: LoginIn):
    """Starts a Django session; later unsafe calls must send the CSRF token (cookie `csrftoken`)."""
    if request.content_type != "application/json":
        # Another site's form can post text/plain but not JSON: without this it could log a visitor's
        # browser into the other site's account (login CSRF). API clients need no CSRF token here.
        raise HttpError(415, _("请以 application/json 提交用户名和密码。"))
    user = throttle.authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise PermissionDenied(_("用户名或密码不正确。"), field="password")
    django_login(request, user)
    get_token(request)
    request._yiwang_viewer = selectors.viewer_for(user)
    return me(request)


@router.delete("/session", response={204: None}, summary="Log out")
def logout(request):
    django_logout(request)
    return Status(204, None)
