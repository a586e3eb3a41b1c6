"""Staff second factor (yiwang.web.two_factor): with YIWANG_STAFF_2FA=required a staff member without
a verified TOTP device cannot reach the staff pages; residents are never asked; "off" changes nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

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
    assert client.get("/work/").status_code == 200  # the session that enrolled is verified

    # A later login needs a code; the enrolment's code cannot be used again, the next step's can.
    client.post("/logout/")
    _login(client, "clerk_xfl")
    response = client.get("/work/")
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/verify/")
    assert client.get("/two-factor/?next=/work/")["Location"].startswith("/two-factor/verify/")  # no new device
    response = client.post("/two-factor/verify/", {"token": f"{totp(key, drift=1):06d}", "next": "/work/"})
    assert response.status_code == 302 and response["Location"] == "/work/"
    assert client.get("/work/").status_code == 200


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
    assert client.get("/work/").status_code == 200
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


def test_a_resident_is_never_asked(client, world, required):
    _login(client, "resident_wang", "pw-wang")
    assert client.get("/me/cases/").status_code == 200
    assert client.get("/grid/").status_code == 403  # refused as a resident, not sent to a second factor
    assert client.get("/two-factor/").status_code == 403


def test_optional_asks_only_those_who_enrolled(client, world, settings):
    settings.YIWANG_STAFF_2FA = "optional"
    _login(client, "clerk_xfl")
    assert client.get("/work/").status_code == 200
    _enrol(client)
    client.post("/logout/")
    _login(client, "clerk_xfl")
    assert client.get("/work/")["Location"].startswith("/two-factor/verify/")


def test_off_changes_nothing(client, world):
    _login(client, "clerk_xfl")
    assert client.get("/work/").status_code == 200
    client.force_login(world.users["admin"])
    assert client.get("/admin/").status_code == 200
