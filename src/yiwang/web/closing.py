"""注销账号: a resident closes their own account (cases.retention.resident_close_account).

Thin: the page names what happens (docs/retention.md), asks for the password, or a code sent to the
account's number when it has none, and logs the resident out once the service has closed the account.
There is no account id in the address: the page only ever closes the account that is signed in.
"""

from __future__ import annotations

from django import forms
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from yiwang.cases import retention
from yiwang.core import pages, throttle
from yiwang.core.errors import DomainError, PermissionDenied
from yiwang.messages import services as outbox
from yiwang.org import services as org_services
from yiwang.org.models import CodePurpose, Resident


class CloseForm(forms.Form):
    password = pages.TextField(required=False)
    code = pages.TextField(required=False)


def _sms(phone: str, text: str, dedupe_key: str) -> None:
    outbox.enqueue(channel="sms", to=phone, text=text, dedupe_key=dedupe_key)


@login_required(login_url="web:login")
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("password", "code")
def close_account(request: HttpRequest) -> HttpResponse:
    resident = Resident.objects.filter(user_id=request.user.pk, closed_at__isnull=True).first()
    if resident is None:
        raise PermissionDenied(_("只有居民本人可以注销自己的账号。"))
    errors: dict = {}
    status = 200
    sent = False
    if request.method == "POST":
        try:
            if request.POST.get("step") == "send":
                org_services.code_send(phone=resident.phone, purpose=CodePurpose.LOGIN,
                                       address=throttle.address_key(request), deliver=_sms)
                messages.success(request, _("验证码已发送，5分钟内有效。"))
                sent = True
            else:
                posted = pages.cleaned(CloseForm(request.POST))
                retention.resident_close_account(user=request.user, password=posted["password"],
                                                 code=posted["code"])
                auth.logout(request)
                messages.success(request, _("您的账号已注销。"))
                return HttpResponseRedirect(reverse("web:login"))
        except PermissionDenied:
            raise
        except DomainError as exc:
            errors = pages.refused(request, exc)
            status = exc.status if exc.status == 429 else 422
            sent = request.POST.get("step") != "send"
    return render(request, "web/close_account.html", {
        "errors": errors, "sent": sent, "has_password": request.user.has_usable_password(),
        "open_cases": retention.open_cases_on_closing(resident)}, status=status)
