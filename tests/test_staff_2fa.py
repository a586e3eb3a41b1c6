"""Staff second factor (yiwang.web.two_factor): with YIWANG_STAFF_2FA=required a staff member without
a verified TOTP device cannot reach the staff pages; residents are never asked; "off" changes nothing."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from yiwang.cases.models import Case
from yiwang.org.services import token_create
from yiwang.testing import SENIOR_OK

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings):
    settings.YIWANG_STAFF_2FA = "required"


def _login(client, username: str, password: str = "") -> None:
    password = password or f"pw-{username}"
    response = client.post("/login/", {"username": username, "password": password, "next": "/work/"})
    assert response.status_code == 302, response.content[:300]


def _secret(client) -> bytes:
    """The key the enrolment page shows, read back from its otpauth:// URI."""
    page = client.get("/two-factor/?next=/work/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code, inline
    uri = re.search(r"otpauth://totp/[^<\"]+", html).group(0).replace("&amp;", "&")
    import base64

    secret = parse_qs(urlparse(uri).query)["secret"][0]
    return base64.b32decode(secret)


def _workbench(client) -> bool:
    """The workbench itself answered, not a 200 of some other page (a refusal is a 403, a second factor
    asked for a 302)."""
    page = client.get("/work/")
    return page.status_code == 200 and "我的待办" in page.content.decode()


def _enrol(client) -> tuple[bytes, list[str]]:
    key = _secret(client)
    response = client.post("/two-factor/", {"token": f"{totp(key):06d}", "next": "/work/"})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(codes) == 10
    return key, codes


def test_staff_without_a_device_is_sent_to_enrol_then_reaches_work(client, world, required):
    _login(client, "clerk_xfl")
    response = client.get("/work/")
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/?next=")
    for staff_page in ("/command/", "/ledger/", "/grid/", "/admin/"):
        assert client.get(staff_page)["Location"].startswith("/two-factor/"), staff_page
    key, _codes = _enrol(client)
    assert TOTPDevice.objects.get(user__username="clerk_xfl").confirmed
    assert _workbench(client)  # the session that enrolled is verified

    # A later login needs a code; the enrolment's code cannot be used again, the next step's can.
    client.post("/logout/")
    _login(client, "clerk_xfl")
    response = client.get("/work/")
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/verify/")
    assert client.get("/two-factor/?next=/work/")["Location"].startswith("/two-factor/verify/")  # no new device
    response = client.post("/two-factor/verify/", {"token": f"{totp(key, drift=1):06d}", "next": "/work/"})
    assert response.status_code == 302 and response["Location"] == "/work/"
    assert _workbench(client)


def test_a_wrong_code_is_refused_with_a_message_and_throttled(client, world, required):
    _login(client, "clerk_xfl")
    key, _codes = _enrol(client)
    client.post("/logout/")
    _login(client, "clerk_xfl")
    wrong = f"{(totp(key, drift=1) + 1) % 1000000:06d}"
    response = client.post("/two-factor/verify/", {"token": wrong, "next": "/work/"})
    assert response.status_code == 422
    assert "验证码不正确" in response.content.decode()
    assert client.get("/work/").status_code == 302
    # django-otp's throttling: right after a failure even the right code waits.
    response = client.post("/two-factor/verify/", {"token": f"{totp(key, drift=1):06d}", "next": "/work/"})
    assert response.status_code == 422 and "尝试次数过多" in response.content.decode()
    assert client.get("/work/").status_code == 302


def test_a_recovery_code_works_once(client, world, required):
    _login(client, "leader_kg")
    _key, codes = _enrol(client)
    assert StaticToken.objects.filter(device__user__username="leader_kg").count() == 10
    client.post("/logout/")
    _login(client, "leader_kg")
    response = client.post("/two-factor/verify/", {"token": codes[0].upper(), "next": "/command/"})
    assert response.status_code == 302 and response["Location"] == "/command/"
    assert _workbench(client)
    assert StaticToken.objects.filter(device__user__username="leader_kg").count() == 9
    client.post("/logout/")
    _login(client, "leader_kg")
    response = client.post("/two-factor/verify/", {"token": codes[0], "next": "/work/"})
    assert response.status_code == 422 and "验证码不正确" in response.content.decode()


def test_a_superuser_is_asked_too_and_the_admin_shows_who_enrolled(client, world, required):
    _login(client, "clerk_xfl")
    _enrol(client)
    client.post("/logout/")
    client.post("/admin/login/", {"username": "admin", "password": "pw-admin"})
    assert client.get("/admin/")["Location"].startswith("/two-factor/?next=/admin/")
    _enrol(client)
    page = client.get("/admin/org/staff/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "已启用二次验证" in html
    assert html.count('alt="True"') == 1  # clerk_xfl; every other staff member has not enrolled
    assert 'alt="False"' in html
    # The user list shows it too, for accounts without a membership (the superuser) as well.
    users = client.get("/admin/auth/user/?o=1").content.decode()
    assert "已启用二次验证" in users
    rows = {row.split("</a>")[0].rsplit(">", 1)[-1]: row for row in users.split('<tr')[2:]}
    assert rows["admin"].count('alt="True"') == 3  # is_staff, is_superuser, and enrolled
    assert 'alt="False"' in rows["leader_kg"]


def test_a_resident_is_never_asked(client, world, required):
    _login(client, "resident_wang", "pw-wang")
    page = client.get("/me/cases/")
    assert page.status_code == 200 and "我的办件" in page.content.decode()
    # Refused as a resident, with the reason, not sent to a second factor nor offered to enrol one.
    page = client.get("/grid/")
    assert page.status_code == 403 and "网格页面只对工作人员开放" in page.content.decode()
    page = client.get("/two-factor/")
    assert page.status_code == 403 and "仅限工作人员" in page.content.decode()
    assert not TOTPDevice.objects.filter(user__username="resident_wang").exists()


def test_optional_asks_only_those_who_enrolled(client, world, settings):
    settings.YIWANG_STAFF_2FA = "optional"
    _login(client, "clerk_xfl")
    assert _workbench(client)
    _enrol(client)
    client.post("/logout/")
    _login(client, "clerk_xfl")
    assert client.get("/work/")["Location"].startswith("/two-factor/verify/")


def test_off_changes_nothing(client, world):
    _login(client, "clerk_xfl")
    assert _workbench(client)
    client.force_login(world.users["admin"])
    page = client.get("/admin/")
    assert page.status_code == 200 and 'href="/admin/auth/user/"' in page.content.decode()


# --- the API: a session is refused as the staff pages refuse it ---------------------------------------

def _api_login(client, username: str, **extra):
    body = {"username": username, "password": f"pw-{username}", **extra}
    return client.post("/api/v1/session", data=json.dumps(body), content_type="application/json")


def _second_factor_refused(response) -> None:
    assert response.status_code == 403, response.content[:300]
    assert response.json()["code"] == "second_factor_required"


def test_a_password_session_of_staff_is_refused_by_the_api_until_verified(client, world, required):
    _login(client, "clerk_xfl")
    key, _codes = _enrol(client)
    client.post("/logout/")
    _login(client, "clerk_xfl")  # the password only
    _second_factor_refused(client.get("/api/v1/me"))
    _second_factor_refused(client.get("/api/v1/cases"))
    # A write with the CSRF token is refused too, and nothing is written.
    client_csrf = Client(enforce_csrf_checks=True)
    client_csrf.cookies = client.cookies
    token = client.get("/login/").cookies.get("csrftoken") or client.cookies["csrftoken"]
    response = client_csrf.post("/api/v1/cases", data=json.dumps({"matter_code": "SENIOR_CARD", **SENIOR_OK}),
                                content_type="application/json", HTTP_X_CSRFTOKEN=token.value,
                                HTTP_IDEMPOTENCY_KEY="2fa-refused-write")
    _second_factor_refused(response)
    assert not Case.objects.exists()
    # Verified on the page, the same session reaches the API.
    client.post("/two-factor/verify/", {"token": f"{totp(key, drift=1):06d}", "next": "/work/"})
    assert client.get("/api/v1/me").json()["username"] == "clerk_xfl"


def test_staff_without_a_device_are_refused_by_the_api_and_told_to_enrol(client, world, required):
    _login(client, "clerk_xfl")
    response = client.get("/api/v1/me")
    _second_factor_refused(response)
    assert "/two-factor/" in response.json()["detail"]
    # A superuser without a staff membership, and Django's is_staff, are staff here too.
    client.force_login(world.users["admin"])
    _second_factor_refused(client.get("/api/v1/me"))


def test_an_unverified_session_may_still_log_out(client, world, required):
    _login(client, "clerk_xfl")
    assert client.delete("/api/v1/session").status_code == 204
    assert "_auth_user_id" not in client.session


def test_the_api_login_of_staff_needs_the_code_and_starts_no_session_without_it(client, world, required):
    _login(client, "clerk_xfl")
    key, codes = _enrol(client)
    client.post("/logout/")
    response = _api_login(client, "clerk_xfl")
    _second_factor_refused(response)
    assert "otp_token" in response.json()["errors"]
    assert "_auth_user_id" not in client.session
    wrong = f"{(totp(key) + 1) % 1000000:06d}"
    response = _api_login(client, "clerk_xfl", otp_token=wrong)
    _second_factor_refused(response)
    assert "_auth_user_id" not in client.session
    # A recovery code logs in (once); the session is verified, so the API answers.
    response = _api_login(client, "clerk_xfl", otp_token=codes[1].upper())
    assert response.status_code == 200, response.content
    assert client.get("/api/v1/me").json()["username"] == "clerk_xfl"
    assert _workbench(client)
    client.delete("/api/v1/session")
    _second_factor_refused(_api_login(client, "clerk_xfl", otp_token=codes[1]))


def test_the_api_login_of_staff_without_a_device_is_refused(client, world, required):
    response = _api_login(client, "clerk_xfl", otp_token="123456")
    _second_factor_refused(response)
    assert "_auth_user_id" not in client.session


def test_residents_and_tokens_are_not_asked(client, world, required):
    answer = _api_login(client, "resident_wang", password="pw-wang")
    assert answer.status_code == 200 and answer.json()["username"] == "resident_wang"
    assert client.get("/api/v1/me").json()["username"] == "resident_wang"
    machine = Client()
    token = token_create(username="clerk_xfl")
    answer = machine.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200 and answer.json()["username"] == "clerk_xfl"


def test_optional_lets_the_api_session_of_staff_without_a_device_through(client, world, settings):
    settings.YIWANG_STAFF_2FA = "optional"
    _login(client, "clerk_xfl")
    answer = client.get("/api/v1/me")
    assert answer.status_code == 200 and answer.json()["username"] == "clerk_xfl"
    _enrol(client)
    client.post("/logout/")
    _login(client, "clerk_xfl")
    _second_factor_refused(client.get("/api/v1/me"))


# --- recovery codes: shown and replaced after proving it is the person again --------------------------

def test_recovery_codes_are_replaced_after_a_current_code_and_the_old_ones_stop_working(client, world, required):
    _login(client, "clerk_xfl")
    key, old = _enrol(client)
    page = client.get("/two-factor/recovery/")
    assert page.status_code == 200 and "还有 10 个恢复码未使用" in page.content.decode()
    assert not any(code in page.content.decode() for code in old)  # nothing shown before asking again
    response = client.post("/two-factor/recovery/", {"token": f"{totp(key, drift=1):06d}", "action": "replace"})
    assert response.status_code == 200
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user__username="clerk_xfl").values_list("token", flat=True)) == set(new)
    client.post("/logout/")
    _login(client, "clerk_xfl")
    refused = client.post("/two-factor/verify/", {"token": old[0], "next": "/work/"})
    assert refused.status_code == 422
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    from django_otp.plugins.otp_static.models import StaticDevice

    StaticDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert client.post("/two-factor/verify/", {"token": new[0], "next": "/work/"})["Location"] == "/work/"


