"""The REST API under /api/v1/: one NinjaAPI, token or session auth, one error format.

Every error is JSON: {"code": "...", "detail": "message", "errors": {"field": ["message", ...]}}.
App routers are added in yiwang.urls.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DataError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import BaseModel, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as PydanticValidationError

from yiwang.core import idempotency, jsonbody
from yiwang.core.errors import DomainError
from yiwang.core.text import (
    CONTROL_CHARACTERS,
    control_character_in,
    field_label,
    holds_control_character,
    refusal,
)
from yiwang.org.selectors import Viewer, request_viewer, user_for_token, viewer_for

# A str field that carries a file as base64 (a photo), marked so in the OpenAPI document (JSON Schema's
# contentEncoding) and left out of the text check: Field(None, json_schema_extra=BASE64).
BASE64 = {"contentEncoding": "base64"}


class Input(BaseModel):
    """The base of what clients send: request bodies and query filters.

    ninja's ``Schema`` wraps each object it validates in a ``DjangoGetter`` so that an output schema
    can read a model instance's attributes; a request body is a dict, and that wrapping cost 8 % of
    an intake request's instructions (bench/README.md, intake). Output schemas stay ``Schema``.

    Every str a client sends is checked here against core.text's rule, once. Which fields hold text
    is worked out once per class: the str fields' values are joined into one string, searched only
    when it is not all printable; the fields that may hold text inside (a dict such as ``form``, a
    list of str) are looked at through their repr (core.text.holds_control_character); nested Inputs
    check their own fields. ~20k instructions for an intake body of three models, 0.6 % of the
    request, where a Python loop over the fields cost ~55k. A file sent as base64
    (``Field(json_schema_extra=BASE64)``) is not text: its decoder refuses anything but base64, and
    searching 7 MB of it would cost more than the rest of the request.
    """

    _text_of: ClassVar[Callable[[dict], tuple]] = staticmethod(lambda fields: ())
    _nested_of: ClassVar[Callable[[dict], tuple] | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs):
        super().__pydantic_init_subclass__(**kwargs)
        kinds = {name: _field_kind(field) for name, field in cls.model_fields.items()}
        cls._text_of = staticmethod(_values_of([name for name, kind in kinds.items() if kind == "text"]))
        nested = [name for name, kind in kinds.items() if kind == "nested"]
        cls._nested_of = staticmethod(_values_of(nested)) if nested else None

    @model_validator(mode="after")
    def _no_control_characters(self):
        fields = self.__dict__
        # The str fields' values (None and "" dropped) in one string: printable means clean, and only
        # text with a line break, a tab or the like is searched.
        text = "".join(filter(None, self._text_of(fields)))
        if (not text.isprintable() and CONTROL_CHARACTERS.search(text)) or (
                self._nested_of is not None and holds_control_character(self._nested_of(fields))):
            _refuse_control_character(fields)
        return self


def _field_kind(field: FieldInfo) -> str:
    """"text" for ``str``, ``str | None`` and a Literal of strings; "none" for what cannot hold text
    (numbers, dates, booleans, Inputs and lists of them, which check themselves; base64 files);
    "nested" for anything else (dict, list[str], Any)."""
    if field.json_schema_extra == BASE64:
        return "none"
    annotation = field.annotation
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    if all(_is_text(member) for member in members):
        return "text"
    return "none" if all(_holds_no_text(member) for member in members) else "nested"


def _is_text(annotation) -> bool:
    return annotation is str or (typing.get_origin(annotation) is typing.Literal
                                 and all(isinstance(value, str) for value in typing.get_args(annotation)))


def _holds_no_text(annotation) -> bool:
    if annotation in (int, float, bool, dt.date, dt.datetime, dt.time, Decimal, type(None)):
        return True
    if isinstance(annotation, type) and issubclass(annotation, Input):
        return True
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        return all(_holds_no_text(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    return False


def _values_of(names: list[str]) -> Callable[[dict], tuple]:
    """fields → the values of ``names`` as a tuple, picked in C (operator.itemgetter)."""
    if not names:
        return lambda fields: ()
    pick = operator.itemgetter(*names)
    return pick if len(names) > 1 else lambda fields: (pick(fields),)


def _refuse_control_character(fields: dict):
    """A validation error at the field ("title", "form.reason") below the model, as pydantic reports its
    own: ninja prefixes where the model sits and the API's handler answers 422 naming the field."""
    for name, value in fields.items():
        found = control_character_in(value, name)
        if found:
            path, char = found
            error = PydanticCustomError("control_character", "{message}", {"message": refusal(path, char)})
            raise PydanticValidationError.from_exception_data(
                "Input", [{"type": error, "loc": tuple(field_label(path).split(".")), "input": value}])


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
        return request_viewer(request)


def clear_token_cache() -> None:
    _token_cache.clear()


api = NinjaAPI(
    title="yiwang 一网 API",
    version="1",
    description="One network for every public service and every local problem (上一张网，办所有事).",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    parser=jsonbody.JsonParser(),  # a body nested deeper than jsonbody.MAX_DEPTH is a 400, not a RecursionError
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
