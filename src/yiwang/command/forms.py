"""The dispatch board's forms: what a one-click dispatch, a bulk dispatch and a merge post."""

from __future__ import annotations

from django import forms

from yiwang.core import pages

COMMENT_MAX = 2000  # longer is cut, not refused: the board's comment box is a note, not evidence


class BoardForm(forms.Form):
    """The tab to go back to after any of the board's posts."""

    tab = pages.OptionalTextField()


class MergeForm(BoardForm):
    version = pages.WholeNumberField("version")


class DispatchForm(MergeForm):
    unit_code = pages.OptionalTextField()
    comment = pages.TextField()

    def clean_comment(self) -> str:
        return self.cleaned_data["comment"][:COMMENT_MAX]


class BulkDispatchForm(BoardForm):
    unit_code = pages.OptionalTextField()
