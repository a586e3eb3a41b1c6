"""Outbound webhooks: queued with the event, signed, retried with backoff, logged, replayable, and
each delivery processed exactly once by id by a receiver that was down for a while."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import pytest
from django.core.management import call_command
from django.db import transaction

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed
from yiwang.integrations import services
from yiwang.integrations.models import Attempt, Delivery, DeliveryStatus
from yiwang.integrations.services import backoff, sign, verify
from yiwang.integrations.tests.receiver import Receiver

SECRET = "s3cret-for-tests"
T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)  # a Monday morning in Beijing


def report(world, **kw):
    fields = dict(matter_code="INC_PARKING", lat=34.405, lng=108.705, title="楼下乱停车", channel="online",
                  region_code="KG-DZ-XFL")
    fields.update(kw)
    return case_create(viewer=world.viewer("resident_wang"), **fields).case


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def walk(world, case):
    """Register, dispatch, acknowledge, handle: four more events."""
    act(world, "operator_kg", case, "register")
    act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
    act(world, "handler_en", case, "acknowledge")
    return act(world, "handler_en", case, "handle", result="已劝离车辆")


def test_a_receiver_verifies_the_signature_over_timestamp_and_body():
    body = b'{"id": "x"}'
    now = time.time()
    ts = str(int(now))
    signature = sign(SECRET, ts, body)
    assert signature.startswith("sha256=") and verify(SECRET, ts, body, signature, now=now)
    assert not verify("another secret", ts, body, signature, now=now)
    assert not verify(SECRET, ts, body + b" ", signature, now=now)  # a changed body
    assert not verify(SECRET, str(int(now) + 1), body, signature, now=now)  # a changed timestamp
    assert not verify(SECRET, ts, body, signature, now=now + 301)  # captured and played again later
    assert not verify(SECRET, "not a number", body, signature, now=now)


def test_the_backoff_doubles_from_thirty_seconds_up_to_an_hour():
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff(30).total_seconds() == 3600


def test_only_subscribed_actions_in_the_subscribed_region_are_queued_with_their_event(world):
    services.subscription_add(name="closings", url="http://127.0.0.1:9/x", actions=["dispatch", "handle"],
                              region_code="KG-DZ", secret=SECRET)
    services.subscription_add(name="qinhan", url="http://127.0.0.1:9/y", region_code="QH", secret=SECRET)
    case = walk(world, report(world))
    rows = list(Delivery.objects.order_by("seq"))
    assert [(d.subscription.name, d.action) for d in rows] == [("closings", "dispatch"), ("closings", "handle")]
    assert all(d.status == DeliveryStatus.PENDING and d.case_id == case.pk for d in rows)
    body = json.loads(rows[0].body)
    assert body["id"] == rows[0].delivery_id and body["case"] == case.number and body["region"] == "KG-DZ-XFL-G1"
    assert body["event"] == f"{case.number}/{rows[0].seq}" and body["state"] == "dispatched"


def test_a_neighbouring_community_of_the_same_town_is_not_sent(world):
    services.subscription_add(name="cjc", url="http://127.0.0.1:9/x", region_code="KG-DZ-CJC", secret=SECRET)
    report(world)  # in 幸福里 (KG-DZ-XFL), next to 程家村 in 底张街道
    assert not Delivery.objects.exists()
    report(world, lat=34.405, lng=108.745, region_code="KG-DZ-CJC")
    assert Delivery.objects.get().action == "submit"


def test_a_step_that_rolls_back_queues_nothing(world):
    services.subscription_add(name="all", url="http://127.0.0.1:9/x", secret=SECRET)
    with pytest.raises(RuntimeError), transaction.atomic():
        report(world)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the request failed after the case was written")
    assert not Delivery.objects.exists()


def test_the_action_commits_while_the_receiver_hangs(world):
    receiver = Receiver(SECRET).start()
    receiver.hang = 5
    try:
        services.subscription_add(name="slow", url=receiver.url, secret=SECRET)
        started = time.monotonic()
        case = report(world)
        act(world, "operator_kg", case, "register")
        assert time.monotonic() - started < 2
        assert receiver.received == []  # nothing is sent from the request
        assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    finally:
        receiver.hang = 0
        receiver.stop()


HOSTILE = "=1+1 王大爷 身份证61040219500101123X 电话13800000001\x07"


def test_no_personal_data_goes_out_even_when_staff_type_it_into_public_texts(world, settings):
    receiver = Receiver(SECRET).start()
    try:
        services.subscription_add(name="all", url=receiver.url, secret=SECRET)
        case = report(world, description="我是王大爷，身份证61040219500101123X，电话13800000001",
                      address="幸福里3号楼 13800000001")  # the account's name and phone: 王大爷, 13800000001
        case = walk(world, case)
        act(world, "operator_kg", case, "verify", note="内部：王大爷 61040219500101123X")
        act(world, "operator_kg", case, "ask_confirmation")
        services.deliver_due()
    finally:
        receiver.stop()
    bodies = list(receiver.processed.values())
    assert len(bodies) == Delivery.objects.count() >= 5
    raw = json.dumps(bodies, ensure_ascii=False)
    for secret in ("61040219500101123X", "13800000001", "王大爷", "幸福里3号楼", "内部"):
        assert secret not in raw
    assert set(bodies[0]) == {"id", "event", "case", "seq", "kind", "action", "state", "region", "time", "public"}


def test_the_handling_result_goes_out_masked(world):
    receiver = Receiver(SECRET).start()
    try:
        services.subscription_add(name="handled", url=receiver.url, actions=["handle"], secret=SECRET)
        case = report(world)
        act(world, "operator_kg", case, "register")
        act(world, "operator_kg", case, "dispatch", unit_code="KG-DZ-EN")
        act(world, "handler_en", case, "acknowledge")
        act(world, "handler_en", case, "handle", result=HOSTILE.replace("\x07", ""))
        services.deliver_due()
    finally:
        receiver.stop()
    (body,) = receiver.processed.values()
    assert body["public"]["result"].startswith("=1+1")  # text, not a formula: the receiver's business
    assert "61040219500101123X" not in body["public"]["result"] and "13800000001" not in body["public"]["result"]


def test_a_receiver_down_for_a_while_gets_every_delivery_exactly_once_by_id(world, settings):
    settings.YIWANG_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver = Receiver(SECRET)  # not listening yet: connections are refused
    services.subscription_add(name="flaky", url=receiver.url, secret=SECRET)
    with clock.frozen_at(T0):
        case = walk(world, report(world))
        assert services.deliver_due()["failed"] == 5
    ids = set(Delivery.objects.values_list("delivery_id", flat=True))
    assert len(ids) == 5
    moment = T0
    try:
        for round_ in range(12):
            moment += dt.timedelta(minutes=10)
            if round_ == 2:
                receiver.start()
                receiver.status = 503  # up, but not ready
            if round_ == 4:
                # Ready, but the first answers are lost: it processes, then answers too late.
                receiver.status, receiver.hang = 200, 1.0
            if round_ == 6:
                receiver.hang = 0
            with clock.frozen_at(moment):
                services.deliver_due()
            if not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists():
                break
        assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
        assert set(receiver.processed) == ids  # every one, each processed once
        assert len(receiver.received) > len(ids)  # some arrived more than once, and were dropped
        assert receiver.bad_signatures == 0
        # Delivered is final: the worker never sends it again.
        with clock.frozen_at(moment + dt.timedelta(days=1)):
            assert services.deliver_due()["claimed"] == 0
        # Every attempt is logged with its outcome.
        log = Attempt.objects.filter(delivery__seq=1)
        assert log.filter(ok=False, status_code=None).exists()  # refused
        assert log.filter(ok=True, status_code=200).count() == 1
        seqs = sorted(body["seq"] for body in receiver.processed.values())
        assert seqs == [1, 2, 3, 4, 5] and all(b["case"] == case.number for b in receiver.processed.values())
    finally:
        receiver.stop()


def test_a_replay_sends_the_same_id_and_body_again(world):
    receiver = Receiver(SECRET).start()
    try:
        services.subscription_add(name="again", url=receiver.url, actions=["submit"], secret=SECRET)
        report(world)
        services.deliver_due()
        delivery = Delivery.objects.get()
        assert delivery.status == DeliveryStatus.DELIVERED and receiver.received == [delivery.delivery_id]
        receiver.processed.clear()  # the receiver lost its data
        assert services.replay(subscription="again") == 1
        services.deliver_due()
    finally:
        receiver.stop()
    assert receiver.received == [delivery.delivery_id] * 2
    assert json.dumps(receiver.processed[delivery.delivery_id], ensure_ascii=False, sort_keys=True) == delivery.body
    assert Attempt.objects.filter(delivery=delivery, ok=True).count() == 2


def test_a_delivery_that_keeps_failing_is_given_up_and_can_be_replayed(world, settings):
    settings.YIWANG_WEBHOOK_MAX_ATTEMPTS = 2
    services.subscription_add(name="gone", url=Receiver(SECRET).url, actions=["submit"], secret=SECRET)
    with clock.frozen_at(T0):
        report(world)
        services.deliver_due()
    with clock.frozen_at(T0 + dt.timedelta(minutes=1)):
        assert services.deliver_due()["dead"] == 1
    assert Delivery.objects.get().status == DeliveryStatus.DEAD
    assert services.replay(subscription="gone", status="dead") == 1
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


def test_a_subscription_is_refused_with_a_field_message(world):
    with pytest.raises(ValidationFailed) as bad:
        services.subscription_add(name="x", url="ftp://example.org/", secret=SECRET)
    assert bad.value.field == "url"
    with pytest.raises(ValidationFailed) as bad:
        services.subscription_add(name="x", url="https://example.org/", actions=["explode"])
    assert bad.value.field == "actions"
    with pytest.raises(ValidationFailed) as bad:
        services.subscription_add(name="x", url="https://example.org/", region_code="NOWHERE")
    assert bad.value.field == "region"


def test_the_workers_round_delivers(world):
    receiver = Receiver(SECRET).start()
    try:
        services.subscription_add(name="worker", url=receiver.url, actions=["submit"], secret=SECRET)
        report(world)
        out = io.StringIO()
        call_command("integrations", stdout=out)  # what `yiwang worker --once` runs, and --loop repeats
    finally:
        receiver.stop()
    assert "webhooks: 1 delivered" in out.getvalue() and len(receiver.processed) == 1
