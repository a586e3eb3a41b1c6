"""CSRF: every page URL refuses a logged-in POST without the token; the API's session auth does too,
while bearer tokens (no cookie, nothing for another site to ride on) need none."""

import json
import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from yiwang.cases.models import Case
from yiwang.testing import SENIOR_OK

# Not cookie-authenticated, so not CSRF-checked by Django: the API checks CSRF itself when a call
# rides on the session (tests below); Open311 POSTs are authorised by api_key alone (GeoReport v2).
OWN_AUTH = ("/api/v1/", "/open311/v2/")
SAMPLE = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def page_urls(patterns=None, prefix: str = ""):
    """One concrete URL for every route in the URL conf (converters filled with sample values)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry.pattern, RoutePattern):
            route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), str(entry.pattern))
        else:  # a regex route (the admin's app index and catch-all): its literal prefix is enough
            route = re.sub(r"[\^$]|\(\?P<\w+>[^)]*\)", "", str(entry.pattern.regex.pattern)).replace("\\", "") or ""
        if isinstance(entry, URLResolver):
            yield from page_urls(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield "/" + prefix + route


def test_the_walk_finds_every_page_that_takes_a_post():
    urls = set(page_urls())
    for expected in ("/login/", "/logout/", "/report/", "/matters/x/apply/", "/work/cases/x/act/x/",
                     "/i18n/setlang/", "/admin/login/", "/admin/cases/case/add/", "/ledger/items/1/report/",
                     "/party/x/grouping/", "/patrol/check-in/", "/parking/violations/1/penalty/",
                     "/command/dispatch/", "/grid/x/"):
        assert expected in urls, expected
    assert len(urls) > 80


@pytest.mark.parametrize("username", ["admin", "clerk_xfl", "resident_wang"])
def test_no_page_accepts_a_logged_in_post_without_the_token(world, username):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users[username])
    accepted = []
    for url in sorted(set(page_urls())):
        if url.startswith(OWN_AUTH):
            continue
        response = browser.post(url, {"action": "accept", "version": "1"})
        if response.status_code != 403:
            accepted.append(f"{url}: {response.status_code}")
    assert not accepted, "POST without a CSRF token was not refused:\n" + "\n".join(accepted)


def test_with_the_token_the_same_post_goes_through(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["resident_wang"])
    browser.get("/")  # sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"  # the view ran, not only answered


def test_open311_ignores_the_session_and_wants_an_api_key(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["admin"])
    response = browser.post("/open311/v2/requests.json", {"service_code": "INC_PARKING", "lat": "34.4",
                                                          "long": "108.7", "description": "乱停车"})
    assert response.status_code == 403
    assert "api_key" in response.content.decode()


def api_post(browser, path, body, **headers):
    return browser.post(f"/api/v1{path}", data=json.dumps(body), content_type="application/json", **headers)


def test_a_session_authenticated_api_write_needs_the_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["resident_wang"])
    response = api_post(browser, "/cases", {"matter_code": "SENIOR_CARD", **SENIOR_OK})
    assert response.status_code == 403
    assert not Case.objects.exists()
    assert browser.delete("/api/v1/session").status_code == 403
    browser.get("/")
    token = browser.cookies["csrftoken"].value
    response = api_post(browser, "/cases", {"matter_code": "SENIOR_CARD", **SENIOR_OK}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content


def test_a_session_with_a_bad_bearer_token_still_needs_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["resident_wang"])
    response = api_post(browser, "/cases", {"matter_code": "SENIOR_CARD", **SENIOR_OK},
                        HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_a_bearer_token_needs_no_csrf_token(world):
    from yiwang.org.services import token_create

    token = token_create(username="clerk_xfl")
    response = api_post(Client(enforce_csrf_checks=True), "/cases",
                        {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", **SENIOR_OK},
                        HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201, response.content
    assert Case.objects.get().created_by.username == "clerk_xfl"


def test_the_api_login_takes_json_only_so_no_other_site_can_post_it(world):
    # A cross-site form can send text/plain (no preflight) but not application/json.
    browser = Client(enforce_csrf_checks=True)
    body = json.dumps({"username": "resident_wang", "password": "pw-wang"})
    response = browser.post("/api/v1/session", data=body, content_type="text/plain")
    assert response.status_code == 415
    assert "_auth_user_id" not in browser.session
    assert browser.post("/api/v1/session", data=body, content_type="application/json").status_code == 200