def test_the_unused_codes_are_shown_after_the_password(client, world, required):
    _login(client, "leader_kg")
    _key, codes = _enrol(client)
    client.post("/logout/")
    _login(client, "leader_kg")
    client.post("/two-factor/verify/", {"token": codes[0], "next": "/work/"})
    response = client.post("/two-factor/recovery/", {"password": "pw-leader_kg", "action": "show"})
    shown = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert response.status_code == 200 and shown == codes[1:]  # the used one is gone


def test_recovery_codes_are_not_shown_for_a_wrong_password_a_recovery_code_or_an_unverified_session(
        client, world, required):
    _login(client, "clerk_xfl")
    _key, codes = _enrol(client)
    for body, message in (({"password": "nope"}, "密码不正确"),
                          ({"token": codes[2]}, "恢复码不能用来查看恢复码"),
                          ({"token": "000000"}, "验证码不正确"),
                          ({}, "请输入验证器上的验证码或您的登录密码")):
        response = client.post("/two-factor/recovery/", {**body, "action": "show"})
        html = response.content.decode()
        assert response.status_code in (422, 429) and not any(code in html for code in codes), body
        assert message in html or "尝试次数过多" in html, (body, html[-800:])
    # Holding the password alone (a session not yet verified) gets no codes: it is sent to verify.
    client.post("/logout/")
    _login(client, "clerk_xfl")
    response = client.post("/two-factor/recovery/", {"password": "pw-clerk_xfl", "action": "replace"})
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/verify/")
    assert StaticToken.objects.filter(device__user__username="clerk_xfl").count() == 10


