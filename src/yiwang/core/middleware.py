"""Django's request middleware, made cheaper where a request does not use it, and the answer to what a
view lets out.

``LazyMessageMiddleware`` is ``django.contrib.messages``' middleware with the message storage built
when a view or template first touches it, not on every request. Building it (a FallbackStorage: a
cookie signer and a session storage) cost ~0.18 M instructions, 3-4 % of an API case intake
(bench/intake_profile.py), and the API and most pages never show a message.

``ErrorResponseMiddleware`` answers an exception a view lets out when it is the caller's or the
moment's, not a bug: a DomainError with its status, a database that cannot answer with 503.
"""

from __future__ import annotations

import json
import logging
import sys

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.templatetags.static import static
from django.utils.functional import SimpleLazyObject, empty
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults

from yiwang.core import db, pages
from yiwang.core.errors import DomainError, InternalError, Unavailable

log = logging.getLogger("yiwang.db")
# What Django itself answers with a 4xx (django.core.handlers.exception.response_for_exception): a
# client's mistake or a refusal, never a bug. /api/v1/ raises Http404 (nothing lives there).
NOT_A_BUG = (Http404, PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)
request_log = logging.getLogger("django.request")
MACHINE_PREFIXES = ("/api/", "/open311/")  # answered to programs, in JSON


class LazyMessageMiddleware(MessageMiddleware):
    """MessageMiddleware whose ``request._messages`` is built on first use.

    A storage that was never used has nothing to store, so the response is left as it is, exactly
    as ``BaseStorage.update()`` leaves it when nothing was read or added.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


class ErrorResponseMiddleware:
    """A DomainError or a lost database out of any view, answered in the caller's format: the API's
    error JSON under /api/ (``{"code", "detail", "errors"}``), Open311's list of errors under /open311/,
    a short page elsewhere.

    - A DomainError keeps its status and message. The API and Open311 answer their own, so this is for
      pages: a refusal such as core.forms.BadParameter (400, naming the field) needs no try/except in
      the view. (Pages that show the message beside a form field still catch it themselves.)
    - A database that cannot answer now (core.db.unavailable: a dropped PostgreSQL connection, a
      failover, SQLite's write lock past its timeout) is 503 with Retry-After, logged as an error,
      instead of Django's HTML 500: the transaction was rolled back and the request may be sent again.

    Anything else is a bug and goes on to Django's 500. A page's NotFound and PermissionDenied are the
    site's 404 and 403 pages with the reason (core.pages.refusal_page); any other status is plain HTML
    without the site's base template, which would query the database for the header it draws.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if db.unavailable(exception):
            error: DomainError = _database_unavailable(request, exception)
        elif isinstance(exception, DomainError):
            error = exception
        elif request.path.startswith(MACHINE_PREFIXES) and not settings.DEBUG and not isinstance(exception, NOT_A_BUG):
            # A client program parses JSON: a bug answers the documented error format, logged in full
            # and signalled as Django would (ADMINS mail; the test client re-raises it), with no
            # traceback in the answer.
            request_log.error("Internal Server Error: %s", request.path, exc_info=exception,
                              extra={"status_code": 500, "request": request})
            signals.got_request_exception.send(sender=None, request=request)
            error = InternalError(_("服务器内部错误，已记录，请稍后重试。"))
        else:
            return None
        return error_response(request, error)


def _database_unavailable(request: HttpRequest, exception: BaseException) -> Unavailable:
    log.error("database unavailable: %s %s answered 503", request.method, request.path, exc_info=exception)
    return Unavailable(_("系统暂时无法访问数据库，请稍后重试。"))


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the answer to an exception raised outside any view, where ErrorResponseMiddleware's
    process_exception never sees it — a middleware that queries before the view (the session, OTP's
    ``request.user``, the second-factor check) or after it (the session's save).

    Django converts such an exception into a response at the middleware's own layer
    (``convert_exception_to_response``), so no outer middleware could catch it; it calls this view from
    inside its ``except`` block, with the exception in ``sys.exc_info()``, having signalled
    ``got_request_exception``; it logs the answer's status afterwards. A database that cannot answer is the same 503 as in a view;
    a bug is the JSON 500 to a program, and Django's 500 page (templates/500.html) to a person.
    """
    exception = sys.exc_info()[1]
    if exception is not None and db.unavailable(exception):
        return error_response(request, _database_unavailable(request, exception))
    if request.path.startswith(MACHINE_PREFIXES):
        return error_response(request, InternalError(_("服务器内部错误，已记录，请稍后重试。")))
    return defaults.server_error(request)


def error_response(request: HttpRequest, error: DomainError) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error.as_dict(), status=error.status)
    elif request.path.startswith("/open311/"):
        body = [{"code": error.status, "description": error.message}]
        response = HttpResponse(json.dumps(body, ensure_ascii=False), status=error.status,
                                content_type="application/json; charset=utf-8")
    elif (page := pages.refusal_page(request, error)) is not None:
        response = page
    else:
        again = (f'<p><a href="{escape(request.get_full_path())}">{escape(_("重试"))}</a></p>'
                 if request.method == "GET" else "")
        page = (f'<!doctype html><html lang="{escape(get_language() or "zh-hans")}"><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<link rel="stylesheet" href="{escape(static("web/site.css"))}">'
                f"<title>{error.status}</title><main><h1>{error.status}</h1><p>{escape(error.message)}</p>"
                f"{again}</main></html>")
        response = HttpResponse(page, status=error.status, content_type="text/html; charset=utf-8")
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


class TraditionalScriptMiddleware:
    """A 繁體 (zh-hant) HTML page is converted to Traditional whole (core.script), stored data included.

    Listed after CommonMiddleware so that its Content-Length is computed on the converted page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (getattr(request, "LANGUAGE_CODE", "") == "zh-hant" and not response.streaming
                and response.get("Content-Type", "").startswith("text/html") and response.content):
            from yiwang.core.script import html_to_traditional

            charset = response.charset or "utf-8"
            response.content = html_to_traditional(response.content.decode(charset)).encode(charset)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
