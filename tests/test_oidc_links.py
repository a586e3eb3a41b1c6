"""Linking accounts to 统一身份认证 subjects (org.oidc.link_create): `yiwang oidc` and the admin.

The login through a linked subject is proven against the real provider in tests/test_oidc.py; here,
what an administrator may and may not link, without a provider.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from yiwang.org.models import OidcLink

pytestmark = pytest.mark.django_db
ISSUER = "https://sso.example.gov.cn"


@pytest.fixture(autouse=True)
def _issuer(settings):
    settings.YIWANG_OIDC_ISSUER = ISSUER


def oidc(*args: str) -> str:
    out = StringIO()
    call_command("oidc", *args, stdout=out)
    return out.getvalue()


def test_link_list_and_unlink(world):
    assert oidc("link", "clerk_xfl", "--sub", "sub-42") == f"linked clerk_xfl to sub-42 at {ISSUER}\n"
    link = OidcLink.objects.get()
    assert (link.user.username, link.issuer, link.subject) == ("clerk_xfl", ISSUER, "sub-42")
    assert oidc("list") == f"clerk_xfl\t{ISSUER}\tsub-42\t-\n"
    assert oidc("list", "leader_kg") == ""
    oidc("unlink", "clerk_xfl", "--sub", "sub-42")
    assert not OidcLink.objects.exists()


def test_a_subject_already_linked_is_refused_naming_its_account(world):
    oidc("link", "resident_wang", "--sub", "sub-wang")
    with pytest.raises(CommandError, match="已绑定账号 resident_wang"):
        oidc("link", "clerk_xfl", "--sub", " sub-wang ")  # the same subject, spaces around it
    assert list(OidcLink.objects.values_list("user__username", flat=True)) == ["resident_wang"]
    # Another provider's subject of the same name is another person.
    oidc("link", "clerk_xfl", "--sub", "sub-wang", "--issuer", "https://other.example.gov.cn/")
    assert OidcLink.objects.filter(user__username="clerk_xfl", issuer="https://other.example.gov.cn").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("link", "nobody", "--sub", "x"), "no user named 'nobody'"),
    (("link", "clerk_xfl", "--sub", ""), "身份标识"),
    (("link", "clerk_xfl", "--sub", "sub\x1b[2J"), "控制字符"),
    (("link", "clerk_xfl", "--sub", "x" * 256), "255"),
    (("link", "clerk_xfl", "--sub", "x", "--issuer", "javascript:alert(1)"), "https://"),
    (("unlink", "clerk_xfl", "--sub", "never-linked"), "没有绑定"),
])
def test_bad_links_are_refused_with_a_message(world, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace("[", r"\[")):
        oidc(*args)
    assert not OidcLink.objects.exists()


def test_without_an_issuer_configured_one_must_be_given(world, settings):
    settings.YIWANG_OIDC_ISSUER = ""
    with pytest.raises(CommandError, match="YIWANG_OIDC_ISSUER"):
        oidc("link", "clerk_xfl", "--sub", "sub-42")
    oidc("link", "clerk_xfl", "--sub", "sub-42", "--issuer", ISSUER)
    assert OidcLink.objects.get().issuer == ISSUER


def test_an_inactive_account_is_not_linked(world):
    world.users["clerk_xfl"].is_active = False
    world.users["clerk_xfl"].save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="已停用"):
        oidc("link", "clerk_xfl", "--sub", "sub-42")


def test_a_subject_with_control_characters_is_listed_escaped(world):
    from yiwang.core import clock

    OidcLink.objects.create(user=world.users["resident_wang"], issuer=ISSUER, subject="a\x1b[31mred",
                            created_at=clock.now())  # as a provider's login could have stored it
    assert "\x1b" not in oidc("list") and "\\x1b" in oidc("list")


def test_the_admin_links_a_staff_account_and_refuses_a_taken_subject(client, world):
    client.force_login(world.users["admin"])
    page = client.get("/admin/org/oidclink/add/")
    assert page.status_code == 200 and ISSUER in page.content.decode()  # the issuer is filled in
    clerk = world.users["clerk_xfl"]
    answer = client.post("/admin/org/oidclink/add/", {"user": clerk.pk, "issuer": ISSUER, "subject": " sub-7 "})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    link = OidcLink.objects.get()
    assert (link.user_id, link.subject, link.created_at is not None) == (clerk.pk, "sub-7", True)
    taken = client.post("/admin/org/oidclink/add/", {"user": world.users["leader_kg"].pk, "issuer": ISSUER,
                                                     "subject": "sub-7"})
    assert taken.status_code == 200 and "已绑定账号 clerk_xfl" in taken.content.decode()
    hostile = client.post("/admin/org/oidclink/add/", {"user": clerk.pk, "issuer": ISSUER, "subject": "=1+1\x07"})
    assert hostile.status_code == 422  # core.security's control-character guard, before the form
    formula = client.post("/admin/org/oidclink/add/", {"user": clerk.pk, "issuer": ISSUER, "subject": "=1+1"})
    assert formula.status_code == 302  # an opaque identifier may look like anything; it is stored as text
    assert "=1+1" in client.get("/admin/org/oidclink/").content.decode()
    OidcLink.objects.filter(subject="=1+1").delete()
    assert OidcLink.objects.count() == 1
    listing = client.get("/admin/org/oidclink/")
    assert listing.status_code == 200 and "sub-7" in listing.content.decode()
    # A link is made or deleted, never edited into another account's.
    change = client.get(f"/admin/org/oidclink/{link.pk}/change/")
    assert change.status_code == 200 and 'name="subject"' not in change.content.decode()


def test_only_superusers_reach_the_links_in_the_admin(client, world):
    client.force_login(world.users["clerk_xfl"])
    answer = client.get("/admin/org/oidclink/")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
