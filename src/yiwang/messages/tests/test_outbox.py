"""The outbox: queued in the caller's transaction, once per key, delivered with retries and backoff."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from yiwang.core import clock
from yiwang.messages import selectors, services
from yiwang.messages.models import Message, Status
from yiwang.messages.tests.blocking import FlakySms

# Tomorrow 09:00 (local): messages are queued at the real time, so every frozen moment of delivery
# must come after it (a fixed date here started failing once the real clock passed it).
T0 = timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=1), dt.time(9, 0)))
PHONE = "13800000001"


@pytest.fixture
def sms_file(settings, tmp_path):
    settings.YIWANG_SMS_BACKEND = "file"
    settings.YIWANG_SMS_FILE = str(tmp_path / "sms.jsonl")
    return tmp_path / "sms.jsonl"


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def sms(key: str = "case:1:2:resident:3:sms", text: str = "您的验证码是 123456", to: str = PHONE) -> Message:
    return services.enqueue(channel="sms", to=to, text=text, dedupe_key=key)


def test_a_message_queued_in_a_transaction_that_rolls_back_was_never_queued(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        sms()
        raise RuntimeError("the event's own write failed")
    assert not Message.objects.exists()


def test_the_same_event_person_and_channel_queue_one_message(db):
    with transaction.atomic():
        first = sms()
        again = sms(text="另一段文字")
        # The duplicate rolled back only its savepoint: the caller's transaction goes on.
        other = sms(key="case:1:3:resident:3:sms")  # the next event
    assert again.pk == first.pk and again.text == first.text
    assert Message.objects.count() == 2 and other.pk != first.pk


def test_an_sms_goes_to_the_file_once_and_is_recorded(db, sms_file, settings):
    settings.YIWANG_SMS_SIGNATURE = "【西咸新区政务服务】"
    message = sms()
    with clock.frozen_at(T0):
        counts = services.deliver_due()
    assert counts["sent"] == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.sent_at == T0 and message.attempts == 1
    assert message.provider_id == message.idempotency_id and message.claimed_until is None
    # The file holds what the handset shows: the signature first.
    assert [(m["to"], m["text"], m["segments"]) for m in lines(sms_file)] == [
        (PHONE, "【西咸新区政务服务】您的验证码是 123456", 1)]
    assert services.deliver_due()["claimed"] == 0
    assert len(lines(sms_file)) == 1


def test_a_message_is_not_sent_before_its_time(db, sms_file):
    services.enqueue(channel="sms", to=PHONE, text="明天提醒", dedupe_key="k", not_before=T0 + dt.timedelta(hours=1))
    with clock.frozen_at(T0):
        assert services.deliver_due()["claimed"] == 0
    with clock.frozen_at(T0 + dt.timedelta(hours=1)):
        assert services.deliver_due()["sent"] == 1


def test_an_in_app_message_is_delivered_by_being_written(world, sms_file):
    resident = next(iter(world.residents.values()))
    with clock.frozen_at(T0):
        message = services.enqueue(channel="inapp", resident=resident, text="您的老年证已办结", dedupe_key="k")
    assert message.status == Status.SENT and message.to == f"resident:{resident.pk}"
    assert services.deliver_due()["claimed"] == 0
    assert list(selectors.inbox(resident_id=resident.pk)) == [message]
    assert not services.mark_read(message_id=message.pk, resident_id=resident.pk + 1)
    assert services.mark_read(message_id=message.pk, resident_id=resident.pk)
    with pytest.raises(ValueError):
        services.enqueue(channel="inapp", text="nobody", dedupe_key="k2")


def test_a_failing_channel_is_retried_with_backoff_then_given_up(db, settings):
    settings.YIWANG_SMS_BACKEND = "yiwang.messages.tests.blocking.FlakySms"
    settings.YIWANG_MESSAGE_MAX_ATTEMPTS = 4
    settings.YIWANG_MESSAGE_RETRY_BASE_SECONDS, settings.YIWANG_MESSAGE_RETRY_CAP_SECONDS = 30, 90
    FlakySms.calls.clear()
    message = sms()
    now, waits = T0, []
    for _ in range(4):
        with clock.frozen_at(now):
            assert services.deliver_due()["claimed"] == 1
            assert services.deliver_due()["claimed"] == 0  # not again before its backoff is over
        message.refresh_from_db()
        if message.status == Status.FAILED:
            waits.append((message.next_attempt_at - now).total_seconds())
            now = message.next_attempt_at
    # Doubling, capped, and up to a tenth longer (spread out).
    assert len(waits) == 3 and all(x <= w <= 1.1 * x for w, x in zip(waits, [30, 60, 90], strict=True))
    assert message.status == Status.DEAD and message.attempts == 4
    assert message.last_error == "RetryableError: provider busy"
    assert len(FlakySms.calls) == 4 and set(FlakySms.calls) == {message.idempotency_id}
    with clock.frozen_at(now + dt.timedelta(days=1)):
        assert services.deliver_due()["claimed"] == 0


def test_a_permanent_refusal_is_given_up_at_once(db, settings):
    settings.YIWANG_SMS_BACKEND = "yiwang.messages.tests.blocking.FlakySms"
    message = sms(text="[permanent]")
    assert services.deliver_due()["dead"] == 1
    message.refresh_from_db()
    assert message.status == Status.DEAD and message.attempts == 1 and "invalid number" in message.last_error


def abandon(message: Message, at: dt.datetime) -> None:
    """What a worker killed mid-send leaves: the row claimed and committed as sending, nothing after."""
    with clock.frozen_at(at):
        claimed = services._claim_one({"sms": True, "email": False, "inapp": True})
    assert claimed.pk == message.pk


def test_an_abandoned_sms_is_sent_again_with_the_same_id_and_the_file_keeps_one(db, sms_file, settings):
    message = sms()
    # The dead worker had reached the provider: the line is in the file, the outcome never recorded.
    abandon(message, T0)
    services.channel_for("sms").send(to=PHONE, subject="", text=message.text, idempotency_id=message.idempotency_id)
    with clock.frozen_at(T0 + dt.timedelta(seconds=settings.YIWANG_MESSAGE_LEASE_SECONDS - 1)):
        assert services.deliver_due()["claimed"] == 0  # the lease still holds: maybe only slow
    with clock.frozen_at(T0 + dt.timedelta(seconds=settings.YIWANG_MESSAGE_LEASE_SECONDS + 1)):
        assert services.deliver_due()["sent"] == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.attempts == 2
    assert len(lines(sms_file)) == 1


def test_an_abandoned_email_is_left_unknown_not_sent_twice(db, smtp_settings, settings):
    message = services.enqueue(channel="email", to="wang@example.cn", subject="办结通知", text="已办结",
                               dedupe_key="k")
    abandon(message, T0)
    with clock.frozen_at(T0 + dt.timedelta(seconds=settings.YIWANG_MESSAGE_LEASE_SECONDS + 1)):
        assert services.deliver_due()["unknown"] == 1
        assert services.deliver_due()["claimed"] == 0
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN and smtp_settings.handler.received == []
    # Someone checked: it did not arrive. Sent again, once.
    services.resend(message_id=message.pk)
    assert services.deliver_due()["sent"] == 1
    assert len(smtp_settings.handler.received) == 1


def test_a_slow_worker_that_outlived_its_lease_still_records_what_it_knows(db, settings, sms_file):
    settings.YIWANG_SMS_BACKEND = "yiwang.messages.tests.blocking.FlakySms"  # not idempotent
    message = sms()
    with clock.frozen_at(T0):
        claimed = services._claim_one({"sms": False, "email": False, "inapp": True})
    with clock.frozen_at(T0 + dt.timedelta(seconds=settings.YIWANG_MESSAGE_LEASE_SECONDS + 1)):
        assert services.deliver_due()["unknown"] == 1
    settings.YIWANG_SMS_BACKEND = "file"
    assert services._attempt(claimed) == "sent"
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_an_email_arrives_at_a_real_smtp_server(db, smtp_settings):
    message = services.enqueue(channel="email", to="wang@example.cn", subject="办结通知",
                               text="您的老年证申请已办结。", dedupe_key="case:1:5:resident:3:email")
    assert services.deliver_due()["sent"] == 1
    [received] = smtp_settings.handler.received
    assert received["To"] == "wang@example.cn" and received["Subject"] == "办结通知"
    assert received.get_content().strip() == "您的老年证申请已办结。"
    message.refresh_from_db()
    assert message.status == Status.SENT and received["Message-ID"] == message.provider_id
    assert message.idempotency_id in message.provider_id


def test_an_email_refused_by_the_server_is_given_up_and_one_it_cannot_reach_is_retried(db, smtp_settings, settings):
    smtp_settings.handler.refuse.add("nobody@example.cn")
    refused = services.enqueue(channel="email", to="nobody@example.cn", subject="s", text="t", dedupe_key="a")
    assert services.deliver_due()["dead"] == 1
    refused.refresh_from_db()
    assert refused.status == Status.DEAD and "550" in refused.last_error
    settings.EMAIL_PORT = 1  # nothing listens there
    unreachable = services.enqueue(channel="email", to="wang@example.cn", subject="s", text="t", dedupe_key="b")
    assert services.deliver_due()["failed"] == 1
    unreachable.refresh_from_db()
    assert unreachable.status == Status.FAILED and unreachable.next_attempt_at > clock.now()


def test_messages_list_prints_what_was_sent(db, sms_file):
    sms(text="您的验证码是 654321")
    sms(key="other", to="13900000002", text="别人的")
    services.deliver_due()
    out = io.StringIO()
    call_command("messages", "list", "--to", PHONE, "--json", stdout=out)
    [row] = json.loads(out.getvalue())
    assert (row["to"], row["channel"], row["text"], row["status"]) == (PHONE, "sms", "您的验证码是 654321", "sent")
    assert row["time"]
    out = io.StringIO()
    call_command("messages", "list", stdout=out)
    assert "654321" in out.getvalue() and "别人的" in out.getvalue()


def test_the_worker_delivers_the_outbox(db, sms_file):
    sms()
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert "messages: 1 sent, 0 failed, 0 given up, 0 unknown" in out.getvalue()
    assert len(lines(sms_file)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_thread_delivers_within_a_second_and_stops_when_told(sms_file):
    import threading
    import time

    from yiwang.messages.tasks import start_delivery

    stop = threading.Event()
    thread = start_delivery(stop, interval=0.05)
    try:
        sms()  # queued after the loop began: it is found on a later look
        deadline = time.monotonic() + 10
        while len(lines(sms_file)) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert len(lines(sms_file)) == 1 and Message.objects.get().status == Status.SENT


@pytest.mark.django_db(transaction=True)
def test_workers_side_by_side_send_each_message_once(settings, sms_file):
    import threading

    from django.db import connection

    settings.YIWANG_SMS_BACKEND = "yiwang.messages.tests.blocking.SlowFileSms"
    ids = [sms(key=f"k{n}", text=f"第 {n} 条").idempotency_id for n in range(30)]
    claimed: list[int] = []

    def worker():
        try:
            total = 0
            while (n := services.deliver_due(batch=5)["claimed"]):
                total += n
            claimed.append(total)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(m["id"] for m in lines(sms_file)) == sorted(ids)  # each once
    assert sum(claimed) == 30 and all(claimed)  # every worker took some, none took one twice
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}
