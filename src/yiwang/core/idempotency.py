"""Idempotency-Key on the REST API: a retried POST, PUT, PATCH or DELETE takes effect once, and every
retry gets the first answer.

The header and its errors follow the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header): 400 for a malformed key, 422 when a key comes back with
another request, 409 while the first request with the key is still running. Keys are scoped to the
caller (like Stripe's), so two clients cannot collide or read each other's answers.

How a request with a key runs (two django-ninja decorators, wired in yiwang.api):

1. ``idempotent`` wraps the whole operation (authentication, validation, handler, error handlers) in
   one ``transaction.atomic``; on SQLite (IMMEDIATE) that takes the write lock, as any write does.
2. ``claim_key`` runs once the caller is known and the input valid, just before the handler: it
   INSERTs the key row (unique on caller + key). A duplicate racing the first one waits on that
   constraint (PostgreSQL) or on the write lock (SQLite) until the first commits, then finds the row
   and replays it. If the first is still running after WAIT_SECONDS, PostgreSQL gives up with 409.
   We wait rather than answer 409 at once: the key row only becomes visible when the first request
   commits, which is also exactly when its answer is ready.
3. A finished request keeps its row only when the handler's answer is below 400: the row and the
   handler's writes commit together. Any other outcome (refused input, a 4xx from a service, a 5xx, a
   replay) rolls the whole transaction back, so nothing of it survives and a retry with the same key
   runs afresh. Unlike Stripe, which stores answers to requests that began executing, we never pin a
   refusal: one transaction means a refused request wrote nothing, so running it again is safe, and a
   client may correct its body and resend under the same key.

Rows live KEEP_FOR (24 hours, as Stripe); older ones are ignored and purged by the worker's sweep
(``purge_expired``). Case intake also keeps its own per-user key on the case (cases.services.case_create),
which pages and Open311 use and which still answers a replay after the row here has expired.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja.params.models import FileModel, FormModel

from yiwang.core import clock, jsonbody
from yiwang.core.errors import BadParameter, Conflict, ValidationFailed
from yiwang.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# Read from request.META: request.headers walks the whole WSGI environ (the server's own
# os.environ included) to build its mapping, on every request that asks.
META_KEY = "HTTP_" + HEADER.upper().replace("-", "_")
REPLAYED_HEADER = "Idempotent-Replayed"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY_LENGTH = 255
KEEP_FOR = dt.timedelta(hours=24)
# How long a duplicate waits for the first request with its key before 409 (PostgreSQL lock_timeout;
# SQLite waits for its write lock as long as any writer does, the busy timeout in settings).
WAIT_SECONDS = 10.0
# Besides status, body and content type, the answer's headers a replay repeats.
STORED_HEADERS = ("Location", "Content-Language", "Content-Disposition")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# The hidden field that carries a page form's key (rendered fresh with each form: uuid4().hex).
PAGE_FIELD = "idempotency_key"


class BadKey(BadParameter):
    pass


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"


class KeyInUse(Conflict):
    code = "idempotency_key_in_use"


def parse_key(value: str) -> str:
    """The key from the header's value: 1–255 printable ASCII characters.

    The draft defines the value as a Structured Field string ("…"); clients mostly send it bare,
    so both forms name the same key.
    """
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        message = _("Idempotency-Key 须为 1 到 %(n)s 个可打印的 ASCII 字符，例如一个 UUID。") % {"n": MAX_KEY_LENGTH}
        raise BadKey(message, field=HEADER)
    return value


def request_key(request: HttpRequest, *, max_length: int = 64) -> str | None:
    """The request's Idempotency-Key for a service that keeps its own (case intake), or None.

    A key longer than ``max_length`` is passed on as its digest so that it fits the service's column.
    """
    value = request.META.get(META_KEY)
    if not value:
        return None
    key = parse_key(value)
    return key if len(key) <= max_length else hashlib.sha256(key.encode()).hexdigest()[:max_length]


def fingerprint(request: HttpRequest, *, reads_form: bool = True) -> str:
    """What makes a retry the same request: method, path with query, and the body's content.

    A JSON body counts by its value, not its bytes (key order and spacing may change between a first
    try and a retry); a form by its fields and files, not by its multipart boundary.

    The body is read the way the handler will read it, never another way: reading it as a form
    consumes the stream, after which the raw bytes cannot be had. ``reads_form`` is False for an API
    operation without form or file parameters: its body is bytes whatever the Content-Type claims (a
    "multipart/form-data" header over JSON, or over nothing a multipart parser can read).
    """
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    if reads_form and request.method == "POST" and request.content_type in FORM_TYPES:
        for name, values in sorted(request.POST.lists()):
            if name != "csrfmiddlewaretoken":  # masked anew on every page render
                digest.update(json.dumps([name, values], ensure_ascii=False).encode())
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                digest.update(json.dumps([name, upload.name, upload.size]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    body = request.body
    if request.content_type == "application/json" and body:
        # Not JSON after all, or nested deeper than the handler reads (core.jsonbody): the handler
        # refuses it, and the bytes are what the client sent.
        with contextlib.suppress(ValueError):
            body = json.dumps(jsonbody.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def identity_of(request: HttpRequest) -> str | None:
    """Whom a key belongs to: the authenticated user (a token or a session of theirs)."""
    user_id = getattr(getattr(request, "auth", None), "user_id", None)
    return f"user:{user_id}" if user_id is not None else None


@dataclass
class _Attempt:
    key: str
    fingerprint: str
    record: IdempotencyRecord | None = None  # set once this request holds the key
    unscoped: bool = False  # no caller to scope the key to: the request runs as if it had none


def idempotent(run: Callable) -> Callable:
    """django-ninja "view" decorator (around Operation.run): one transaction per keyed request, and
    its answer stored with its writes. Operations without authentication (logging in) are left as
    they are: there is no one to scope a key to."""
    operation = getattr(run, "__self__", None)
    reads_form = True
    if operation is not None:
        if not operation.auth_callbacks or not UNSAFE_METHODS & set(operation.methods):
            return run
        _document(operation)
        reads_form = any(issubclass(model, FormModel | FileModel) for model in operation.models)

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in UNSAFE_METHODS or META_KEY not in request.META:
            return run(request, *args, **kwargs)
        try:
            key = parse_key(request.META[META_KEY])
        except BadKey as exc:
            return JsonResponse(exc.as_dict(), status=exc.status)
        try:
            attempt = request._idempotency = _Attempt(key=key, fingerprint=fingerprint(request, reads_form=reads_form))
        except Exception as exc:
            # A body the handler could not read either (too large, a broken multipart body): the answer
            # it would have had, through the API's error handlers; what they do not know is raised.
            if operation is None:
                raise
            return operation.api.on_exception(request, exc)
        with transaction.atomic():
            response = run(request, *args, **kwargs)
            if attempt.record is not None and response.status_code < 400:
                _store(attempt.record, response)
            elif not attempt.unscoped:
                transaction.set_rollback(True)
        return response

    return wrapper


def claim_key(view_func: Callable) -> Callable:
    """django-ninja "operation" decorator (around the handler, after authentication and validation):
    take the key, or answer with what the first request under it answered."""

    @functools.wraps(view_func)
    def wrapper(request: HttpRequest, *args, **kwargs):
        attempt: _Attempt | None = getattr(request, "_idempotency", None)
        if attempt is None:
            return view_func(request, *args, **kwargs)
        identity = identity_of(request)
        if identity is None:
            attempt.unscoped = True
            return view_func(request, *args, **kwargs)
        claimed = _claim(request, identity, attempt)
        if isinstance(claimed, HttpResponse):
            return claimed
        attempt.record = claimed
        return view_func(request, *args, **kwargs)

    return wrapper


def idempotent_page(view: Callable) -> Callable:
    """The same guarantee for a page form that posts a hidden ``idempotency_key``: a double click, a
    reload that re-posts, or a resend after a lost answer runs the view once and answers the first
    answer again (typically the redirect to what was created). Put it below the login decorators.

    Only answers below 400 are kept, so a view that refuses a form must answer 4xx (the pages answer
    422 with the form and its messages) for the corrected form to go through under the same key.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        value = request.POST.get(PAGE_FIELD) if request.method == "POST" else None
        user = getattr(request, "user", None)
        if not value or user is None or not user.is_authenticated:
            return view(request, *args, **kwargs)
        try:
            key = parse_key(value)
        except BadKey:
            return HttpResponse(_("表单已过期，请刷新页面后重新填写。"), status=400, content_type="text/plain; charset=utf-8")
        attempt = _Attempt(key=key, fingerprint=fingerprint(request))
        with transaction.atomic():
            try:
                claimed = _claim(request, f"page user:{user.pk}", attempt)
            except KeyReused:
                claimed = HttpResponse(_("这个表单已经提交过。如需再提交一份，请刷新页面后重新填写。"), status=422,
                                       content_type="text/plain; charset=utf-8")
            except KeyInUse:
                claimed = HttpResponse(_("表单正在提交，请稍候刷新查看结果。"), status=409,
                                       content_type="text/plain; charset=utf-8")
            if isinstance(claimed, HttpResponse):
                transaction.set_rollback(True)
                return claimed
            response = view(request, *args, **kwargs)
            if response.status_code < 400:
                _store(claimed, response)
            else:
                transaction.set_rollback(True)
        return response

    return wrapper


