"""Rendering a matter's JSON form schema as HTML fields, and reading them back; the login forms; the
staff workbench's case forms (an action, a reveal)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from yiwang.catalog.formschema import ordered_fields
from yiwang.core import pages, throttle


@dataclass
class Field:
    name: str
    label: str
    kind: str  # text, textarea, number, date, checkbox, select
    required: bool
    choices: list[str]
    value: object = ""
    errors: list[str] | None = None


def fields_for(schema: dict, values: dict | None = None, errors: dict | None = None) -> list[Field]:
    values = values or {}
    errors = errors or {}
    required = set(schema.get("required", [])) if schema else set()
    out = []
    for name, spec in ordered_fields(schema):
        t = spec["type"]
        if "enum" in spec:
            kind = "select"
        elif t == "boolean":
            kind = "checkbox"
        elif t in ("integer", "number"):
            kind = "number"
        elif spec.get("format") == "date":
            kind = "date"
        elif spec.get("maxLength", 0) > 200:
            kind = "textarea"
        else:
            kind = "text"
        out.append(Field(name=name, label=spec.get("title", name), kind=kind, required=name in required,
                         choices=[str(c) for c in spec.get("enum", [])], value=values.get(name, ""),
                         errors=errors.get(f"form.{name}")))
    return out


def read_form(schema: dict, post) -> dict:
    """Typed values from POST data, by the schema (bad numbers are left for the checker to name)."""
    data: dict = {}
    for name, spec in ordered_fields(schema):
        t = spec["type"]
        if t == "boolean":
            data[name] = post.get(f"f_{name}") == "on"
            continue
        raw = (post.get(f"f_{name}") or "").strip()
        if raw == "":
            continue
        if t in ("integer", "number"):
            try:
                data[name] = int(raw) if t == "integer" else float(raw)
            except ValueError:
                data[name] = raw
        else:
            data[name] = raw
    return data


class ThrottledLogin:
    """clean() of Django's AuthenticationForm with the password checked behind core.throttle.

    ``throttled`` is the refusal when too many attempts failed (the page shows it instead of
    "wrong password"), else None.
    """

    throttled: throttle.TooManyAttempts | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = throttle.authenticate(self.request, username=username, password=password)
            except throttle.TooManyAttempts as exc:
                self.throttled = exc
                raise ValidationError(exc.message, code="too_many_attempts") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginForm(ThrottledLogin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLogin, AdminAuthenticationForm):
    pass


class CaseActionForm(forms.Form):
    """One workflow action from the case panel: every input any action takes; the engine checks
    which ones the action needs (cases.services.actions), so a missing one is refused there, by name."""

    version = pages.WholeNumberField("version")
    comment = pages.TextField()
    unit_code = pages.OptionalTextField()
    result = pages.TextField()
    decision = pages.TextField()
    assignee = pages.OptionalTextField()
    slot = pages.OptionalTextField()
    parent_number = pages.OptionalTextField()

    # Longer is cut, not refused: the panel's boxes are notes, and the engine bounds what it stores.
    def clean_comment(self) -> str:
        return self.cleaned_data["comment"][:2000]

    def clean_result(self) -> str:
        return self.cleaned_data["result"][:5000]

    def clean_parent_number(self) -> str | None:
        return (self.cleaned_data["parent_number"] or "").strip()[:40] or None

    def clean_slot(self) -> dt.datetime | None:
        """A wall-clock time from <input type=datetime-local>; one that does not parse is "no time
        chosen", which the action that needs one refuses by name."""
        raw = self.cleaned_data["slot"]
        if not raw:
            return None
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class RevealForm(forms.Form):
    field = pages.OptionalTextField()
    reason = pages.TextField()
