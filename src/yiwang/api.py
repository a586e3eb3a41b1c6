"""The REST API under /api/v1/: one NinjaAPI, token or session auth, one error format.

Every error is JSON: {"code": "...", "detail": "message", "errors": {"field": ["message", ...]}}.
App routers are added in yiwang.urls.
"""

from __future__ import annotations

import time

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DataError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from yiwang.core import idempotency, jsonbody
from yiwang.core.errors import DomainError

# Input and BASE64 live in core.schemas (every app's api.py builds on them); re-exported for the API's own use.
from yiwang.core.schemas import BASE64, Input  # noqa: F401
from yiwang.org import second_factor
from yiwang.org.selectors import Viewer, request_viewer, user_for_token, viewer_for

# Token → (viewer, fetched at): intake must not spend three queries per request on who is asking.
# A revoked token or a changed role takes effect within TOKEN_CACHE_SECONDS in every process.
TOKEN_CACHE_SECONDS = 5.0
_token_cache: dict[str, tuple[Viewer, float]] = {}


class TokenAuth(HttpBearer):
    openapi_description = "Staff and integration token: `yiwang token create USERNAME` prints one."

    def __call__(self, request):
        # ninja's reads request.headers, which walks the whole WSGI environ (the server's os.environ
        # included) to build; the one header it needs is in request.META.
        scheme, _sep, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request, token: str):
        hit = _token_cache.get(token)
        now = time.monotonic()
        if hit is not None and now - hit[1] < TOKEN_CACHE_SECONDS:
            request._yiwang_viewer = hit[0]
            return hit[0]
        user = user_for_token(token)
        if user is None:
            _token_cache.pop(token, None)
            return None
        viewer = viewer_for(user)
        if len(_token_cache) > 10_000:
            _token_cache.clear()
        _token_cache[token] = (viewer, now)
        request._yiwang_viewer = viewer
        return viewer


_LOGOUT = ("DELETE", "/api/v1/session")


class SessionAuth(APIKeyCookie):
    """A resident's or staff member's browser session (CSRF-checked on unsafe methods)."""

    param_name = "sessionid"

    def __call__(self, request):
        # CSRF guards what a session cookie signs in: a request with no signed-in session (no token, a
        # wrong or revoked one) is not signed in by one, and is answered 401 as such, not 403 "CSRF
        # check Failed" (ninja checks CSRF before it looks at the cookie).
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        viewer = request_viewer(request)
        # A staff member's password alone does not open the API when it does not open /work/: the same
        # rule as the staff pages (org.second_factor), answered 403 second_factor_required.
        step = second_factor.missing(user, viewer)
        if step is not None and (request.method, request.path_info) != _LOGOUT:  # leaving is always allowed
            raise second_factor.refusal(step)
        return viewer


def clear_token_cache() -> None:
    _token_cache.clear()


api = NinjaAPI(
    title="yiwang 一网 API",
    version="1",
    description="One network for every public service and every local problem (上一张网，办所有事).",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    parser=jsonbody.JsonParser(),  # a body nested deeper than jsonbody.MAX_DEPTH is a 400, not a RecursionError
    docs_decorator=require_safe,  # the OpenAPI document and its docs page answer any method otherwise
)
# Every unsafe operation takes an Idempotency-Key: the first decorator holds the whole operation in one
# transaction and stores its answer, the second claims the key once the caller is known (core/idempotency.py).
api.add_decorator(idempotency.idempotent, mode="view")
api.add_decorator(idempotency.claim_key, mode="operation")




def _field_name(loc: tuple) -> str:
    # ninja puts where a value came from first ("form" for a form field); after that, "form" is a field.
    parts = [str(p) for i, p in enumerate(loc)
             if p not in ("body", "query", "path", "header", "payload", "form", "params") or (p == "form" and i)]
    return ".".join(parts) or "body"


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if getattr(exc, "retry_after", None):  # core.throttle.TooManyAttempts (429)
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors: dict[str, list[str]] = {}
    for err in exc.errors:
        errors.setdefault(_field_name(tuple(err.get("loc", ()))), []).append(err.get("msg", "invalid"))
    body = {"code": "validation_failed", "detail": _("提交的内容有误，请按提示修改。"), "errors": errors}
    return api.create_response(request, body, status=422)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    detail = str(exc)
    if exc.status_code == 400 and "parse" in detail.lower():
        if jsonbody.TOO_DEEP in str(exc.__cause__):
            detail = _("请求体的 JSON 嵌套过深：最多 %(n)s 层。") % {"n": jsonbody.MAX_DEPTH}
        else:
            detail = _("请求体不是有效的 JSON。")
    return api.create_response(request, {"code": "bad_request", "detail": detail}, status=exc.status_code)


def unreadable_body(request, exc):
    """A body its Content-Type does not describe: multipart/form-data without a boundary or with parts
    that are not multipart, more fields or files than Django reads, or a form Content-Type on an
    operation that reads a JSON body (something read the stream as a form first: RawPostDataException).
    The client's, 400."""
    return api.create_response(
        request, {"code": "bad_request", "detail": _("请求体无法按其 Content-Type 读取，请检查 Content-Type 与请求体是否一致。")},
        status=400)


for _unreadable in (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, RawPostDataException):
    api.add_exception_handler(_unreadable, unreadable_body)


@api.exception_handler(AuthenticationError)
def auth_error(request, exc):
    return api.create_response(
        request, {"code": "unauthenticated", "detail": _("请先登录，或在 Authorization 头中提供有效的令牌。")},
        status=401,
    )


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    return api.create_response(request, {"code": "too_large", "detail": _("请求体过大。")}, status=413)


@api.exception_handler(DataError)
def data_error(request, exc: DataError):
    """PostgreSQL cannot store NUL (U+0000) in text and refuses it wherever it arrives (a query, a path,
    a body): that is the caller's input, answered 422 naming the field. Any other DataError is ours."""
    field = _field_with_nul(request)
    if field is None:
        raise exc
    body = {"code": "validation_failed", "detail": _("提交的内容有误，请按提示修改。"),
            "errors": {field: [_("不能含有 NUL 字符(\\u0000)。")]}}
    return api.create_response(request, body, status=422)


def _field_with_nul(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    for name, value in (match.kwargs.items() if match else ()):
        if "\x00" in str(value):
            return name
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            return name
    if request.content_type != "application/json":
        for name, values in request.POST.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return name
        return None
    try:
        return _nul_in(jsonbody.loads(request.body or b"null"), "")
    except ValueError:
        return None


def _nul_in(value, path: str) -> str | None:
    """Where in a JSON value a string holds NUL, as a dotted path ("form.reason", "groups.0.name")."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _nul_in(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None
