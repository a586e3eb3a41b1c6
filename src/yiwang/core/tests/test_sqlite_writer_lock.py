"""The SQLite backend queues writers on a file lock (core/backends/sqlite): a second writer waits
for the first to commit and goes in at once, and gives up with "database is locked" after ``timeout``."""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from yiwang.core.models import ConfigVersion

pytestmark = pytest.mark.skipif("connection.vendor != 'sqlite'")


def _write_in_thread(hold: float, started: threading.Event, out: dict) -> None:
    try:
        with transaction.atomic():
            ConfigVersion.objects.update_or_create(name="lock-test-a", defaults={"version": 1})
            started.set()
            time.sleep(hold)
        out["committed_at"] = time.monotonic()
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_for_the_first_and_goes_in_when_it_commits():
    started, out = threading.Event(), {}
    first = threading.Thread(target=_write_in_thread, args=(0.3, started, out))
    first.start()
    assert started.wait(5)
    t0 = time.monotonic()
    with transaction.atomic():
        ConfigVersion.objects.update_or_create(name="lock-test-b", defaults={"version": 1})
    entered = time.monotonic()
    first.join(5)
    assert entered - t0 >= 0.2  # it waited for the first writer …
    assert entered - out["committed_at"] < 0.05  # … and went in right after its COMMIT
    assert set(ConfigVersion.objects.filter(name__startswith="lock-test").values_list("name", flat=True)) == {
        "lock-test-a", "lock-test-b"}


@pytest.mark.django_db(transaction=True)
def test_a_writer_gives_up_after_the_timeout(monkeypatch):
    started, out = threading.Event(), {}
    first = threading.Thread(target=_write_in_thread, args=(1.0, started, out))
    first.start()
    assert started.wait(5)
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    with pytest.raises(OperationalError, match="database is locked"), transaction.atomic():
        ConfigVersion.objects.update_or_create(name="lock-test-c", defaults={"version": 1})
    first.join(5)
    assert not connection.in_atomic_block and not connection._holding
    with transaction.atomic():  # the lock was let go: the next transaction goes in
        ConfigVersion.objects.update_or_create(name="lock-test-c", defaults={"version": 1})
