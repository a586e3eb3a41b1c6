"""Satisfaction figures (满意率 = ratings 3–5 ÷ all ratings), scoped like everything else."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from yiwang.core.db import stale_ok
from yiwang.feedback.models import BAD_REVIEW_MAX, TAGS, Evaluation, Rating, RatingMonthTally, RatingTally
from yiwang.org.selectors import Viewer, scope_q


def satisfaction_percent(good: int, total: int) -> str | None:
    """A percentage to three decimals, e.g. "99.993"; None when nobody rated."""
    if not total:
        return None
    value = Decimal(good) * 100 / Decimal(total)
    return str(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def _rating_tallies(viewer: Viewer, region_path: str | None, month: dt.date | None = None):
    """All ratings, or those of one local month (``month``: its first day) from the month tallies."""
    model = RatingTally if month is None else RatingMonthTally
    qs = model.objects.using(stale_ok()).filter(
        scope_q(viewer, holder_field="handling_unit_id", resident_field=None)).exclude(n=0)
    if month is not None:
        qs = qs.filter(month=month)
    if region_path:
        qs = qs.filter(region_path__startswith=region_path)
    return qs


def evaluation_counts(*, viewer: Viewer, region_path: str | None = None, unit_id: int | None = None,
                      month: dt.date | None = None) -> dict:
    """Ratings and 差评 in the viewer's scope, from the rating tallies (feedback.rollups)."""
    qs = _rating_tallies(viewer, region_path, month)
    if unit_id:
        qs = qs.filter(handling_unit_id=unit_id)
    agg = qs.aggregate(total=Sum("n"), bad=Sum("n", filter=Q(rating__lte=BAD_REVIEW_MAX)))
    total, bad = agg["total"] or 0, agg["bad"] or 0
    return {"ratings": total, "bad_reviews": bad, "satisfaction_rate": satisfaction_percent(total - bad, total)}


def rating_counts_by_region(*, viewer: Viewer, region_path: str | None = None,
                            month: dt.date | None = None) -> list[dict]:
    """[{region_path, ratings, bad_reviews}] for the viewer's scope, one row per rated region."""
    rows = (_rating_tallies(viewer, region_path, month).values("region_path")
            .annotate(ratings=Sum("n"), bad_reviews=Sum("n", filter=Q(rating__lte=BAD_REVIEW_MAX))).order_by())
    return [{**row, "bad_reviews": row["bad_reviews"] or 0} for row in rows]


def rating_counts_by_unit(*, viewer: Viewer, region_path: str | None = None,
                          month: dt.date | None = None) -> dict[int, dict]:
    """{handling unit id: {ratings, bad_reviews, satisfaction_rate}} for the viewer's scope."""
    rows = (_rating_tallies(viewer, region_path, month).values("handling_unit_id")
            .annotate(ratings=Sum("n"), bad=Sum("n", filter=Q(rating__lte=BAD_REVIEW_MAX))).order_by())
    return {row["handling_unit_id"]: {"ratings": row["ratings"], "bad_reviews": row["bad"] or 0,
                                      "satisfaction_rate": satisfaction_percent(row["ratings"] - (row["bad"] or 0),
                                                                                row["ratings"])}
            for row in rows}


def tag_labels(tags: list) -> list[str]:
    """The names of an evaluation's content tags (online and offline sets), unknown codes as stored."""
    names = {**TAGS["offline"], **TAGS["online"]}
    return [str(names.get(t, t)) for t in tags or []]


def rating_label(rating: int | None) -> str:
    return str(Rating(rating).label) if rating in Rating.values else ""


def evaluation_for_case(case_id: int) -> Evaluation | None:
    return Evaluation.objects.select_related("follow_up_case").filter(case_id=case_id).first()
