"""通知设置 (/work/preferences/): how a staff member hears of their units' cases besides the
workbench's list of notifications, which is always on: by SMS, by e-mail, per kind of notification,
and the number and address they go to (docs/messages.md "Staff messages")."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from yiwang.cases.models import Notification
from yiwang.cases.services.notifications import STAFF_DEFAULTS, URGENT_KINDS, staff_channels
from yiwang.core import pages
from yiwang.core.errors import DomainError
from yiwang.messages import selectors as message_selectors
from yiwang.messages import services as message_services
from yiwang.messages.models import Channel
from yiwang.org.decorators import staff_required


class PreferencesForm(forms.Form):
    """The number, the address, and one tick box per kind and channel, named "<kind>.<channel>"."""

    phone = pages.TextField()
    email = pages.TextField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in STAFF_DEFAULTS:
            for channel in message_services.ADDRESSED:
                self.fields[f"{kind}.{channel}"] = pages.TickField()

    def channels(self) -> dict[str, list[str]]:
        return {kind: [c for c in message_services.ADDRESSED if self.cleaned_data.get(f"{kind}.{c}")]
                for kind in STAFF_DEFAULTS}


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    saved = message_selectors.preferences_of([user_id]).get(user_id)
    errors: dict = {}
    status = 200
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        try:
            data = pages.cleaned(form)
            message_services.preference_save(user_id=user_id, phone=data["phone"], email=data["email"],
                                             channels=form.channels())
        except DomainError as exc:
            errors, status = pages.refused(request, exc), 422
        else:
            messages.success(request, _("通知设置已保存。"))
            return HttpResponseRedirect(reverse("web:preferences"), status=303)
    posted = request.method == "POST"
    rows = []
    for kind in STAFF_DEFAULTS:
        chosen = staff_channels(kind, saved)
        rows.append({
            "kind": kind, "label": Notification.Kind(kind).label, "urgent": kind in URGENT_KINDS,
            "channels": [(c, Channel(c).label, (request.POST.get(f"{kind}.{c}") == "1") if posted else c in chosen)
                         for c in message_services.ADDRESSED],
        })
    return render(request, "web/work/preferences.html", {
        "rows": rows, "errors": errors, "quiet_hours": settings.YIWANG_QUIET_HOURS,
        "phone": request.POST.get("phone", "") if posted else (saved.phone if saved else ""),
        "email": request.POST.get("email", "") if posted else ((saved.email if saved else "") or request.user.email),
    }, status=status)
