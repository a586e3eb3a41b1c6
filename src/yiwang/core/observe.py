"""Every request gets an id, a latency measurement by route and one access log line.

The id comes from the proxy's X-Request-ID when it is well formed (so one id follows a request from
nginx to the log shipper), or is made here; it goes back on the response and on every log line of the
request (core.logging.log_context). The route is the URL pattern's name, never the path: a path holds
case numbers and tokens, and a label per path would grow without end.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from yiwang.core.logging import log_context
from yiwang.core.metrics import observe_request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
access_log = logging.getLogger("yiwang.request")


# uuid.uuid4().hex without building a UUID object (half the cost): 16 random bytes, version 4 and the
# RFC 4122 variant set in the same bits.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def request_id(request: HttpRequest) -> str:
    offered = request.META.get("HTTP_X_REQUEST_ID", "")
    if _REQUEST_ID.fullmatch(offered):
        return offered
    return "%032x" % (int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET)


def route_name(request: HttpRequest) -> str:
    """The URL pattern's name; for the REST API its pattern ("api/v1/cases/<number>"), because
    django-ninja resolves every method of a path to the pattern named after its first operation (a GET of
    the list would be labelled create_case)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    if match.namespace == "api":
        return match.route
    return match.view_name or match.route or "unnamed"


def user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id if the request already looked them up; never a lookup of its own. An API
    token's user is on the request's viewer (yiwang.api), a session's on request.user."""
    viewer = request.__dict__.get("_yiwang_viewer")
    if viewer is not None and getattr(viewer, "user_id", None) is not None:
        return viewer.user_id
    user = request.__dict__.get("user")
    if user is None:
        return None
    user = getattr(user, "_wrapped", user)
    if user is empty or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


class RequestObservationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        context = {"request_id": request_id(request)}
        # Not reset when this returns: Django logs a 5xx after the middleware (log_response), and that
        # line must carry the id too. request_finished clears it once the response is closed.
        log_context.set(context)
        response = self.get_response(request)
        duration = time.perf_counter() - started
        route = route_name(request)
        context["route"] = route
        uid = user_id(request)
        if uid is not None:
            context["user_id"] = uid
        observe_request(route=route, method=request.method or "", status=response.status_code, seconds=duration)
        response["X-Request-ID"] = context["request_id"]
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        if access_log.isEnabledFor(level):
            # The record Logger.log would make, without its walk up the stack for the caller (findCaller):
            # the caller is this line.
            access_log.handle(access_log.makeRecord(
                access_log.name, level, __file__, sys._getframe().f_lineno, "%s %s %s",
                (request.method, route, response.status_code), None, "__call__",
                {"method": request.method, "status": response.status_code, "duration_ms": round(duration * 1000, 1)},
            ))
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> None:
        # Lines logged by the view itself carry the route too.
        context = log_context.get()
        if context is not None and request.resolver_match is not None:
            context["route"] = route_name(request)
        return None


@receiver(request_finished, dispatch_uid="yiwang.observe.clear_log_context")
def _clear_log_context(**kwargs) -> None:
    log_context.set(None)
