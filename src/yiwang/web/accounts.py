"""Residents' own accounts by mobile number: sign up, and log in with a one-time SMS code.

The pages are thin: org.services sends and checks the codes (org.services.code_send, code_check)
and creates the account (resident_signup); the problems reported from the proven number without an
account become the resident's in the same transaction (cases.services.cases_attach_by_phone). A
refusal, whichever field it is about, comes back as a DomainError and the form is shown again with
the message beside that field (core.pages.refused).
"""

from __future__ import annotations

from django import forms
from django.contrib import auth, messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from yiwang.cases import services as case_services
from yiwang.core import pages, throttle
from yiwang.core.errors import DomainError
from yiwang.messages import services as outbox
from yiwang.org import oidc
from yiwang.org import services as org_services
from yiwang.org.models import CodePurpose
from yiwang.org.selectors import communities

# A code proves the number, not a password: the session is the model backend's like any other login.
BACKEND = "django.contrib.auth.backends.ModelBackend"


class SendCodeForm(forms.Form):
    phone = pages.TextField()


class SignupForm(forms.Form):
    phone = pages.TextField()
    code = pages.TextField()
    name = pages.TextField()
    id_number = pages.TextField()
    password = pages.TextField()
    password2 = pages.TextField()
    region_code = pages.TextField()

    def clean(self):
        data = super().clean()
        password = data.get("password", "")
        if password != data.get("password2", ""):
            self.add_error("password2", _("两次输入的密码不一致。"))
        elif password:
            # Django's AUTH_PASSWORD_VALIDATORS, as for any password set in yiwang; checked here, before
            # the code is spent, against what the account will hold (the name, the number).
            person = get_user_model()(username=data.get("phone", "").strip(), first_name=data.get("name", "")[:150])
            try:
                password_validation.validate_password(password, person)
            except ValidationError as exc:
                for error in exc.error_list:
                    self.add_error("password", _password_message(error))
        return data


def _password_message(error: ValidationError) -> str:
    """A validator's refusal in the site's words: Django's own Simplified Chinese catalogue lacks the
    current wording of some (the minimum length is shown in English), so the four known refusals are
    said here; any other validator a deployment adds speaks for itself."""
    params = error.params or {}
    known = {
        "password_too_short": _("密码太短，至少需要 %(n)s 个字符。") % {"n": params.get("min_length", 8)},
        "password_too_similar": _("密码与您的姓名或手机号码太相似。"),
        "password_too_common": _("这个密码太常见了，请换一个不容易被猜到的密码。"),
        "password_entirely_numeric": _("密码不能全是数字。"),
    }
    return known.get(error.code) or " ".join(error.messages)


class CodeLoginForm(forms.Form):
    phone = pages.TextField()
    code = pages.TextField()


def _sms(phone: str, text: str, dedupe_key: str) -> None:
    outbox.enqueue(channel="sms", to=phone, text=text, dedupe_key=dedupe_key)


def _send(request: HttpRequest, purpose: str) -> str:
    """Send a code to the posted number; the number as cleaned (or a DomainError)."""
    phone = pages.cleaned(SendCodeForm(request.POST))["phone"]
    row = org_services.code_send(phone=phone, purpose=purpose, address=throttle.address_key(request),
                                 deliver=_sms)
    messages.success(request, _("验证码已发送，5分钟内有效。"))
    return row.phone


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return reverse("web:my_cases")


def _answer(request: HttpRequest, template: str, context: dict, errors: dict, exc: DomainError | None) -> HttpResponse:
    status = 200 if exc is None else (exc.status if exc.status == 429 else 422)
    response = render(request, template, {**context, "errors": errors, "next": _next(request)}, status=status)
    if exc is not None and getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code", "id_number", "password", "password2")
def signup(request: HttpRequest) -> HttpResponse:
    """Phone → code → name and ID number (real-name binding) → an optional password → logged in."""
    values = {"phone": request.POST.get("phone", "").strip()[:20], "name": request.POST.get("name", "")[:50],
              "communities": communities(), "region_code": request.POST.get("region_code", "")}
    errors: dict = {}
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("step") == "send":
                values["phone"] = _send(request, CodePurpose.SIGNUP)
                values["sent"] = True
            else:
                posted = pages.cleaned(SignupForm(request.POST))
                user = org_services.resident_signup(phone=posted["phone"], code=posted["code"],
                                                    name=posted["name"], id_number=posted["id_number"],
                                                    password=posted["password"], region_code=posted["region_code"],
                                                    on_proven=case_services.cases_attach_by_phone)
                auth.login(request, user, backend=BACKEND)
                messages.success(request, _("注册成功。以后可用手机号码和密码登录（如设置了密码），也可随时用手机验证码登录。"))
                return HttpResponseRedirect(_next(request))
        except DomainError as exc:
            error = exc
            errors = pages.refused(request, exc)
            values["sent"] = request.POST.get("step") != "send"
            if values["sent"] and "code" not in errors:
                # A refusal of another field leaves the code unspent: kept in the form, so that a phone user
                # need not go back to the SMS for it. The ID number is typed again: it is never shown in full.
                values["code"] = request.POST.get("code", "").strip()[:6]
    return _answer(request, "web/signup.html", values, errors, error)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
def code_login(request: HttpRequest) -> HttpResponse:
    """Log in with a code sent to the account's mobile number, instead of the password."""
    values = {"phone": request.POST.get("phone", "").strip()[:20]}
    errors: dict = {}
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("step") == "send":
                values["phone"] = _send(request, CodePurpose.LOGIN)
                values["sent"] = True
            else:
                posted = pages.cleaned(CodeLoginForm(request.POST))
                user = org_services.code_login(phone=posted["phone"], code=posted["code"],
                                               on_proven=case_services.cases_attach_by_phone)
                auth.login(request, user, backend=BACKEND)
                return HttpResponseRedirect(_next(request))
        except DomainError as exc:
            error = exc
            errors = pages.refused(request, exc)
            values["sent"] = request.POST.get("step") != "send"
    return _answer(request, "web/code_login.html", values, errors, error)


class LogoutView(auth_views.LogoutView):
    """Django's logout; a session that 统一身份认证 opened goes on to the provider, which ends its own
    session and sends the browser back to the home page (org.oidc.end_session_url)."""

    next_page = "/"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        provider = oidc.end_session_url(request)  # read before the session is flushed
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider) if provider else response
