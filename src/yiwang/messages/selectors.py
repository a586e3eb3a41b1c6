"""Every read of the outbox: what was sent to an address (the CLI), a recipient's in-app messages."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from yiwang.messages.models import Channel, ChannelPreference, Message


def message_list(*, to: str | None = None, status: str | None = None, limit: int = 50) -> list[Message]:
    """The newest messages first, to one address if given (a phone, an e-mail address, or an in-app
    label such as "resident:7")."""
    rows = Message.objects.order_by("-created_at", "-pk")
    if to:
        rows = rows.filter(to=to)
    if status:
        rows = rows.filter(status=status)
    return list(rows[:limit])


def inbox(*, resident_id: int | None = None, user_id: int | None = None) -> QuerySet[Message]:
    """A resident's or a user's in-app messages, newest first."""
    rows = Message.objects.filter(channel=Channel.INAPP).order_by("-created_at", "-pk")
    if resident_id is not None:
        return rows.filter(resident_id=resident_id)
    if user_id is not None:
        return rows.filter(user_id=user_id)
    return rows.none()


def preferences_of(user_ids: Iterable[int]) -> dict[int, ChannelPreference]:
    """The saved channel preferences of these users, by user id (a user without one is missing)."""
    return {p.user_id: p for p in ChannelPreference.objects.filter(user_id__in=sorted(set(user_ids)))}
