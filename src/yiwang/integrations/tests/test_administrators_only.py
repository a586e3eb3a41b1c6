"""Subscriptions and forwarding rules are an administrator's (a superuser's) alone: in the admin, even
for a staff account given every model permission, and on the command line."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from yiwang.cases.services import case_create
from yiwang.integrations import services
from yiwang.integrations.models import Delivery, DeliveryStatus, Subscription

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
    # A row reached by its id (guessed, or from a log): refused too, and a replay changes nothing.
    sub = services.subscription_add(name="real", url="https://receiver.example/hook")
    case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                title="楼下乱停车", channel="online")
    delivery = Delivery.objects.get()
    for page, pk in (("integrations_subscription_change", sub.pk), ("integrations_delivery_change", delivery.pk),
                     ("integrations_subscription_delete", sub.pk)):
        assert client.get(reverse(f"admin:{page}", args=[pk])).status_code == 403
    answer = client.post(reverse("admin:integrations_delivery_changelist"),
                         {"action": "replay", "_selected_action": [delivery.pk]})
    assert answer.status_code == 403
    assert client.post(reverse("admin:integrations_subscription_delete", args=[sub.pk]), {"post": "yes"}).status_code == 403
    assert Subscription.objects.filter(pk=sub.pk).exists()


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
    # The administrator replays a delivery given up on, from the list.
    case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                title="楼下乱停车", channel="online")
    Delivery.objects.update(status=DeliveryStatus.DEAD, attempts=20)
    delivery = Delivery.objects.get()
    answer = client.post(reverse("admin:integrations_delivery_changelist"),
                         {"action": "replay", "_selected_action": [delivery.pk]})
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert client.get(reverse("admin:integrations_delivery_change", args=[delivery.pk])).status_code == 200


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
