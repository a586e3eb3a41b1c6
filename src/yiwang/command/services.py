"""Writes of the command centre. Each case's move is one transaction through cases.services."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_for_action
from yiwang.command.selectors import dispatch_suggestion
from yiwang.core.errors import DomainError, ValidationFailed
from yiwang.org.selectors import Viewer

MAX_BULK = 200


def register_and_dispatch(*, viewer: Viewer, case_id: int, version: int, unit_code: str | None = None,
                          comment: str = "") -> Case:
    """One click on the board: 立案 (if still reported) and 派遣 to the given or the suggested unit.

    Both steps, and their two timeline events, commit together or not at all.
    """
    with transaction.atomic():
        case = case_for_action(viewer, case_id)
        if case.state == "reported":
            case = case_act(viewer=viewer, case_id=case_id, action="register", version=version, comment=comment)
            version = case.version
        if not unit_code:
            suggestion = dispatch_suggestion(case)
            if suggestion is None:
                raise ValidationFailed(_("该类事件没有建议的处置单位，请选择派遣单位。"), field="unit_code")
            unit_code = suggestion.unit.code
        return case_act(viewer=viewer, case_id=case_id, action="dispatch", version=version, unit_code=unit_code,
                        comment=comment)


@dataclass(frozen=True)
class BulkResult:
    case_id: int
    ok: bool
    number: str = ""
    message: str = ""
    field: str | None = None


def bulk_dispatch(*, viewer: Viewer, items: list[tuple[int, int]], unit_code: str | None = None) -> list[BulkResult]:
    """批量派遣: each (case id, version) is registered if needed and dispatched in its own transaction,
    so one stale or refused case does not undo the others; every outcome is reported."""
    if not items:
        raise ValidationFailed(_("请至少选择一件案件。"), field="cases")
    if len(items) > MAX_BULK:
        raise ValidationFailed(_("一次最多派遣 %(n)s 件。") % {"n": MAX_BULK}, field="cases")
    out = []
    for case_id, version in items:
        try:
            case = register_and_dispatch(viewer=viewer, case_id=case_id, version=version, unit_code=unit_code)
        except DomainError as exc:
            out.append(BulkResult(case_id, False, message=exc.message, field=exc.field))
        else:
            out.append(BulkResult(case_id, True, number=case.number))
    return out
