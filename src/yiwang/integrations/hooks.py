"""What an appended case event queues for other systems, in the event's own transaction.

The engine (cases.services.timeline) sends ``event_written`` right after it writes a CaseEvent and
before its transaction commits. The rows written here therefore commit or roll back with the event:
a delivery never exists for an event that does not, and an event never lacks its deliveries. Nothing
here touches the network; `yiwang worker` sends what was queued (services.deliver_due,
forwarding.forward_due).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import public_payload
from yiwang.core import clock
from yiwang.core.confcache import ConfigCache
from yiwang.core.idnumber import mask_data

CACHE = "integrations"


@dataclass(frozen=True)
class Target:
    pk: int
    actions: frozenset[str]
    region_path: str  # "" for everywhere


@dataclass(frozen=True)
class Config:
    subscriptions: tuple[Target, ...]
    # (rule id, region path, the matter ids it forwards)
    rules: tuple[tuple[int, str, frozenset[int]], ...]


def _load() -> Config:
    from yiwang.catalog.models import Matter
    from yiwang.integrations.models import ForwardingRule, Subscription

    subs = tuple(Target(s.pk, frozenset(s.actions or ()), s.region.path if s.region_id else "")
                 for s in Subscription.objects.filter(active=True).select_related("region"))
    rules = []
    for rule in ForwardingRule.objects.filter(active=True).select_related("region"):
        matters = frozenset(Matter.objects.filter(code__in=list(rule.service_codes or {})).values_list("pk", flat=True))
        rules.append((rule.pk, rule.region.path if rule.region_id else "", matters))
    return Config(subs, tuple(rules))


# Every case event asks it: cached per process, reloaded when services.config_changed bumps it.
config = ConfigCache(CACHE, _load)


def region_code(case: Case) -> str:
    parts = [p for p in case.region_path.split("/") if p]
    return parts[-1] if parts else ""


def body_for(case: Case, event: CaseEvent, delivery_id: str) -> str:
    """The JSON a receiver gets: identifiers, the state and the public texts, never personal data.

    No applicant, phone, address, description or internal note goes out; the texts residents may read
    (a staff reply, a public result) are sent with ID numbers and phone numbers masked, since a
    receiver is a third party (个人信息保护法 Art. 23)."""
    texts = {k: v for k, v in public_payload(case.kind, event.action, event.payload or {}).items() if isinstance(v, str)}
    public = mask_data(texts)
    return json.dumps({
        "id": delivery_id,
        "event": f"{case.number}/{event.seq}",
        "case": case.number,
        "seq": event.seq,
        "kind": case.kind,
        "action": event.action,
        "state": event.to_state,
        "region": region_code(case),
        "time": event.at.isoformat(),
        "public": public,
    }, ensure_ascii=False, sort_keys=True)


def on_event_written(sender, *, case: Case, event: CaseEvent, **kwargs) -> None:
    conf = config.get()
    if not conf.subscriptions and not conf.rules:
        return
    from yiwang.integrations.models import Delivery, Forwarded

    now = clock.now()
    deliveries = []
    for sub in conf.subscriptions:
        if sub.actions and event.action not in sub.actions:
            continue
        if sub.region_path and not case.region_path.startswith(sub.region_path):
            continue
        delivery_id = str(uuid.uuid4())
        deliveries.append(Delivery(delivery_id=delivery_id, subscription_id=sub.pk, case_id=case.pk, seq=event.seq,
                                   action=event.action, body=body_for(case, event, delivery_id), next_attempt_at=now,
                                   created_at=now))
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
    if event.seq == 1:
        for rule_id, path, matters in conf.rules:
            if case.matter_id in matters and (not path or case.region_path.startswith(path)):
                Forwarded.objects.create(case_id=case.pk, rule_id=rule_id, next_attempt_at=now, created_at=now)
                break  # one case goes to one server: the first rule by name
