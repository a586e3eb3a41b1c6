"""Login throttling: too many failed passwords refuse further attempts without checking the password,
on the login page, the admin's login page and POST /api/v1/session — counted atomically, and against
the owner's device cookie rather than the username and address when the browser has one."""

import datetime as dt
import json
import logging
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connections
from django.test import Client, RequestFactory

from yiwang.core import clock, throttle
from yiwang.core.models import LoginFailure


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.YIWANG_LOGIN_FAILURES_PER_DEVICE = 5
    settings.YIWANG_LOGIN_FAILURES_PER_USERNAME = 5
    settings.YIWANG_LOGIN_FAILURES_PER_ADDRESS = 100
    settings.YIWANG_LOGIN_WINDOW_SECONDS = 900
    settings.YIWANG_LOGIN_DEVICE_DAYS = 180
    settings.YIWANG_PROXY_COUNT = 0


def page_login(client, username, password, address="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def api_login(client, username, password, address="10.0.0.1"):
    return client.post("/api/v1/session", data=json.dumps({"username": username, "password": password}),
                       content_type="application/json", REMOTE_ADDR=address)


def guess(username, address, password="wrong"):
    """One attempt straight through core.throttle, without a device cookie: None, a user, or raises."""
    return throttle.authenticate(RequestFactory().post("/login/", REMOTE_ADDR=address),
                                 username=username, password=password)


def lock_out(username, address="203.0.113.9"):
    """An anonymous guesser (another browser, another address) exhausts ``username``'s limit."""
    guesser = Client()
    for _ in range(8):
        page_login(guesser, username, "wrong", address=address)
    assert page_login(guesser, username, "wrong", address=address).status_code == 429
    return guesser


def device_cookie(client):
    return client.cookies[throttle.DEVICE_COOKIE]


def edited_to(value, **changes):
    """A signed cookie with its payload edited and its timestamp and signature kept."""
    payload, timestamp, signature = value.rsplit(":", 2)
    data = json.loads(signing.b64_decode(payload.encode())) | changes
    return f"{signing.b64_encode(json.dumps(data).encode()).decode()}:{timestamp}:{signature}"


def refused_unchecked(client, username, password, address="10.0.0.1", minutes=15, why=""):
    """A page login that must be refused (429, saying to wait) without its password being checked."""
    real = throttle.auth.authenticate
    throttle.auth.authenticate = lambda *a, **k: pytest.fail("the password was checked")
    try:
        response = page_login(client, username, password, address=address)
    finally:
        throttle.auth.authenticate = real
    assert response.status_code == 429, why
    assert int(response["Retry-After"]) > 0
    assert f"登录失败次数过多，请 {minutes} 分钟后再试" in response.content.decode()
    assert "_auth_user_id" not in client.session
    return response


def logged_in_as(client, username):
    return get_user_model().objects.get(pk=client.session["_auth_user_id"]).username == username


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
    refused_unchecked(client, "clerk_xfl", "pw-clerk_xfl")
    refused_unchecked(client, "CLERK_XFL", "pw-clerk_xfl")


def test_other_usernames_still_log_in_while_one_is_throttled(client, world):
    for _ in range(5):
        page_login(client, "clerk_xfl", "wrong")
    response = page_login(client, "handler_xfl", "pw-handler_xfl")
    assert response.status_code == 302 and logged_in_as(client, "handler_xfl")
    client.logout()
    refused_unchecked(client, "clerk_xfl", "pw-clerk_xfl")  # the throttled one still is


def test_an_address_trying_many_usernames_is_refused(client, world):
    for i in range(100):
        assert guess(f"guess{i}", "10.0.0.9") is None
    with pytest.raises(throttle.TooManyAttempts):
        guess("guess100", "10.0.0.9")
    refused_unchecked(client, "clerk_xfl", "pw-clerk_xfl", address="10.0.0.9")


def test_a_correct_password_clears_the_usernames_failures(client, world):
    for _ in range(4):
        page_login(client, "clerk_xfl", "wrong")
    assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302
    assert not LoginFailure.objects.filter(key__startswith="user:").exists()
    client.logout()
    for _ in range(4):
        assert page_login(client, "clerk_xfl", "wrong").status_code == 200
    # Eight failures in the window, but only four since the success: still allowed, and it logs in.
    assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302
    assert logged_in_as(client, "clerk_xfl")


def test_attempts_are_allowed_again_once_the_failures_leave_the_window(client, world):
    start = clock.now()
    with clock.frozen_at(start):
        for _ in range(5):
            page_login(client, "clerk_xfl", "wrong")
        refused_unchecked(client, "clerk_xfl", "pw-clerk_xfl")
    with clock.frozen_at(start + dt.timedelta(minutes=14, seconds=59)):
        refused_unchecked(client, "clerk_xfl", "pw-clerk_xfl", minutes=1)
    with clock.frozen_at(start + dt.timedelta(minutes=15, seconds=1)):
        assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302
        assert logged_in_as(client, "clerk_xfl")


def test_refused_attempts_do_not_extend_the_lockout(client, world):
    start = clock.now()
    with clock.frozen_at(start):
        for _ in range(5):
            page_login(client, "clerk_xfl", "wrong")
    with clock.frozen_at(start + dt.timedelta(minutes=14)):
        for _ in range(3):
            assert page_login(client, "clerk_xfl", "wrong").status_code == 429
    assert LoginFailure.objects.count() == 10  # the five failures, each against the username and the address
    with clock.frozen_at(start + dt.timedelta(minutes=15, seconds=1)):
        assert page_login(client, "clerk_xfl", "pw-clerk_xfl").status_code == 302


def test_failures_are_rows_every_worker_process_sees_and_old_ones_are_pruned(world):
    start = clock.now()
    with clock.frozen_at(start - dt.timedelta(hours=1)):
        guess("old", "10.0.0.2")
    with clock.frozen_at(start):
        guess("clerk_xfl", "10.0.0.1")
    assert sorted(LoginFailure.objects.values_list("key", flat=True)) == ["address:10.0.0.1", "user:clerk_xfl"]


def test_a_correct_password_leaves_no_row_behind(world):
    assert guess("clerk_xfl", "10.0.0.1", password="pw-clerk_xfl") is not None
    assert not LoginFailure.objects.exists()


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


def test_an_ipv6_client_is_counted_by_its_64_prefix(world):
    for i in range(100):
        guess(f"guess{i}", f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(throttle.TooManyAttempts):
        guess("someone", "2001:db8:1:2:ffff::1")
    assert guess("someone", "2001:db8:1:3::1") is None  # another subscriber: checked (and wrong)


def test_a_throttled_page_login_still_needs_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/login/", {"username": "clerk_xfl", "password": "x"}).status_code == 403
    assert not LoginFailure.objects.exists()


# Counting is atomic -----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(monkeypatch):
    get_user_model().objects.create_user("clerk_race", password="pw-clerk_race")
    checks, outcomes, tally = [], [], threading.Lock()
    check_password = throttle.auth.authenticate

    def counted(*args, **kwargs):
        with tally:
            checks.append(kwargs["username"])
        return check_password(*args, **kwargs)

    monkeypatch.setattr(throttle.auth, "authenticate", counted)
    racers = 16
    start = threading.Barrier(racers)

    def attempt(i: int) -> None:
        try:
            start.wait(10)
            try:  # each from its own address: a guesser spread out, limited by the username alone
                outcome = guess("clerk_race", f"10.9.0.{i + 1}")
            except throttle.TooManyAttempts:
                outcome = "refused"
            with tally:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(outcomes) == racers
    assert len(checks) <= 5
    assert outcomes.count(None) == len(checks)  # every check failed; every other attempt was refused
    # The refused attempts left nothing behind: the rows are the checked ones, and the limit still
    # admits exactly the rest of its five, one after the other.
    assert LoginFailure.objects.filter(key="user:clerk_race").count() == len(checks)
    while True:
        try:
            guess("clerk_race", "10.9.1.1")
        except throttle.TooManyAttempts:
            break
    assert len(checks) == 5


# Slow the guesser, not the owner -----------------------------------------------------------------------

def test_a_successful_login_earns_a_signed_http_only_same_site_device_cookie(client, world):
    assert page_login(client, "clerk_xfl", "wrong").cookies.get(throttle.DEVICE_COOKIE) is None
    page_login(client, "clerk_xfl", "pw-clerk_xfl")
    cookie = device_cookie(client)
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain HTTP (a development server): a Secure cookie would never come back
    assert int(cookie["max-age"]) == 180 * 86400
    payload = signing.loads(cookie.value, salt=throttle.DEVICE_SALT)
    assert payload["user"] == "clerk_xfl" and len(payload["nonce"]) >= 16
    over_https = client.post("/login/", {"username": "clerk_xfl", "password": "pw-clerk_xfl"}, secure=True)
    assert over_https.cookies[throttle.DEVICE_COOKIE]["secure"] is True
    assert signing.loads(over_https.cookies[throttle.DEVICE_COOKIE].value, salt=throttle.DEVICE_SALT)["nonce"] != \
        payload["nonce"]  # every login issues a new one


def test_an_anonymous_guesser_does_not_lock_the_owner_out(world):
    owner = Client()
    assert page_login(owner, "clerk_xfl", "pw-clerk_xfl").status_code == 302
    owner.post("/logout/")  # the device cookie stays with the browser
    guesser = lock_out("clerk_xfl")

    assert page_login(Client(), "clerk_xfl", "pw-clerk_xfl").status_code == 429  # a new browser is anyone
    assert page_login(owner, "clerk_xfl", "pw-clerk_xfl").status_code == 302
    assert "_auth_user_id" in owner.session
    # The owner getting in gave the guesser no new tries.
    assert page_login(guesser, "clerk_xfl", "pw-clerk_xfl", address="203.0.113.9").status_code == 429


def test_a_forged_or_other_users_device_cookie_counts_as_none(world):
    colleague = Client()
    page_login(colleague, "handler_xfl", "pw-handler_xfl")
    colleague.post("/logout/")
    lock_out("clerk_xfl")

    forged = {
        "another key": signing.dumps({"user": "clerk_xfl", "nonce": "n" * 22}, key="not-our-secret",
                                     salt=throttle.DEVICE_SALT),
        "another salt": signing.dumps({"user": "clerk_xfl", "nonce": "n" * 22}),
        "edited": edited_to(device_cookie(colleague).value, user="clerk_xfl"),
        "garbage": "clerk_xfl",
    }
    for why, value in forged.items():
        browser = Client()
        browser.cookies[throttle.DEVICE_COOKIE] = value
        refused_unchecked(browser, "clerk_xfl", "pw-clerk_xfl", why=why)
    # The colleague's own cookie is for handler_xfl, not for the username they now try.
    refused_unchecked(colleague, "clerk_xfl", "pw-clerk_xfl")
    assert page_login(colleague, "handler_xfl", "pw-handler_xfl").status_code == 302
    assert logged_in_as(colleague, "handler_xfl")


def test_an_expired_device_cookie_counts_as_none(world, settings):
    owner = Client()
    page_login(owner, "clerk_xfl", "pw-clerk_xfl")
    owner.post("/logout/")
    lock_out("clerk_xfl")
    settings.YIWANG_LOGIN_DEVICE_DAYS = -1  # issued more than the allowed days ago
    refused_unchecked(owner, "clerk_xfl", "pw-clerk_xfl")


def test_the_owners_typos_on_their_browser_have_a_small_limit_of_their_own(world):
    owner = Client()
    page_login(owner, "clerk_xfl", "pw-clerk_xfl")
    owner.post("/logout/")
    for _ in range(5):
        assert page_login(owner, "clerk_xfl", "wrong").status_code == 200
    response = page_login(owner, "clerk_xfl", "pw-clerk_xfl")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 800
    # They were counted against the cookie alone: the username is not locked for other browsers.
    assert not LoginFailure.objects.filter(key__startswith="user:").exists()
    assert page_login(Client(), "clerk_xfl", "pw-clerk_xfl").status_code == 302


def test_an_office_behind_one_address_is_not_locked_by_one_user(world):
    office = "10.20.30.40"
    typist = Client()
    for _ in range(30):
        page_login(typist, "clerk_xfl", "wrong", address=office)
    assert page_login(typist, "clerk_xfl", "pw-clerk_xfl", address=office).status_code == 429
    # Five failures counted against the address, not thirty: the refused ones left nothing.
    assert LoginFailure.objects.filter(key=f"address:{office}").count() == 5
    assert page_login(Client(), "handler_xfl", "pw-handler_xfl", address=office).status_code == 302
    assert page_login(Client(), "resident_wang", "pw-wang", address=office).status_code == 302


def test_the_api_honours_the_device_cookie(client, world):
    assert api_login(client, "resident_wang", "pw-wang").status_code == 200
    assert device_cookie(client)["httponly"] is True
    guesser = Client()
    for _ in range(5):
        assert api_login(guesser, "resident_wang", "nope", address="203.0.113.9").status_code == 403
    assert api_login(guesser, "resident_wang", "pw-wang", address="203.0.113.9").status_code == 429
    assert api_login(Client(), "resident_wang", "pw-wang").status_code == 429
    assert api_login(client, "resident_wang", "pw-wang").status_code == 200


def test_the_admin_login_honours_the_device_cookie(world):
    admin = Client()
    assert admin.post("/admin/login/", {"username": "admin", "password": "pw-admin"}).status_code == 302
    admin.post("/admin/logout/")
    lock_out("admin")
    response = admin.post("/admin/login/?next=/admin/", {"username": "admin", "password": "pw-admin"})
    assert response.status_code == 302
    assert "_auth_user_id" in admin.session
