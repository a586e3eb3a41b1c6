"""The receipt on a case page (web/_receipt.html): the case's hash at submission and at closing, which
the resident can later check on /receipts/check/ against the published checkpoints."""

from __future__ import annotations

from django import template

from yiwang.records.selectors import Receipt, receipt_for

register = template.Library()


@register.simple_tag
def case_receipt(case) -> Receipt | None:
    """The receipt of ``case``, which the page has already been allowed to show."""
    return receipt_for(case)
