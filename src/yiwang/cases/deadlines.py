"""The one definition of overdue (超期), due soon (临期) and on time (按时办结).

Every surface asks here: the staff queue's tabs, the leaders' dashboard and indicators, the API's
``overdue`` field and filter, the ledger, the exports and the deadline sweep. Each rule comes twice,
from the same constants: a ``Q`` for querysets and a plain function for one case in hand.

- **overdue**: open, its clock running, past its deadline. A case waiting on the applicant (补正,
  ``suspended_at`` set) has its clock stopped: its deadline is recomputed when the clock resumes, so
  until then it is neither overdue nor due soon, however long it waits.
- **due soon**: open, its clock running, its deadline within ``DUE_SOON`` from now (not yet passed).
- **on time**: closed no later than its deadline; **late** is closed after it. A closed case is never
  overdue: it is either on time or late (a case without a deadline is neither).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from django.db.models import F, Q

from yiwang.core import clock


class Clocked(Protocol):
    """What the rules read: a Case, or a row of its three columns (an export's values_list)."""

    @property
    def closed_at(self) -> dt.datetime | None: ...
    @property
    def suspended_at(self) -> dt.datetime | None: ...
    @property
    def due_at(self) -> dt.datetime | None: ...


# 临期: the sweep's yellow warning fires this long before the deadline, and the docs promise it
# ("yellow when due within 24 h", docs/cli.md; "less than a day is left", docs/grid-and-command.md).
# The queue's 临期 tab used three days: it now lists exactly the cases the sweep has warned about.
DUE_SOON = dt.timedelta(hours=24)


def _fields(prefix: str) -> tuple[str, str, str]:
    """The deadline columns, reached through a relation (``prefix="case__"``) or on the case itself."""
    return f"{prefix}closed_at", f"{prefix}suspended_at", f"{prefix}due_at"


def running_q(prefix: str = "") -> Q:
    """Open with its clock running: the only cases that can be overdue or due soon."""
    closed, suspended, _due = _fields(prefix)
    return Q(**{f"{closed}__isnull": True, f"{suspended}__isnull": True})


def overdue_q(now: dt.datetime, prefix: str = "") -> Q:
    """超期: open, clock running, deadline before ``now``."""
    _closed, _suspended, due = _fields(prefix)
    return running_q(prefix) & Q(**{f"{due}__lt": now})


def due_soon_q(now: dt.datetime, prefix: str = "") -> Q:
    """临期: open, clock running, deadline in [now, now + DUE_SOON)."""
    _closed, _suspended, due = _fields(prefix)
    return running_q(prefix) & Q(**{f"{due}__gte": now, f"{due}__lt": now + DUE_SOON})


def on_time_q(prefix: str = "") -> Q:
    """按时办结: closed, with a deadline, no later than it."""
    closed, _suspended, due = _fields(prefix)
    return Q(**{f"{closed}__isnull": False, f"{due}__isnull": False, f"{closed}__lte": F(due)})


def late_q(prefix: str = "") -> Q:
    """超期办结: closed after its deadline."""
    closed, _suspended, due = _fields(prefix)
    return Q(**{f"{closed}__isnull": False, f"{due}__isnull": False, f"{closed}__gt": F(due)})


def _running(case: Clocked) -> bool:
    return case.closed_at is None and case.suspended_at is None and case.due_at is not None


def is_overdue(case: Clocked, now: dt.datetime | None = None) -> bool:
    """``overdue_q`` for one case."""
    return _running(case) and case.due_at < (now or clock.now())


def is_due_soon(case: Clocked, now: dt.datetime | None = None) -> bool:
    """``due_soon_q`` for one case."""
    now = now or clock.now()
    return _running(case) and now <= case.due_at < now + DUE_SOON


def is_on_time(case: Clocked) -> bool:
    """``on_time_q`` for one case."""
    return case.closed_at is not None and case.due_at is not None and case.closed_at <= case.due_at


def is_late(case: Clocked) -> bool:
    """``late_q`` for one case."""
    return case.closed_at is not None and case.due_at is not None and case.closed_at > case.due_at


def missed_deadline(case: Clocked, now: dt.datetime | None = None) -> bool:
    """The 超期 badge of a list mixing open and closed cases: overdue while open, late once closed."""
    return is_overdue(case, now) or is_late(case)
