"""The parking pages' forms: the gate desk, a violation recorded on the map, and the penalty's steps.

Free text goes to the services as typed (they check plates, sources and reasons, naming the field); the
forms read what a service cannot: coordinates, row ids, the photo's kind.
"""

from __future__ import annotations

import math

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from yiwang.cases.attachments import PHOTOS, sniff_upload
from yiwang.core import forms as params
from yiwang.core import pages
from yiwang.core.errors import DomainError

# A coordinate the map did not give is shown beside the map, under the name the template shows it by.
VIOLATION_RENAME = {"lat": "location", "lng": "location"}
ADDRESS_MAX, DESCRIPTION_MAX = 200, 2000  # longer is cut, as the API's schema bounds them


class GateForm(forms.Form):
    """入场 or 出场 at the gate desk: anything but "exit" is an entry."""

    zone = pages.TextField()
    plate = pages.TextField()
    direction = pages.TextField()
    space = pages.TextField()

    def clean_direction(self) -> str:
        return "exit" if self.cleaned_data["direction"] == "exit" else "entry"

    def clean_space(self) -> str:
        return self.cleaned_data["space"].strip()


class CoordinateField(forms.Field):
    """A latitude or longitude the map's picker put in a hidden field: a finite number."""

    def to_python(self, value) -> float:
        try:
            number = float(value or "")
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise forms.ValidationError(_("请在地图上点选位置。"), code="invalid")
        return number

    def validate(self, value) -> None:
        """Presence was checked by ``to_python``, which refuses an empty value with the map's message."""


class ViolationForm(forms.Form):
    """巡查登记: a violation placed on the map, with an optional photo (JPEG or PNG)."""

    plate = pages.TextField()
    source = pages.TextField()
    lat = CoordinateField()
    lng = CoordinateField()
    address = pages.TextField()
    description = pages.TextField()
    photo = forms.FileField(required=False, allow_empty_file=True)  # sniff_upload refuses an empty one
    idempotency_key = pages.OptionalTextField()

    def clean_address(self) -> str:
        return self.cleaned_data["address"][:ADDRESS_MAX]

    def clean_description(self) -> str:
        return self.cleaned_data["description"][:DESCRIPTION_MAX]

    def clean_photo(self) -> tuple[UploadedFile, str, str] | None:
        """(upload, content type, extension), judged by its first bytes and size as every upload is; the
        view stores it only once the whole form is valid."""
        upload = self.cleaned_data["photo"]
        if not upload:
            return None
        try:
            content_type, ext = sniff_upload(upload, allowed=PHOTOS, field="photo")
        except DomainError as exc:
            raise forms.ValidationError(exc.message, code="invalid") from None
        return upload, content_type, ext


class DecideForm(forms.Form):
    note = pages.TextField()


class PayForm(forms.Form):
    penalty = pages.WholeNumberField("penalty", maximum=params.MAX_BIGINT)
    reference = pages.TextField()


class AppealForm(forms.Form):
    penalty = pages.WholeNumberField("penalty", maximum=params.MAX_BIGINT)
    reason = pages.TextField()


class JudgeForm(forms.Form):
    appeal = pages.WholeNumberField("appeal", maximum=params.MAX_BIGINT)
    outcome = pages.TextField()
    note = pages.TextField()
