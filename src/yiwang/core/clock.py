"""The one clock: every "now" in yiwang comes from here, so tests and the demo can move time."""

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

_frozen: list[dt.datetime] = []


def now() -> dt.datetime:
    return _frozen[-1] if _frozen else timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


@contextlib.contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[None]:
    """Make now() return ``moment`` inside the block (aware datetimes only)."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at needs an aware datetime")
    _frozen.append(moment)
    try:
        yield
    finally:
        if _frozen:  # set_frozen(None) inside the block may have emptied the stack already
            _frozen.pop()


def set_frozen(moment: dt.datetime | None) -> None:
    """Replace the frozen moment (the demo generator walks time forward with this)."""
    _frozen.clear()
    if moment is not None:
        _frozen.append(moment)
