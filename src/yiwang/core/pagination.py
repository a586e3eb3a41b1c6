"""The one pagination: keyset (seek) paging, so page 10,000 costs what page 1 costs.

A cursor is an opaque token holding the last row's sort value and id. Ordering is by one field
(ascending or descending, NULLs last) then by id in the same direction.
"""

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

MAX_LIMIT = 200


@dataclass
class Page:
    items: list
    next_cursor: str | None


def _encode(value: Any, pk: int) -> str:
    if isinstance(value, dt.datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if isinstance(value, dict):
            value = dt.datetime.fromisoformat(value["dt"])
        return value, int(pk)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(_("分页游标无效，请从第一页重新开始。"), field="cursor") from exc


def seek(queryset: QuerySet, *, order: str, cursor: str | None) -> QuerySet:
    """``queryset`` ordered by ``order`` ("field" or "-field") then id, starting after ``cursor``."""
    descending = order.startswith("-")
    field = order.lstrip("-")
    if field == "id":
        ordering = [F("id").desc() if descending else F("id").asc()]
    else:
        # NULLS LAST only where there can be NULLs: on a NOT NULL column it would stop PostgreSQL from
        # reading the column's index backwards (it does not know the column has no NULLs).
        nullable = queryset.model._meta.get_field(field).null
        ordering = [
            (F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)) if nullable
            else (F(field).desc() if descending else F(field).asc()),
            F("id").desc() if descending else F("id").asc(),
        ]
    qs = queryset.order_by(*ordering)
    if cursor:
        value, pk = _decode(cursor)
        cmp = "lt" if descending else "gt"
        if field == "id":
            qs = qs.filter(**{f"id__{cmp}": pk})
        elif value is None:
            qs = qs.filter(**{f"{field}__isnull": True, f"id__{cmp}": pk})
        else:
            after = Q(**{f"{field}__{cmp}": value}) | Q(**{field: value, f"id__{cmp}": pk})
            qs = qs.filter(after | Q(**{f"{field}__isnull": True}))
    return qs


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(_("每页条数须在 1 到 %(max)s 之间。") % {"max": MAX_LIMIT}, field="limit")


def page_of(rows: list, *, order: str, limit: int) -> Page:
    """The page of ``limit`` rows from ``rows`` (up to ``limit`` + 1 rows in ``order``, as seek() gave them)."""
    field = order.lstrip("-")
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode(getattr(last, field) if field != "id" else None, last.id)
    return Page(items=rows, next_cursor=next_cursor)


def rows_in_order(queryset: QuerySet, ids: list[int]) -> list:
    """The rows of ``ids``, in that order, fetched with ``queryset``'s select_related."""
    fetch = queryset.model._default_manager.filter(pk__in=ids)
    fetch.query.select_related = queryset.query.select_related
    by_id = {row.pk: row for row in fetch}
    return [by_id[pk] for pk in ids if pk in by_id]


def paginate(queryset: QuerySet, *, order: str, cursor: str | None, limit: int, ids_first: bool = False) -> Page:
    """Return one page of ``queryset`` ordered by ``order`` ("field" or "-field"), then id.

    ``ids_first``: the page's ids are found on the table alone and their rows fetched after, for a
    filter PostgreSQL misjudges (it would join every matching row before sorting them)."""
    check_limit(limit)
    ordered = seek(queryset, order=order, cursor=cursor)
    if ids_first:
        rows = rows_in_order(queryset, list(ordered.values_list("id", flat=True)[: limit + 1]))
    else:
        rows = list(ordered[: limit + 1])
    return page_of(rows, order=order, limit=limit)
