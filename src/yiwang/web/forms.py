"""Rendering a matter's JSON form schema as HTML fields, and reading them back; the login forms."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from yiwang.catalog.formschema import ordered_fields
from yiwang.core import throttle


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
