"""Which parts of a case hold ID numbers: what pages offer to reveal, and what a reveal shows.

Every surface shows a case's ID numbers masked (core.idnumber). A staff member of the unit holding
or handling the case may ask to see one field in full, giving a reason; cases.services.case_reveal_id
records that on the timeline before answering.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from yiwang.cases.models import Case
from yiwang.catalog.formschema import ordered_fields
from yiwang.core import idnumber
from yiwang.org.models import Resident
from yiwang.org.selectors import Viewer

APPLICANT = "applicant"
DESCRIPTION = "description"
FORM_PREFIX = "form."


def id_fields(case: Case) -> dict[str, list[str]]:
    """Field → the ID numbers it holds, for every field of ``case`` that holds one: the applicant's
    registered number ("applicant"), the description, and each text field of the form ("form.<name>")."""
    out: dict[str, list[str]] = {}
    if case.applicant_id:
        number = Resident.objects.filter(pk=case.applicant_id).values_list("id_number", flat=True).first()
        if number:
            out[APPLICANT] = [number]
    found = idnumber.find_in_text(case.description)
    if found:
        out[DESCRIPTION] = found
    form = {k: v for k, v in (case.form_data or {}).items() if isinstance(v, str) and idnumber.find_in_text(v)}
    if form:
        # In the form's own order (PostgreSQL's jsonb keeps keys in an order of its own).
        ordered = [name for name, _spec in ordered_fields(_form_schema(case)) if name in form]
        for name in ordered + sorted(set(form) - set(ordered)):
            out[FORM_PREFIX + name] = idnumber.find_in_text(form[name])
    return out


def _form_schema(case: Case) -> dict:
    return (case.matter_version.snapshot or {}).get("form_schema") or {}


def field_label(case: Case, field: str) -> str:
    """What a page calls a field of ``id_fields``: 申请人身份证号, 描述, or the form field's title."""
    if field == APPLICANT:
        return _("申请人身份证号")
    if field == DESCRIPTION:
        return _("描述")
    name = field.removeprefix(FORM_PREFIX)
    return str(_form_schema(case).get("properties", {}).get(name, {}).get("title") or name)


def may_reveal(viewer: Viewer, case: Case) -> bool:
    """Staff of the unit holding or handling the case (who act on its applicant's behalf)."""
    return viewer.is_superuser or bool(viewer.roles_in(case.holder_unit_id) or viewer.roles_in(case.handling_unit_id))

