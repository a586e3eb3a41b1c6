"""Web security every response and request shares: the headers, and what a request may carry.

- ``SecurityHeadersMiddleware`` sends the Content-Security-Policy (no 'unsafe-inline', no
  'unsafe-eval': every script and style is a static file) and the Permissions-Policy, shaped like
  Django 6.0's ``SECURE_CSP`` so that moving to ``django.middleware.csp`` later is a settings change.
  Django's SecurityMiddleware sends the rest (nosniff, Referrer-Policy, COOP, HSTS).
- ``RequestSizeLimitMiddleware`` refuses a body larger than YIWANG_MAX_REQUEST_BYTES before anything
  reads it, and ``FileSizeLimitUploadHandler`` stops keeping an uploaded file once it is larger than
  any form takes, so an oversized file costs neither memory nor disk; the form then names it
  (cases.attachments.sniff_upload, grid.imports) instead of the server failing.
- ``ControlCharacterMiddleware`` applies core.text's rule to every query parameter and to the form
  fields of pages, Open311 and the Django admin: one check before any view (the API's bodies are
  checked by yiwang.core.schemas.Input).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from yiwang.core.text import CONTROL_CHARACTERS, field_label, refusal


def policy_header(directives: Mapping[str, Sequence[str]]) -> str:
    """``{"default-src": ["'self'"], "img-src": ["'self'", "data:"]}`` → ``default-src 'self'; img-src 'self' data:``."""
    parts = []
    for name, sources in directives.items():
        if sources is None:
            continue
        parts.append(" ".join([name, *dict.fromkeys(sources)]) if sources else name)
    return "; ".join(parts)


def permissions_header(features: Mapping[str, Sequence[str]]) -> str:
    """``{"geolocation": ["self"], "camera": []}`` → ``geolocation=(self), camera=()``."""
    return ", ".join(f"{name}=({' '.join(origins)})" for name, origins in features.items())


def tile_source(url_template: str) -> str | None:
    """The origin a Leaflet tile URL template loads images from, for img-src; None without one.

    ``https://{s}.tile.example.cn/{z}/{x}/{y}.png`` → ``https://*.tile.example.cn``: Leaflet fills
    ``{s}`` with a subdomain, which a CSP source can only match with a wildcard.
    """
    parts = urlsplit((url_template or "").replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc
    first, dot, rest = host.partition(".")
    if "*" in first and first != "*":  # t{s}.tianditu.gov.cn: a CSP wildcard is only a whole leftmost label
        host = f"*{dot}{rest}"
    return f"{parts.scheme}://{host}"


def site_policy() -> dict[str, list[str]]:
    """SECURE_CSP with the map tiles' hosts (core.maps: an XYZ server or 天地图) allowed as image sources."""
    from yiwang.core.maps import tile_urls

    policy = {name: list(sources) for name, sources in getattr(settings, "SECURE_CSP", {}).items()}
    for url in tile_urls():
        tiles = tile_source(url)
        if tiles and "img-src" in policy and tiles not in policy["img-src"]:
            policy["img-src"].append(tiles)
    return policy


class SecurityHeadersMiddleware:
    """Content-Security-Policy, Permissions-Policy and framing on every response, static files included.

    A view may send its own Content-Security-Policy (the header is only added when absent).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.policy = policy_header(site_policy())
        self.report_only = policy_header(getattr(settings, "SECURE_CSP_REPORT_ONLY", {}))
        self.permissions = permissions_header(getattr(settings, "YIWANG_PERMISSIONS_POLICY", {}))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        headers = response.headers
        # With DEBUG on, Django's own error pages (tracebacks, URL lists) are inline-styled HTML.
        debug_page = settings.DEBUG and response.status_code >= 400
        if self.policy and not debug_page:
            headers.setdefault("Content-Security-Policy", self.policy)
        if self.report_only:
            headers.setdefault("Content-Security-Policy-Report-Only", self.report_only)
        if self.permissions:
            headers.setdefault("Permissions-Policy", self.permissions)
        if not getattr(response, "xframe_options_exempt", False):
            # WhiteNoise answers static files before Django's XFrameOptionsMiddleware sees them.
            headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    """413 in the caller's format: JSON under /api/ (yiwang's error shape), a short page elsewhere."""
    megabytes = f"{limit / (1024 * 1024):g}"
    detail = _("请求过大：一次提交的内容（含文件）不能超过 %(mb)s MB。请减少或压缩文件后重试。") % {"mb": megabytes}
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "too_large", "detail": detail}, status=413)
    if request.path.startswith("/open311/"):
        return JsonResponse([{"code": 413, "description": detail}], status=413, safe=False)
    page = (f'<!doctype html><html lang="{escape(get_language() or settings.LANGUAGE_CODE)}"><meta charset="utf-8">'
            f"<title>413</title><h1>413</h1><p>{escape(detail)}</p></html>")
    return HttpResponse(page, status=413)


class RequestSizeLimitMiddleware:
    """Refuse a request body larger than YIWANG_MAX_REQUEST_BYTES from its Content-Length, unread.

    Django itself limits the non-file part of a body (DATA_UPLOAD_MAX_MEMORY_SIZE), but would stream
    any number of file bytes to disk first. Under WSGI a body without Content-Length is empty, so
    the declared length is the most a view can read.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.YIWANG_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return too_large(request, limit)
        return self.get_response(request)


