"""Web security every response and request shares: the headers, and what a request may carry.

- ``SecurityHeadersMiddleware`` sends the Content-Security-Policy (no 'unsafe-inline', no
  'unsafe-eval': every script and style is a static file) and the Permissions-Policy, shaped like
  Django 6.0's ``SECURE_CSP`` so that moving to ``django.middleware.csp`` later is a settings change.
  Django's SecurityMiddleware sends the rest (nosniff, Referrer-Policy, COOP, HSTS).
- ``RequestSizeLimitMiddleware`` refuses a body larger than YIWANG_MAX_REQUEST_BYTES before anything
  reads it, and ``FileSizeLimitUploadHandler`` stops keeping an uploaded file once it is larger than
  any form takes, so an oversized file costs neither memory nor disk; the form then names it
  (cases.attachments.sniff_upload, grid.imports) instead of the server failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _


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
    return f"{parts.scheme}://{parts.netloc}"


def site_policy() -> dict[str, list[str]]:
    """SECURE_CSP with the map tiles' host (YIWANG_TILE_URL) allowed as an image source."""
    policy = {name: list(sources) for name, sources in getattr(settings, "SECURE_CSP", {}).items()}
    tiles = tile_source(getattr(settings, "YIWANG_TILE_URL", ""))
    if tiles and "img-src" in policy:
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
