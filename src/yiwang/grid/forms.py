"""The grid worker's forms: an incident reported from the grid's page, and the reason to see an ID number.

Everything goes to grid.services as typed: it checks the description, the point (org.geo.check_point),
the category and the photo, naming the field; a form adds no refusal of its own.
"""

from __future__ import annotations

from django import forms

from yiwang.core import pages


class ReportForm(forms.Form):
    """上报 from the grid: a category, what was seen, where (the map's point is optional), a photo."""

    category = pages.TextField()
    description = pages.TextField()
    lat = pages.OptionalTextField()  # blank: no point, the case is placed in the grid itself
    lng = pages.OptionalTextField()
    address = pages.TextField()
    photo = forms.FileField(required=False, allow_empty_file=True)  # the service sniffs and refuses it
    idempotency_key = pages.OptionalTextField()

    def __init__(self, data=None, files=None, **kwargs) -> None:
        super().__init__(data, files, **kwargs)
        # Up to 9 photos from one <input multiple>: the service counts, sniffs and re-encodes them.
        if hasattr(files, "getlist"):
            self.photos = files.getlist("photos")
        else:  # a plain dict, as a test or a caller builds it
            given = (files or {}).get("photos") or []
            self.photos = list(given) if isinstance(given, list | tuple) else [given]

    def clean_photo(self):
        return self.cleaned_data["photo"] or None


class RevealForm(forms.Form):
    """显示完整证件号: why (written to the access log)."""

    reason = pages.TextField()
