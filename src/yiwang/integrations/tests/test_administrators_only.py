"""Subscriptions and forwarding rules are an administrator's (a superuser's) alone: in the admin, even
for a staff account given every model permission, and on the command line."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from yiwang.integrations.models import Delivery, Subscription

PAGES = ["integrations_subscription", "integrations_delivery", "integrations_forwardingrule",
         "integrations_forwarded"]


def test_a_staff_account_with_every_permission_is_still_refused(world, client):
    user = world.users["operator_kg"]
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))
    client.force_login(user)
    for page in PAGES:
        assert client.get(reverse(f"admin:{page}_changelist")).status_code == 403
        assert client.get(reverse(f"admin:{page}_add")).status_code == 403
    answer = client.post(reverse("admin:integrations_subscription_add"),
                         {"name": "leak", "url": "https://evil.example/", "secret": "x", "actions": "[]"})
    assert answer.status_code == 403 and not Subscription.objects.exists()
    assert b"integrations" not in client.get(reverse("admin:index")).content


def test_the_administrator_subscribes_in_the_admin_and_hostile_text_is_shown_escaped(world, client):
    client.force_login(world.users["admin"])
    answer = client.post(reverse("admin:integrations_subscription_add"), {
        "name": "<script>alert(1)</script>=1+1", "url": "https://receiver.example/hook", "secret": "s",
        "actions": '["submit", "close"]', "active": "on"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    page = client.get(reverse("admin:integrations_subscription_changelist")).content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert Subscription.objects.get().actions == ["submit", "close"]
    answer = client.post(reverse("admin:integrations_subscription_add"), {
        "name": "typo", "url": "https://receiver.example/hook", "secret": "s", "actions": '["clsoe"]'})
    assert answer.status_code == 200 and "clsoe" in answer.content.decode()
    assert not Subscription.objects.filter(name="typo").exists()


def test_the_cli_adds_lists_and_replays(world):
    out = io.StringIO()
    call_command("webhooks", "add", "city-platform", "https://receiver.example/hook", "--action", "submit",
                 "--region", "KG", stdout=out)
    assert "secret (shown once" in out.getvalue()
    out = io.StringIO()
    call_command("webhooks", "list", stdout=out)
    assert "city-platform  https://receiver.example/hook  submit  KG  active" in out.getvalue()
    with pytest.raises(CommandError, match="region"):
        call_command("webhooks", "add", "x", "https://receiver.example/", "--region", "NOWHERE", stdout=io.StringIO())
    with pytest.raises(CommandError, match="delivery"):
        call_command("webhooks", "replay", stdout=io.StringIO())
    out = io.StringIO()
    call_command("webhooks", "replay", "--subscription", "city-platform", stdout=out)
    assert out.getvalue().strip() == "0 queued again" and not Delivery.objects.exists()
