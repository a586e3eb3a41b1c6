"""Security headers on every response: pages, the API, static files and error pages."""

import re
from pathlib import Path

import pytest
from django.test import Client

from yiwang.core.security import policy_header, tile_source

SRC = Path(__file__).resolve().parents[1] / "src" / "yiwang"


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def assert_secured(response) -> None:
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "geolocation=(self)" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/", "/login/", "/lookup/", "/no/such/page/"])
def test_every_page_carries_the_headers(client, db, path):
    assert_secured(client.get(path))


def test_the_api_and_its_errors_carry_the_headers(client, db):
    assert_secured(client.get("/api/v1/regions"))
    assert_secured(client.get("/api/v1/me"))  # 401


def test_static_files_carry_the_headers(settings, tmp_path, db):
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    response = Client().get("/static/web/site.css")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    assert b"".join(response.streaming_content) == (SRC / "web" / "static" / "web" / "site.css").read_bytes()
    assert_secured(response)


def test_a_server_error_carries_the_headers(db, monkeypatch):
    from yiwang.web import views

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.catalog_selectors, "matter_list", lambda **kw: broken(None))
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    text = response.content.decode()
    assert "系统繁忙" in text and "boom" not in text and "Traceback" not in text  # templates/500.html
    assert_secured(response)


def test_with_debug_on_django_error_pages_keep_their_inline_styles(client, db, settings):
    settings.DEBUG = True
    assert "Content-Security-Policy" not in Client().get("/no/such/page/")
    assert "Content-Security-Policy" in Client().get("/")


def test_the_map_tile_host_is_an_allowed_image_source(client, db, settings):
    settings.YIWANG_TILE_URL = "https://{s}.tiles.example.gov.cn/{z}/{x}/{y}.png"
    img = directives(Client().get("/"))["img-src"]
    assert img == ["'self'", "data:", "blob:", "https://*.tiles.example.gov.cn"]


def test_without_tiles_only_the_site_and_inline_images_are_allowed(client, db, settings):
    settings.YIWANG_TILE_URL = ""
    assert directives(Client().get("/"))["img-src"] == ["'self'", "data:", "blob:"]


def test_a_tile_template_gives_its_origin():
    assert tile_source("http://10.0.0.5:8080/tiles/{z}/{x}/{y}.png") == "http://10.0.0.5:8080"
    assert tile_source("") is None
    assert tile_source("javascript:alert(1)") is None


def test_a_policy_is_written_in_directive_order():
    assert policy_header({"default-src": ["'self'"], "upgrade-insecure-requests": [], "img-src": None}) == (
        "default-src 'self'; upgrade-insecure-requests")


def test_hsts_and_secure_cookies_are_off_unless_https_is_declared(settings):
    # YIWANG_HTTPS=1 (docs/security.md) turns them on; the test settings are plain HTTP.
    assert settings.SECURE_HSTS_SECONDS == 0
    assert not settings.SESSION_COOKIE_SECURE and not settings.CSRF_COOKIE_SECURE


def test_https_settings_follow_the_environment():
    import os
    import subprocess
    import sys

    code = ("from yiwang import settings as s; print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)")
    env = {**os.environ, "YIWANG_HTTPS": "1", "YIWANG_PROXY_COUNT": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split(None, 4) == ["31536000", "True", "True", "True",
                                         "('HTTP_X_FORWARDED_PROTO', 'https')\n"]


# What the policy would block, searched for in every template and in yiwang's own scripts.
INLINE = [
    (re.compile(r"\sstyle\s*="), "a style attribute"),
    (re.compile(r"<style"), "a <style> element"),
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>"), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on… event handler attribute"),
    (re.compile(r"\bhx-on"), "an hx-on handler (htmx evaluates it)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]
SCRIPT_EVAL = [
    (re.compile(r"\beval\s*\("), "eval()"),
    (re.compile(r"new\s+Function\s*\("), "new Function()"),
    (re.compile(r"setAttribute\(\s*['\"]style"), "setAttribute('style')"),
    (re.compile(r"style\s*=\s*\\?['\"]"), "markup with a style attribute"),
]


def test_no_template_has_inline_script_or_style():
    found = []
    for path in SRC.glob("*/templates/**/*.html"):
        text = path.read_text()
        for pattern, what in INLINE:
            found += [f"{path.relative_to(SRC)}: {what}" for _m in pattern.finditer(text)]
    assert not found, "\n".join(found)


def test_no_script_of_ours_evaluates_code_or_writes_style_attributes():
    found = []
    for path in SRC.glob("*/static/*/*.js"):
        if path.parent.name == "vendor":
            continue  # htmx (hx-on, off by allowEval: false), ECharts (HTML tooltips, unused): test_csp.py
        text = path.read_text()
        for pattern, what in SCRIPT_EVAL:
            found += [f"{path.relative_to(SRC)}: {what}" for _m in pattern.finditer(text)]
    assert not found, "\n".join(found)
