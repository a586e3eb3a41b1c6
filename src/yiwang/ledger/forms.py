"""The ledger's forms. Free text goes to the services as typed (they strip, bound and refuse it, naming
the field); the forms read what a service cannot: dates, numbers, ticks."""

from __future__ import annotations

from django import forms

from yiwang.core import pages

# A refused due date is shown beside the field the service names (the item's due_at).
ITEM_RENAME = {"due_on": "due_at"}


class TopicForm(forms.Form):
    title = pages.TextField()
    field = pages.TextField()
    unit_code = pages.TextField()
    problem = pages.TextField()
    crux = pages.TextField()
    plan = pages.TextField()
    leader = pages.OptionalTextField()


class VisitForm(forms.Form):
    visited_on = pages.IsoDateField()
    place = pages.TextField()
    people_met = pages.TextField()
    findings = pages.TextField()


class ItemForm(forms.Form):
    """A rectification item, opened in a problem list or from a visit's findings."""

    problem = pages.TextField()
    measures = pages.TextField()
    unit_code = pages.TextField()
    due_on = pages.IsoDateField()
    immediate = pages.TickField()
    assignee = pages.OptionalTextField()
    responsible_person = pages.TextField()
    matter_code = pages.OptionalTextField()
    idempotency_key = pages.OptionalTextField()

    def clean_assignee(self) -> str | None:
        return (self.cleaned_data["assignee"] or "").strip() or None

    def service_fields(self) -> dict:
        """The keyword arguments of services.item_create and visit_item_open."""
        data = pages.cleaned(self, rename=ITEM_RENAME)
        return {"problem": data["problem"], "measures": data["measures"], "unit_code": data["unit_code"],
                "due_at": data["due_on"], "immediate": data["immediate"], "assignee_username": data["assignee"],
                "responsible_person": data["responsible_person"], "idempotency_key": data["idempotency_key"],
                "matter_code": data["matter_code"]}


class BatchForm(forms.Form):
    title = pages.TextField()
    region_code = pages.TextField()
    supervisor_unit_code = pages.TextField()
    matter_code = pages.TextField()
    due_on = pages.IsoDateField()


class ProblemListForm(forms.Form):
    title = pages.TextField()
    region_code = pages.TextField()


class AcceptForm(forms.Form):
    note = pages.TextField()


class ItemReportForm(forms.Form):
    action = pages.TextField()
    version = pages.WholeNumberField("version")
    text = pages.TextField()
