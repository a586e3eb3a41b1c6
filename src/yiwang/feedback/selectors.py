"""Satisfaction figures (满意率 = ratings 3–5 ÷ all ratings), scoped like everything else."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q

from yiwang.feedback.models import BAD_REVIEW_MAX, Evaluation
from yiwang.org.selectors import Viewer, scope_q


def satisfaction_percent(good: int, total: int) -> str | None:
    """A percentage to three decimals, e.g. "99.993"; None when nobody rated."""
    if not total:
        return None
    value = Decimal(good) * 100 / Decimal(total)
    return str(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def evaluation_counts(*, viewer: Viewer, region_path: str | None = None, unit_id: int | None = None) -> dict:
    qs = Evaluation.objects.filter(scope_q(viewer, holder_field="handling_unit_id", resident_field=None))
    if region_path:
        qs = qs.filter(region_path__startswith=region_path)
    if unit_id:
        qs = qs.filter(handling_unit_id=unit_id)
    agg = qs.aggregate(total=Count("id"), bad=Count("id", filter=Q(rating__lte=BAD_REVIEW_MAX)))
    total, bad = agg["total"], agg["bad"]
    return {"ratings": total, "bad_reviews": bad, "satisfaction_rate": satisfaction_percent(total - bad, total)}


def evaluation_for_case(case_id: int) -> Evaluation | None:
    return Evaluation.objects.select_related("follow_up_case").filter(case_id=case_id).first()