def test_a_resident_has_no_recovery_codes_page(client, world, required):
    _login(client, "resident_wang", "pw-wang")
    assert client.get("/two-factor/recovery/").status_code == 403


# --- the portal's pages where a staff session has staff powers ------------------------------------------

def _resident_case(world):
    from yiwang.cases.services import case_create

    return case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case


def test_an_unverified_staff_session_reads_no_case_and_applies_for_nobody(client, world, required, settings):
    case = _resident_case(world)  # a resident's case in the clerk's community: readable by the clerk
    _login(client, "clerk_xfl")
    for path in (f"/cases/{case.number}/", f"/cases/{case.number}/photos/1/0/", "/matters/SENIOR_CARD/apply/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"].startswith("/two-factor/"), path
    posted = client.post("/matters/SENIOR_CARD/apply/", {"f_birth_date": "1950-01-01", "applicant_name": "=1+1",
                                                          "applicant_phone": "13800000009", "seen_id_card": "on"})
    assert posted.status_code == 302 and posted["Location"].startswith("/two-factor/")
    assert Case.objects.count() == 1
    # Through the API, by the number or a guessed one, the same refusal and nothing of the case.
    for path in (f"/api/v1/cases/{case.number}", "/api/v1/cases/KG-0000-000001", "/api/v1/units"):
        answer = client.get(path)
        _second_factor_refused(answer)
        assert case.number not in answer.content.decode() and "王" not in answer.content.decode()
    # The public pages are not guarded: a guide reads the same for anyone.
    page = client.get("/matters/SENIOR_CARD/")
    assert page.status_code == 200 and "老年证办理" in page.content.decode()
    # The control: with the second factor off, this very session reads the case (it is in the clerk's scope).
    settings.YIWANG_STAFF_2FA = "off"
    page = client.get(f"/cases/{case.number}/")
    assert page.status_code == 200 and case.number in page.content.decode()
    answer = client.get(f"/api/v1/cases/{case.number}")
    assert answer.status_code == 200 and answer.json()["number"] == case.number


def test_a_resident_uses_the_same_pages_unasked(client, world, required):
    case = _resident_case(world)
    _login(client, "resident_wang", "pw-wang")
    page = client.get(f"/cases/{case.number}/")
    assert page.status_code == 200 and case.number in page.content.decode()
    page = client.get("/matters/SENIOR_CARD/apply/")
    assert page.status_code == 200 and 'name="idempotency_key"' in page.content.decode()  # the form, unasked
