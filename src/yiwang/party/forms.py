"""The party secretary's forms: a member, a pair, the grouping proposal as edited, and a pair's steps.

Free text goes to party.services as typed (they strip, bound and refuse it, naming the field); the forms
read what a service cannot: dates, row ids, counts, money, which group each member was put in.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from yiwang.core import forms as params
from yiwang.core import pages

# --- fields -------------------------------------------------------------------------------------


class DateField(forms.Field):
    """A date written YYYY-MM-DD, refused with the party pages' message; None when left out of an
    optional one."""

    def to_python(self, value) -> dt.date | None:
        if not value and not self.required:
            return None
        try:
            return dt.date.fromisoformat(value or "")
        except ValueError:
            raise forms.ValidationError(_("请填写有效日期(年-月-日)。"), code="invalid") from None

    def validate(self, value) -> None:
        """Presence was checked by ``to_python``, which refuses a required date left empty."""


class RowIdField(pages.WholeNumberField):
    """A member, resident or leader picked in a form: a row id (a bigint column)."""

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(name, maximum=params.MAX_BIGINT, **kwargs)


class AmountField(forms.Field):
    """Money in yuan, which may be left out: a Decimal, or None."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> Decimal | None:
        if value in (None, ""):
            return None
        try:
            return Decimal(value)
        except ArithmeticError:
            raise forms.ValidationError(_("请填写数字。"), code="invalid") from None


class PhotoField(forms.FileField):
    """An optional photo, passed on as uploaded (the service sniffs and refuses it, naming the field)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> UploadedFile | None:
        return super().clean(data, initial) or None


class ValuesField(forms.Field):
    """Every value of a repeated field (ticked boxes), as sent: [] when none."""

    widget = forms.MultipleHiddenInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)


# --- the branch page ----------------------------------------------------------------------------


class BranchForm(forms.Form):
    """Which of the branch page's forms was posted: "member" or "pair"."""

    form = pages.TextField()


class MemberForm(forms.Form):
    name = pages.TextField()
    gender = pages.TextField()
    birth_date = DateField()
    joined_on = DateField(required=False)
    occupation = pages.TextField()
    experience = pages.TextField()
    phone = pages.TextField()


class PairForm(forms.Form):
    member = RowIdField("member")
    resident = RowIdField("resident")
    needs = pages.TextField()


# --- the grouping proposal ----------------------------------------------------------------------


class GroupCountForm(forms.Form):
    """How many groups to propose; left out, the page's default."""

    groups = pages.OptionalWholeNumberField("groups")


class GroupsForm(forms.Form):
    """The edited proposal: group i's name-i, kind-i and leader-i, and member-<id>, the index of the
    group each member was put in (left out: in none)."""

    def __init__(self, data, *, n: int, member_ids: list[int]) -> None:
        super().__init__(data)
        self.n, self.member_ids = n, member_ids
        for i in range(n):
            self.fields[f"name-{i}"] = pages.TextField()
            self.fields[f"kind-{i}"] = pages.TextField()
        for member_id in member_ids:
            self.fields[f"member-{member_id}"] = pages.OptionalWholeNumberField(f"member-{member_id}", maximum=n - 1)
        for i in range(n):
            self.fields[f"leader-{i}"] = pages.OptionalWholeNumberField(f"leader-{i}", maximum=params.MAX_BIGINT)

    def groups(self) -> list[dict]:
        """The groups as party.services.grouping_save takes them, or ValidationFailed naming the field."""
        data = pages.cleaned(self)
        groups = [{"name": data[f"name-{i}"], "kind": data[f"kind-{i}"], "members": [],
                   "leader": data[f"leader-{i}"]} for i in range(self.n)]
        for member_id in self.member_ids:
            index = data[f"member-{member_id}"]
            if index is not None:
                groups[index]["members"].append(member_id)
        return groups


# --- a pair's steps -----------------------------------------------------------------------------


class StepForm(forms.Form):
    """Every step names the version of the pair's case it was taken on."""

    version = pages.WholeNumberField("version")


class VisitForm(StepForm):
    comment = pages.TextField()
    visited_on = DateField(required=False)
    photo = PhotoField()


class MeasureForm(StepForm):
    kind = pages.TextField()
    description = pages.TextField()
    household_size = pages.OptionalWholeNumberField("household_size")
    monthly_income = AmountField()
    materials = ValuesField()


class IncomeForm(StepForm):
    year = pages.WholeNumberField("year")
    month = pages.WholeNumberField("month")
    amount = pages.TextField()  # the service reads the yuan and refuses them, naming the field
    source = pages.TextField()
    note = pages.TextField()


class CommentForm(StepForm):
    """脱贫 and 返贫: a comment."""

    comment = pages.TextField()


class EndForm(StepForm):
    result = pages.TextField()


# The pair page's step (URL part) → its form.
STEP_FORMS: dict[str, type[StepForm]] = {"visit": VisitForm, "measure": MeasureForm, "income": IncomeForm,
                                         "exit": CommentForm, "relapse": CommentForm, "end": EndForm}
