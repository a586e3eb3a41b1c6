"""What pages have of the API's error handling: one answer to a refusal, one way to read a form.

- A DomainError a view lets out is answered by core.middleware.ErrorResponseMiddleware: NotFound and
  PermissionDenied as the site's 404 and 403 pages with the reason (``refusal_page``), anything else
  with its status. A view needs no try/except to refuse.
- ``found`` is for a page that must not tell "outside your scope" from "no such record": every
  DomainError of the lookup becomes NotFound, the answer a stranger gets for an id that never existed.
- A form's POST is read by a Django form whose fields refuse as the API's schemas do (the same message
  beside the same field); ``cleaned`` turns a form that does not validate into ValidationFailed, so a
  view catches a bad field and a service's refusal in one ``except DomainError`` and re-renders the
  form with ``refused``'s field errors (422, as the ledger's pages always answered).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from yiwang.core import forms as params
from yiwang.core.errors import BadParameter, DomainError, NotFound, PermissionDenied, ValidationFailed
from yiwang.core.idempotency import PAGE_FIELD

T = TypeVar("T")

# The site's refusal pages (web/templates/), also what Django renders for its own Http404 and
# PermissionDenied: the same context, ``exception`` being the reason shown.
REFUSAL_TEMPLATES = {NotFound: "404.html", PermissionDenied: "403.html"}


def refusal_page(request: HttpRequest, error: DomainError) -> HttpResponse | None:
    """The 404 or 403 page with the error's message, or None for an error that has no page of its own."""
    for kind, template in REFUSAL_TEMPLATES.items():
        if isinstance(error, kind):
            return render(request, template, {"exception": error.message, "request_path": request.path},
                          status=error.status)
    return None


def form_key(request: HttpRequest) -> str:
    """The idempotency key a form carries (core.idempotency.idempotent_page): the one it was posted
    with when it comes back refused, so that posting it again is the same request; else a new one."""
    return request.POST.get(PAGE_FIELD) or uuid.uuid4().hex


def found(fetch: Callable[..., T], /, *args, **kwargs) -> T:
    """``fetch(*args, **kwargs)``, any refusal of it answered as not found (404) with its message."""
    try:
        return fetch(*args, **kwargs)
    except NotFound:
        raise
    except DomainError as exc:
        raise NotFound(exc.message, field=exc.field) from exc


def refused(request: HttpRequest, exc: DomainError) -> dict:
    """The message at the top of the re-rendered page, and the field errors beside the fields:
    ``{field: [message]}``, or ``{"general": [message]}`` when no one field is at fault."""
    messages.error(request, exc.message)
    return exc.errors or {"general": [exc.message]}


def cleaned(form: forms.Form, *, rename: Mapping[str, str] | None = None) -> dict:
    """The form's cleaned data, or ValidationFailed carrying every field's errors (under the names
    ``rename`` gives: the name a service refuses the same value by, which the template shows)."""
    if form.is_valid():
        return form.cleaned_data
    rename = rename or {}
    errors = {rename.get(name, name): [str(m) for m in messages_]
              for name, messages_ in form.errors.items()}
    first = next(iter(errors.values()))[0]
    field = next(iter(errors)) if len(errors) == 1 else None
    raise ValidationFailed(first, field=field, errors=errors)


# --- fields that refuse as core.forms does ------------------------------------------------------


class TextField(forms.CharField):
    """Free text passed on as typed (the service strips, bounds and checks it): "" when absent."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("empty_value", "")
        super().__init__(**kwargs)


class OptionalTextField(TextField):
    """Text where blank means "not given": None, as ``request.POST.get(name) or None`` read it."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("empty_value", None)
        super().__init__(**kwargs)


class WholeNumberField(forms.Field):
    """A whole number read by core.forms.integer: its range and its message naming the field."""

    def __init__(self, name: str, *, minimum: int = 0, maximum: int = params.MAX_INTEGER, **kwargs) -> None:
        self.name, self.minimum, self.maximum = name, minimum, maximum
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return params.integer(value, self.name, minimum=self.minimum, maximum=self.maximum)
        except BadParameter as exc:
            raise forms.ValidationError(exc.message, code="invalid") from None

    def validate(self, value) -> None:
        """Presence was checked by ``integer``, which refuses an empty value."""


class OptionalWholeNumberField(WholeNumberField):
    """A whole number that may be left out (a seed to draw anew, a count not known): None when empty."""

    def to_python(self, value) -> int | None:
        if not (value or "").strip():
            return None
        return super().to_python(value)


class IsoDateField(forms.Field):
    """A date written YYYY-MM-DD (what <input type=date> sends), or None when left empty."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> dt.date | None:
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise forms.ValidationError(_("日期格式应为 YYYY-MM-DD。"), code="invalid") from None


class TickField(forms.Field):
    """A checkbox sent as value "1": True only then."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> bool:
        return value == "1"
