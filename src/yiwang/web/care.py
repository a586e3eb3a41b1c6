"""长辈版 (适老化): larger text, higher contrast and fewer things per page, chosen by the visitor and
kept in a cookie (a display preference, no account needed, nothing personal)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

COOKIE = "yiwang_care"
ONE_YEAR = 365 * 24 * 3600


def is_on(request: HttpRequest) -> bool:
    return request.COOKIES.get(COOKIE) == "1"


@require_POST
def toggle(request: HttpRequest):
    """Switch 长辈版 on or off, back to the page it was asked from (on this site only)."""
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if request.POST.get("on") == "1":
        response.set_cookie(COOKIE, "1", max_age=ONE_YEAR, samesite="Lax", secure=request.is_secure(), httponly=True)
    else:
        response.delete_cookie(COOKIE, samesite="Lax")
    return response