def _claim(request: HttpRequest, identity: str, attempt: _Attempt) -> IdempotencyRecord | HttpResponse:
    now = clock.now()
    record = IdempotencyRecord(identity=identity, key=attempt.key, fingerprint=attempt.fingerprint,
                               method=request.method, path=request.get_full_path()[:500], created_at=now)
    for _try in range(2):
        try:
            with transaction.atomic():
                _insert(record)
            return record
        except IntegrityError:
            pass
        first = IdempotencyRecord.objects.filter(identity=identity, key=attempt.key).first()
        if first is None:
            continue  # purged between our INSERT and this SELECT: the key is free again
        if first.created_at <= now - KEEP_FOR:
            first.delete()  # expired but not yet purged: this request starts afresh
            continue
        if first.fingerprint != attempt.fingerprint:
            raise KeyReused(
                _("这个 Idempotency-Key 已用于另一个请求（%(method)s %(path)s，请求内容不同）。重试时请原样重发，"
                  "新的请求请换一个新的键。") % {"method": first.method, "path": first.path}, field=HEADER)
        return _replay(first)
    raise KeyInUse(_("使用这个 Idempotency-Key 的请求仍在处理中，请稍后重试。"), field=HEADER)


def _insert(record: IdempotencyRecord) -> None:
    """INSERT the key row; a duplicate waits for the first holder at most WAIT_SECONDS (PostgreSQL)."""
    if connection.vendor != "postgresql":
        record.save(force_insert=True)
        return
    with connection.cursor() as cursor:
        # Local to the savepoint the caller opened: undone with it, and reset after the INSERT so the
        # handler's own row locks wait as they always do.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(WAIT_SECONDS * 1000)}ms"])
        try:
            record.save(force_insert=True)
        except OperationalError as exc:
            if getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "55P03":  # lock_not_available
                raise KeyInUse(_("使用这个 Idempotency-Key 的请求仍在处理中，请稍后重试。"), field=HEADER) from exc
            raise
        cursor.execute("SET LOCAL lock_timeout TO DEFAULT")


def _store(record: IdempotencyRecord, response: HttpResponse) -> None:
    headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=response.status_code, content_type=response.get("Content-Type", ""), headers=headers,
        body=b"" if response.streaming else response.content,
    )


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body), status=record.status, content_type=record.content_type or None)
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def purge_expired() -> int:
    """Delete the rows older than KEEP_FOR; returns how many. Safe to run at any time, twice at once."""
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=clock.now() - KEEP_FOR).delete()
    return deleted


def _document(operation) -> None:
    """Show the header on the operation in /api/v1/openapi.json."""
    parameter = {
        "in": "header", "name": HEADER, "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        "description": (
            "Makes a retry safe: the first request with a key takes effect; a retry with the same key and "
            f"the same method, path and body gets the first answer again (with `{REPLAYED_HEADER}: true`) "
            f"without acting twice. A key is kept {KEEP_FOR.total_seconds() / 3600:g} hours per user. The "
            "same key with another request: 422. While the first is still running, a retry waits for its "
            f"answer (409 after {WAIT_SECONDS:g} s). Only answers below 400 are kept: after a refusal, the "
            "request may be corrected and sent again under the same key."
        ),
    }
    extra = dict(operation.openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), parameter]
    operation.openapi_extra = extra
