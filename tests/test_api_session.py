"""Residents use the API from a browser session; writes then need the CSRF token."""

import json

import pytest
from django.test import Client

from yiwang.cases.models import Case
from yiwang.testing import SENIOR_OK


@pytest.fixture
def browser(world):
    return Client(enforce_csrf_checks=True)


def login(browser, username, password):
    return browser.post("/api/v1/session", data=json.dumps({"username": username, "password": password}),
                        content_type="application/json")


def test_a_resident_logs_in_and_applies_with_the_csrf_token(browser):
    assert login(browser, "resident_wang", "pw-wang").status_code == 200
    token = browser.cookies["csrftoken"].value
    response = browser.post("/api/v1/cases", data=json.dumps({"matter_code": "SENIOR_CARD", **SENIOR_OK}),
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert response.json()["holder_unit"]["code"] == "KG-DZ-XFL-SH"


def test_a_session_write_without_the_csrf_token_is_refused(browser):
    login(browser, "resident_wang", "pw-wang")
    response = browser.post("/api/v1/cases", data=json.dumps({"matter_code": "SENIOR_CARD", **SENIOR_OK}),
                            content_type="application/json")
    assert response.status_code == 403, response.content
    assert not Case.objects.exists()


def test_a_wrong_password_is_a_403_naming_the_field(browser):
    response = login(browser, "resident_wang", "nope")
    assert response.status_code == 403
    assert "password" in response.json()["errors"]


def test_logging_out_ends_the_session(browser):
    login(browser, "resident_wang", "pw-wang")
    token = browser.cookies["csrftoken"].value
    assert browser.get("/api/v1/me").json()["username"] == "resident_wang"
    assert browser.delete("/api/v1/session", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert "_auth_user_id" not in browser.session
    me = browser.get("/api/v1/me")
    assert me.status_code == 401 and me.json()["code"] == "unauthenticated"
    # The browser can no longer write as her either, token or not.
    token = browser.cookies["csrftoken"].value
    response = browser.post("/api/v1/cases", data=json.dumps({"matter_code": "SENIOR_CARD", **SENIOR_OK}),
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert not Case.objects.exists()
