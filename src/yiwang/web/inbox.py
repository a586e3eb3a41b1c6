"""A resident's in-app messages (站内消息): what they were told about their cases, by SMS and here.

Thin: the messages app's selector reads the inbox, its service marks a message read. Opening the page
marks the messages it shows read, as an inbox does; the ones that were unread are marked on the page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from yiwang.cases.models import NUMBER_RE
from yiwang.core.pagination import page_of, seek
from yiwang.messages import selectors as message_selectors
from yiwang.messages import services as message_services
from yiwang.org.selectors import request_viewer

PER_PAGE = 20


@login_required(login_url="web:login")
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    """消息: the resident's in-app messages, newest first, 20 a page; staff have their notifications."""
    viewer = request_viewer(request)
    if not viewer.resident_id:
        return HttpResponseRedirect(reverse("web:notifications" if viewer.is_staff_member else "home"))
    rows = seek(message_selectors.inbox(resident_id=viewer.resident_id), order="-created_at",
                cursor=request.GET.get("cursor"))
    page = page_of(list(rows[:PER_PAGE + 1]), order="-created_at", limit=PER_PAGE)
    unread = {m.pk for m in page.items if m.read_at is None}
    with transaction.atomic():
        for pk in sorted(unread):
            message_services.mark_read(message_id=pk, resident_id=viewer.resident_id)
    # A message about a case names it in its subject: linked to the case page when it is a case number.
    rows = [(m, m.pk in unread, bool(NUMBER_RE.fullmatch(m.subject))) for m in page.items]
    return render(request, "web/inbox.html", {"page": page, "rows": rows})


def unread_count(viewer) -> int:
    """How many of the viewer's in-app messages are unread (the header's badge); 0 for non-residents."""
    if not viewer.resident_id:
        return 0
    return message_selectors.inbox(resident_id=viewer.resident_id).filter(read_at__isnull=True).count()
