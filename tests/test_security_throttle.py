"""Login throttling: too many failed passwords per username or per address refuse further attempts
without checking the password, on the login page, the admin's login page and POST /api/v1/session."""

import datetime as dt
import json
import logging

import pytest
from django.test import Client, RequestFactory

from yiwang.core import clock, throttle
from yiwang.core.models import LoginFailure


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.YIWANG_LOGIN_FAILURES_PER_USERNAME = 5
    settings.YIWANG_LOGIN_FAILURES_PER_ADDRESS = 20
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_PROXY_COUNT = 0


def page_login(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def api_login(client, username, password, address="10.0.0.1"):
    return client.post("/api/v1/session", data=json.dumps({"username": username, "password": password}),
                       content_type="application/json", REMOTE_ADDR=address)


@pytest.fixture
def no_password_checks(monkeypatch):
    """Fail the test if a password is checked from here on."""

    def refuse(*args, **kwargs):
        raise AssertionError("the password was checked")

    monkeypatch.setattr(throttle.auth, "authenticate", refuse)


def test_the_sixth_attempt_for_a_username_is_refused_without_checking_the_password(client, world, monkeypatch):
    for _ in range(5):
        response = page_login(client, "clerk_xfl", "wrong")
        assert response.status_code == 200
        assert "用户名或密码不正确" in response.content.decode()
    monkeypatch.setattr(throttle.auth, "authenticate", lambda *a, **k: pytest.fail("the password was checked"))
    response = page_login(client, "clerk_xfl", "pw-clerk_xfl")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 800
    assert "登录失败次数过多，请 15 分钟后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_username_is_counted_whatever_its_case(client, world):
    for name in ("Clerk_XFL", "clerk_xfl", "CLERK_xfl", " clerk_xfl", "clerk_XFL"):
        page_login(client, name, "wrong")
    assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 429


def test_other_usernames_still_log_in_while_one_is_throttled(client, world):
    for _ in range(5):
        page_login(client, "clerk_xfl", "wrong")
    response = page_login(client, "handler_xfl", "pw-handler_xfl")
    assert response.status_code == 302


def test_an_address_trying_many_usernames_is_refused(client, world, no_password_checks):
    for i in range(20):
        throttle.login_failed(username=f"guess{i}", address="10.0.0.9")
    response = page_login(client, "clerk_xfl", "pw-clerk_xfl", address="10.0.0.9")
    assert response.status_code == 429


def test_a_correct_password_clears_the_usernames_failures(client, world):
    for _ in range(4):
        page_login(client, "clerk_xfl", "wrong")
    assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302
    client.logout()
    for _ in range(4):
        assert page_login(client, "clerk_xfl", "wrong").status_code == 200
    assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302


def test_attempts_are_allowed_again_once_the_failures_leave_the_window(client, world):
    start = clock.now()
    with clock.frozen_at(start):
        for _ in range(5):
            page_login(client, "clerk_xfl", "wrong")
        assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 429
    with clock.frozen_at(start + dt.timedelta(minutes=15, seconds=1)):
        assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302


def test_failures_are_rows_every_worker_process_sees_and_old_ones_are_pruned(world):
    start = clock.now()
    with clock.frozen_at(start - dt.timedelta(hours=1)):
        throttle.login_failed(username="old", address="10.0.0.2")
    with clock.frozen_at(start):
        throttle.login_failed(username="clerk_xfl", address="10.0.0.1")
    assert sorted(LoginFailure.objects.values_list("key", flat=True)) == ["address:10.0.0.1", "user:clerk_xfl"]


def test_the_api_answers_429_with_retry_after(client, world):
    for _ in range(5):
        assert api_login(client, "resident_wang", "nope").status_code == 403
    response = api_login(client, "resident_wang", "pw-wang")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_attempts"
    assert "15 分钟" in body["detail"]
    assert 800 < int(response["Retry-After"]) <= 900


def test_the_admin_login_is_throttled_too(client, world):
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "pw-admin"},
                           REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 200
    assert "登录失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_are_logged_without_the_password(client, world, caplog):
    with caplog.at_level(logging.WARNING, logger="yiwang.security"):
        for _ in range(6):
            page_login(client, "clerk_xfl", "S3cret-guess!")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "login failed" in text and "clerk_xfl" in text and "10.0.0.1" in text
    assert "too many failures" in text
    assert "S3cret-guess!" not in text


def test_the_client_address_comes_from_our_proxies_only(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert throttle.client_address(request) == "10.1.1.1"  # no proxy declared: the header is the client's
    settings.YIWANG_PROXY_COUNT = 1
    assert throttle.client_address(request) == "203.0.113.7"  # written by our proxy; 6.6.6.6 is made up


def test_an_ipv6_client_is_counted_by_its_64_prefix(world, no_password_checks):
    for i in range(20):
        throttle.login_failed(username=f"guess{i}", address=f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(throttle.TooManyAttempts):
        throttle.login_check(username="someone", address="2001:db8:1:2:ffff::1")
    throttle.login_check(username="someone", address="2001:db8:1:3::1")  # another subscriber


def test_a_throttled_page_login_still_needs_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/login/", {"username": "clerk_xfl", "password": "x"}).status_code == 403
    assert not LoginFailure.objects.exists()
