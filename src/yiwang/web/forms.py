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
from django.utils.translation import gettext as _

from yiwang.catalog.formschema import ordered_fields
from yiwang.core import forms as params
from yiwang.core import pages, throttle
from yiwang.core.errors import BadParameter
from yiwang.org.selectors import login_username


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
        # A resident may type their mobile number instead of their (random) username.
        username = self.cleaned_data.get("username")
        username = login_username(username) if username is not None else None
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
    # The resident's reply and the colleagues' note; a canned reply (常用回复) fills an empty reply.
    reply = pages.TextField()
    note = pages.TextField()
    canned = pages.OptionalTextField()
    missing = forms.MultipleChoiceField(required=False)  # 要求补正: the materials asked for (codes)
    seen = forms.MultipleChoiceField(required=False)  # 补正 at the window: the originals seen (codes)
    delivery_method = pages.OptionalTextField()
    delivery_hall = pages.OptionalTextField()
    delivery_tracking = pages.OptionalTextField()
    delivery_carrier = pages.OptionalTextField()
    delivery_reference = pages.OptionalTextField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Material codes are checked by the engine against the matter's list, by name.
        for name in ("missing", "seen"):
            self.fields[name].valid_value = lambda value: True

    def clean_canned(self) -> int | None:
        return params.optional_integer(self.cleaned_data["canned"], "canned", maximum=params.MAX_BIGINT)

    def delivery(self) -> dict | None:
        """How the result is delivered, as the engine takes it; None when no method was chosen."""
        data = self.cleaned_data
        if not data["delivery_method"]:
            return None
        return {"method": data["delivery_method"], "hall": data["delivery_hall"] or "",
                "tracking": data["delivery_tracking"] or "", "carrier": data["delivery_carrier"] or "",
                "reference": data["delivery_reference"] or ""}

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


class ApplicationForm(forms.Form):
    """An application's fixed fields (the matter's own fields are read by ``read_form``, its files
    from request.FILES). The applicant's name and phone are a clerk's (代办) only; a resident's come
    from their account, and the engine refuses them from a resident by name."""

    description = pages.TextField()
    region_code = pages.OptionalTextField()
    idempotency_key = pages.OptionalTextField()
    home_visit = forms.BooleanField(required=False)  # a checkbox: "on" when ticked
    applicant_name = pages.TextField()
    applicant_phone = pages.TextField()

    # Longer is cut, not refused, as the page always did; the engine bounds what it stores.
    def clean_description(self) -> str:
        return self.cleaned_data["description"][:5000]

    def clean_applicant_name(self) -> str:
        return self.cleaned_data["applicant_name"][:50]

    def clean_applicant_phone(self) -> str:
        return self.cleaned_data["applicant_phone"][:20]


class ResidentActionForm(forms.Form):
    """What a resident does on their case page: rate it, resubmit after 补正, or withdraw."""

    action = pages.TextField()
    rating = pages.OptionalTextField()
    comment = pages.TextField()
    tags = forms.MultipleChoiceField(required=False)
    version = pages.OptionalTextField()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The evaluation checks the tags against the rating's list: any value is passed on to it.
        self.fields["tags"].valid_value = lambda value: True

    def clean_rating(self) -> int:
        # Nothing chosen is 0, which the evaluation refuses with its own message (choose 1 to 5).
        return _whole(self.cleaned_data["rating"], "rating", default=0)

    def clean_version(self) -> int | None:
        # Only resubmit and withdraw send it; they refuse a missing one by name (core.forms.integer).
        return self.cleaned_data["version"]

    def clean_comment(self) -> str:
        return self.cleaned_data["comment"][:1000]


class ReportForm(forms.Form):
    """A problem report (随手拍); the photo comes from request.FILES."""

    category = pages.TextField()
    region_code = pages.OptionalTextField()
    description = pages.TextField()
    address = pages.TextField()
    idempotency_key = pages.OptionalTextField()
    lat = pages.OptionalTextField()
    lng = pages.OptionalTextField()

    def clean_description(self) -> str:
        return self.cleaned_data["description"][:5000]

    def clean_address(self) -> str:
        return self.cleaned_data["address"][:200]

    # Both coordinates are the one map pin: a bad one is refused as "location" (see REPORT_FIELDS).
    def clean_lat(self) -> float | None:
        return _coordinate(self.cleaned_data["lat"], -90, 90)

    def clean_lng(self) -> float | None:
        return _coordinate(self.cleaned_data["lng"], -180, 180)


REPORT_FIELDS = {"lat": "location", "lng": "location"}


def _coordinate(raw: str | None, low: float, high: float) -> float | None:
    """A coordinate from the map pin, or None when no pin was set."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise forms.ValidationError(_("地图位置无效，请在地图上重新点选。"), code="invalid")
    return value


def _whole(raw: str | None, name: str, *, default: int) -> int:
    try:
        return params.integer(raw, name, default=default)
    except BadParameter as exc:
        raise forms.ValidationError(exc.message, code="invalid") from None


class PublicTextForm(forms.Form):
    """The public map's moderation of one report (open311.services.public_text_set checks the text)."""

    hidden = forms.BooleanField(required=False)
    text = pages.TextField()
