"""Reads of the webhook log and the forwarding records, for the CLI and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from yiwang.integrations.models import Delivery, Forwarded, Subscription


def subscription_list() -> QuerySet[Subscription]:
    return Subscription.objects.select_related("region").order_by("name")


def delivery_list(*, subscription: str | None = None, status: str | None = None, limit: int = 50) -> list[Delivery]:
    rows = Delivery.objects.select_related("subscription").order_by("-created_at", "-pk")
    if subscription:
        rows = rows.filter(subscription__name=subscription)
    if status:
        rows = rows.filter(status=status)
    return list(rows[:limit])


def forwarded_list(*, limit: int = 50) -> list[Forwarded]:
    return list(Forwarded.objects.select_related("rule", "case").order_by("-created_at", "-pk")[:limit])
