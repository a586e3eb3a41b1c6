"""Reading a page's query parameters and form fields: one way, whose refusal names the field.

The API reads its input through schemas; pages read a few plain values by hand — a filter's number of
days, the ids of ticked rows, a record's version. A value that is not a whole number, or one outside
what its use can take (a database column, date arithmetic), is the caller's mistake: ``BadParameter``
(400) naming the field, never an OverflowError deep in a query (500). A view that shows a form catches
it with every other DomainError and puts the message beside the field; anywhere else
core.middleware.ErrorResponseMiddleware answers it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.translation import gettext as _

from yiwang.core.errors import BadParameter

# The database's integer columns: integer (counts, versions), the default maximum; a per-use one is
# usually far lower. bigint for row ids (DEFAULT_AUTO_FIELD) and seeds, as wide as SQLite's integers.
MAX_INTEGER = 2**31 - 1
MAX_BIGINT = 2**63 - 1
_DIGITS = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII only: str.isdigit() also takes "²", which int() refuses


def integer(raw: str | None, field: str, *, default: int | None = None, minimum: int = 0,
            maximum: int = MAX_INTEGER) -> int:
    """The whole number ``raw`` holds, between ``minimum`` and ``maximum``.

    Empty (absent, blank) is ``default``; without a default it is refused like any other bad value.
    """
    text = (raw or "").strip()
    if not text and default is not None:
        return default
    value = int(text) if _DIGITS.fullmatch(text) else None
    if value is None or not minimum <= value <= maximum:
        raise BadParameter(_("请填写整数（%(field)s：%(min)s 到 %(max)s）。")
                           % {"field": field, "min": minimum, "max": maximum}, field=field)
    return value


def optional_integer(raw: str | None, field: str, *, minimum: int = 0, maximum: int = MAX_INTEGER) -> int | None:
    """``integer`` for a value that may be left out (a filter not set): None when empty."""
    if not (raw or "").strip():
        return None
    return integer(raw, field, minimum=minimum, maximum=maximum)


def integers(raws: Iterable[str], field: str, *, minimum: int = 0, maximum: int = MAX_INTEGER) -> list[int]:
    """Every value of a repeated field (ticked rows' ids), each as ``integer``."""
    return [integer(raw, field, minimum=minimum, maximum=maximum) for raw in raws]