class FileSizeLimitUploadHandler(FileUploadHandler):
    """Keep at most YIWANG_MAX_FILE_BYTES (plus one chunk) of each uploaded file, drop the rest.

    First in FILE_UPLOAD_HANDLERS: the handlers after it only see the chunks it passes on. An
    oversized file therefore arrives truncated but still larger than the limit, so the size checks
    that already name the field (sniff_upload: 5 MB; grid imports: 10 MB) refuse it with their
    message, without the whole file ever sitting in memory or on disk.
    """

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start > settings.YIWANG_MAX_FILE_BYTES:
            return None
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file from what it was given


FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OWN_ANSWERS = ("/api/", "/open311/")


def _control_character_field(fields) -> tuple[str, str] | None:
    """(field name, character) of the first form field or query parameter holding a refused character."""
    for name, values in fields.lists():
        for text in (name, *values):
            found = CONTROL_CHARACTERS.search(text)
            if found:
                return name, found.group()
    return None


def control_character_refused(request: HttpRequest, field: str, char: str) -> HttpResponse:
    """The refusal in the caller's format: yiwang's JSON under /api/ (422), GeoReport v2 errors under
    /open311/ (400, the spec's status for a bad argument; XML for .xml), a short page elsewhere (422)."""
    detail = refusal(field, char)
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "validation_failed", "detail": detail, "errors": {field_label(field): [detail]}},
                            status=422)
    if request.path.startswith("/open311/"):
        if request.path.endswith(".xml"):
            errors = ET.Element("errors")
            error = ET.SubElement(errors, "error")
            ET.SubElement(error, "code").text = "400"
            ET.SubElement(error, "description").text = detail
            return HttpResponse(ET.tostring(errors, encoding="utf-8", xml_declaration=True), status=400,
                                content_type="text/xml; charset=utf-8")
        return JsonResponse([{"code": 400, "description": detail}], status=400, safe=False)
    back = _("请返回上一页，删除后重新提交（从 Word 等软件粘贴的文字常带有这类字符）。")
    page = (f'<!doctype html><html lang="{escape(get_language() or settings.LANGUAGE_CODE)}"><meta charset="utf-8">'
            f"<title>422</title><h1>422</h1><p>{escape(detail)}</p><p>{escape(back)}</p></html>")
    return HttpResponse(page, status=422)


class ControlCharacterMiddleware:
    """Refuse a request whose query parameters or form fields hold a control character (core.text),
    and answer 404 for a page whose path holds one.

    One check for every page, Open311 and the admin, before any view reads the request: a field
    refused here needs no check in a view or a form. Form fields are read from form-encoded and
    multipart bodies, never an uploaded file's bytes. Fields beyond DATA_UPLOAD_MAX_MEMORY_SIZE are
    a 413; any other body Django cannot parse is Django's 400, as it was when the CSRF check (pages)
    or the view (Open311) read it first. The API's bodies are left to the API, which answers an
    unreadable one in its own format: its JSON bodies are yiwang.core.schemas.Input's, and its only form
    fields (a grid import's kind and skip_bad) are choices, not text. Its query strings are checked here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.isprintable() and CONTROL_CHARACTERS.search(path) and not path.startswith(OWN_ANSWERS):
            # A page's path names a record ("/matters/<code>/"): none has a control character in its name,
            # and PostgreSQL would refuse to look up a NUL at all (a 500 before). The API and Open311
            # answer an unknown name themselves.
            raise Http404
        found = None
        if request.META.get("QUERY_STRING"):
            found = _control_character_field(request.GET)
        if (found is None and request.method == "POST" and request.content_type in FORM_CONTENT_TYPES
                and not request.path.startswith("/api/")):
            try:
                found = _control_character_field(request.POST)
            except RequestDataTooBig:
                return too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if found is not None:
            return control_character_refused(request, *found)
        return self.get_response(request)
