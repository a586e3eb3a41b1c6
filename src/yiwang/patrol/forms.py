"""The patrol pages' forms: drawing a team's shifts, a point of the track, a finding.

Coordinates and text go to the services as typed (org.geo.check_point and the services refuse them,
naming the field); the forms read what a service cannot: the nights' dates, the seed, the tick.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext as _

from yiwang.core import forms as params
from yiwang.core import pages


class NightField(pages.IsoDateField):
    """A night's date, YYYY-MM-DD: required, an empty one refused as a malformed one is."""

    def to_python(self, value) -> dt.date:
        night = super().to_python((value or "").strip())
        if night is None:
            raise forms.ValidationError(_("日期格式应为 YYYY-MM-DD。"), code="invalid")
        return night


class ShiftsForm(forms.Form):
    """Shifts from ``start`` to ``end``: previewed (GET) and saved (POST) from the same fields."""

    start = NightField()
    end = NightField()
    # Left out, a new seed is drawn; a bigint column (the API's MAX_SEED).
    seed = pages.OptionalWholeNumberField("seed", maximum=params.MAX_BIGINT)
    replace = pages.TextField()

    def clean_replace(self) -> bool:
        return self.cleaned_data["replace"] == "on"  # an HTML checkbox without a value sends "on"


class PointForm(forms.Form):
    """Where the member is (出发, 签到): the browser's position, checked by the service."""

    lat = pages.OptionalTextField()
    lng = pages.OptionalTextField()


class FindingForm(PointForm):
    """A finding (发现问题) reported from the patrol: an incident opened where it was seen."""

    description = pages.TextField()
    category = pages.TextField()
    photo = forms.FileField(required=False, allow_empty_file=True)  # the service sniffs and refuses it
    idempotency_key = pages.OptionalTextField()

    def clean_photo(self):
        return self.cleaned_data["photo"] or None
