"""In-process caches of configuration, invalidated across processes through one version row each.

Case intake must not query the catalogue, the hierarchy, the routing rules or the calendar on
every request, yet an administrator's edit in one process must reach every other one. Each cache
has a name; a change bumps ``ConfigVersion(name)`` inside the changing transaction; a process
re-reads the version at most every YIWANG_CONFIG_RECHECK_SECONDS and reloads when it moved.
"""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F

T = TypeVar("T")

_registry: dict[str, list["ConfigCache"]] = {}


class ConfigCache(Generic[T]):
    def __init__(self, name: str, loader: Callable[[], T]):
        self.name = name
        self.loader = loader
        self._value: T | None = None
        self._version: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        _registry.setdefault(name, []).append(self)

    def get(self) -> T:
        recheck = settings.YIWANG_CONFIG_RECHECK_SECONDS
        now = time.monotonic()
        if self._value is not None and now - self._checked_at < recheck:
            return self._value
        with self._lock:
            version = current_version(self.name)
            if self._value is None or version != self._version:
                self._value = self.loader()
                self._version = version
            self._checked_at = time.monotonic()
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value = None
            self._version = None


def current_version(name: str) -> int:
    from yiwang.core.models import ConfigVersion

    row = ConfigVersion.objects.filter(name=name).values_list("version", flat=True).first()
    return row or 0


def bump(name: str) -> None:
    """Mark cache ``name`` stale everywhere; call inside the transaction that changed the data."""
    from yiwang.core.models import ConfigVersion

    updated = ConfigVersion.objects.filter(name=name).update(version=F("version") + 1)
    if not updated:
        ConfigVersion.objects.get_or_create(name=name, defaults={"version": 1})
    for local in _registry.get(name, []):
        # This process sees its own change at once, and again once the transaction commits.
        transaction.on_commit(local.clear)
        local.clear()


def clear_all() -> None:
    for caches in _registry.values():
        for cache in caches:
            cache.clear()
