"""A slow receiver holds up only itself (issue 19 item 5): POSTs run in a small pool, at most one per
subscription, each bounded by its connect and read timeouts. And old deliveries are purged by the
worker's round after YIWANG_WEBHOOK_KEEP_DAYS. Real HTTP servers on 127.0.0.1, one deliberately slow."""

from __future__ import annotations

import datetime as dt
import io
import logging
import socket
import time

import pytest
from django.core.management import call_command

from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.integrations import services
from yiwang.integrations.models import Attempt, Delivery, DeliveryStatus
from yiwang.integrations.tests.receiver import Receiver
from yiwang.integrations.tests.test_webhooks import SECRET, T0, report, walk


class Clocked(Receiver):
    """A receiver that notes when each delivery id first arrived (monotonic seconds)."""

    def __init__(self, secret: str):
        super().__init__(secret)
        self.arrived: dict[str, float] = {}
        self._wrap()

    def _wrap(self) -> None:
        received = self.received
        arrived = self.arrived

        class Noting(list):
            def append(self, delivery):
                arrived.setdefault(delivery, time.monotonic())
                super().append(delivery)

        self.received = Noting(received)


def test_a_fast_receiver_gets_its_deliveries_while_a_slow_one_hangs(world, settings):
    settings.YIWANG_WEBHOOK_TIMEOUT_SECONDS = 2
    settings.YIWANG_WEBHOOK_WORKERS = 4
    slow, fast = Clocked(SECRET).start(), Clocked(SECRET).start()
    slow.hang = 5  # answers after its read timeout: every POST to it costs the full 2 s
    try:
        # The slow one subscribed first, so its deliveries are due first.
        services.subscription_add(name="slow", url=slow.url, secret=SECRET)
        services.subscription_add(name="fast", url=fast.url, secret=SECRET)
        with clock.frozen_at(T0):
            walk(world, report(world))  # five events: five deliveries to each
            started = time.monotonic()
            counts = services.deliver_due(max_seconds=1)
        assert len(fast.processed) == 5
        # All five reached the fast receiver well within a second and a half of the start, while the
        # slow one held its first POST for 2 s; one at a time, the fast one would have waited 5 × 2 s.
        assert max(fast.arrived.values()) - started < 1.5, fast.arrived
        # The slow one had one POST at a time, and the round stopped claiming after max_seconds.
        assert len(slow.received) == 1 and counts["delivered"] == 5 and counts["failed"] == 1
        assert Delivery.objects.filter(subscription__name="slow", status=DeliveryStatus.PENDING).count() == 4
        failure = Attempt.objects.get(delivery__subscription__name="slow")
        assert failure.ok is False and "timed out" in failure.error
    finally:
        slow.hang = 0
        slow.stop()
        fast.stop()


def test_a_receiver_that_never_accepts_the_connection_fails_within_the_connect_timeout(world, settings):
    # A socket that listens with a full backlog and never accepts: the SYN is not answered.
    settings.YIWANG_WEBHOOK_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.YIWANG_WEBHOOK_TIMEOUT_SECONDS = 30
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    fillers = []
    port = blackhole.getsockname()[1]
    try:
        for _ in range(8):  # fill the accept queue so further connections hang in SYN_SENT
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        started = time.monotonic()
        outcome = services.post(f"http://127.0.0.1:{port}/hook", SECRET, "x", b"{}", timeout=30, connect_timeout=0.5)
        elapsed = time.monotonic() - started
        assert not outcome.ok
        # Either the handshake timed out at the connect timeout, or the kernel accepted it into the
        # queue and the read timed out… which would take 30 s: the bound is the connect timeout's.
        assert elapsed < 5, (elapsed, outcome.error)
    finally:
        for s in fillers:
            s.close()
        blackhole.close()


def test_old_delivered_and_given_up_deliveries_are_purged_by_the_round_and_logged(world, settings, caplog):
    settings.YIWANG_WEBHOOK_KEEP_DAYS = 30
    receiver = Receiver(SECRET).start()
    try:
        services.subscription_add(name="keep", url=receiver.url, secret=SECRET)
        with clock.frozen_at(T0):
            walk(world, report(world))
            services.deliver_due()
    finally:
        receiver.stop()
    rows = list(Delivery.objects.order_by("seq"))
    assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}
    Delivery.objects.filter(pk=rows[0].pk).update(status=DeliveryStatus.DEAD)
    Delivery.objects.filter(pk=rows[1].pk).update(status=DeliveryStatus.FAILED)  # still retrying: kept
    Delivery.objects.filter(pk=rows[4].pk).update(created_at=T0 + dt.timedelta(days=10))  # young: kept
    later = T0 + dt.timedelta(days=31)
    out = io.StringIO()
    with clock.frozen_at(later), caplog.at_level(logging.INFO, logger="yiwang.integrations"):
        call_command("integrations", stdout=out)
    assert "3 old deliveries purged" in out.getvalue()
    assert "purged 3 deliveries" in caplog.text
    assert set(Delivery.objects.values_list("pk", flat=True)) == {rows[1].pk, rows[4].pk}
    assert not Attempt.objects.filter(delivery_id__in=[rows[0].pk, rows[2].pk, rows[3].pk]).exists()

    settings.YIWANG_WEBHOOK_KEEP_DAYS = None  # kept for ever
    with clock.frozen_at(later + dt.timedelta(days=999)):
        assert services.purge_old() == 0


@pytest.mark.parametrize("hostile", ["=1+1", "61040219500101123X", "王小明\u202e", "a\x00b"])
def test_hostile_text_in_a_subscription_name_does_not_break_the_pool(world, hostile):
    receiver = Receiver(SECRET).start()
    try:
        try:
            services.subscription_add(name=f"订阅{hostile}", url=receiver.url, secret=SECRET, actions=["submit"])
        except ValidationFailed as exc:  # a control character: refused by field (a NUL was a 500 on PostgreSQL)
            assert exc.field == "name" and hostile in ("a\x00b", "王小明\u202e"), exc
            return
        report(world)
        counts = services.deliver_due()
        assert counts["delivered"] == 1 and len(receiver.processed) == 1
    finally:
        receiver.stop()
