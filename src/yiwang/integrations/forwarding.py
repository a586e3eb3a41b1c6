"""Open311 GeoReport v2 client: forward chosen cases to another server and pull back what it says.

A case of a forwarded matter opened in a rule's region gets a Forwarded row in its opening
transaction (hooks.on_event_written). `yiwang worker` then POSTs it (forward_due) and, every rule's
``pull_minutes``, asks for its status (pull_due). What comes back is appended to the local timeline
through the engine as system actions (cases.workflows.SYSTEM_ACTIONS): ``forward_open311`` when the
other server took it, ``remote_status`` when its status or notes changed, ``remote_close`` when it
closed it. A remote "closed" closes an incident here too (the other platform handled the problem,
and the reporter is told as at any 结案); any other kind only records it, for staff to close through
its own workflow (an application's 办结 needs a decision only a person takes here).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from yiwang.cases.models import Case
from yiwang.cases.services.actions import take
from yiwang.cases.services.timeline import rules_for
from yiwang.cases.workflows import SYSTEM_ACTIONS, WORKFLOWS, Inputs
from yiwang.core import clock
from yiwang.core.errors import Conflict
from yiwang.core.idnumber import mask_text
from yiwang.integrations.models import Forwarded, ForwardingRule, ForwardStatus
from yiwang.integrations.services import backoff, max_attempts

log = logging.getLogger("yiwang.integrations")

LEASE = dt.timedelta(minutes=5)
INCIDENT = "incident"  # the one kind a remote "closed" closes (see the module's doc)


class RemoteError(Exception):
    pass


def _timeout() -> float:
    return float(getattr(settings, "YIWANG_OPEN311_TIMEOUT_SECONDS", 15))


def _call(url: str, *, data: dict | None = None) -> list[dict]:
    if not url.startswith(("http://", "https://")):
        raise RemoteError("the rule's base URL must start with http:// or https://")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET",
                                     headers={"Accept": "application/json", "User-Agent": "yiwang-open311/1"})
    try:
        with urllib.request.urlopen(request, timeout=_timeout()) as response:
            raw = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode(errors="replace")
        raise RemoteError(f"HTTP {exc.code}: {detail}") from None
    except Exception as exc:
        raise RemoteError(f"{type(exc).__name__}: {exc}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise RemoteError("the answer is not JSON") from None
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise RemoteError("the answer is not a GeoReport v2 list")
    return answer


def _url(base: str, path: str, **query: str) -> str:
    query = {k: v for k, v in query.items() if v}
    return f"{base.rstrip('/')}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def request_fields(case: Case, row: Forwarded) -> dict:
    """What the other server is sent: the public fields, never the reporter's name, phone or e-mail.

    device_id names the case, so that a POST repeated after a crash is recognised by a server that
    dedupes on it (yiwang's own Open311 does) instead of filing the report twice."""
    rule = row.rule
    return {k: v for k, v in {
        "api_key": rule.api_key,
        "jurisdiction_id": rule.jurisdiction_id,
        "service_code": rule.service_codes.get(case.matter.code, ""),
        "lat": "" if case.lat is None else str(case.lat),
        "long": "" if case.lng is None else str(case.lng),
        "address_string": mask_text(case.address),
        "description": mask_text(case.description or case.title),
        "device_id": f"yiwang:{case.number}",
    }.items() if v}


def _claim(q: Q) -> Forwarded | None:
    now = clock.now()
    with transaction.atomic():
        row = (Forwarded.objects.select_for_update().filter(q, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "pk").select_related("rule", "case", "case__matter").first())
        if row is None:
            return None
        # Leased by moving its time: another worker passes it by until this one records the outcome.
        row.next_attempt_at = now + LEASE
        row.save(update_fields=["next_attempt_at"])
    return row


def forward_due(*, batch: int = 50) -> Counter:
    """POST the cases waiting to be forwarded; each outcome counted."""
    counts: Counter = Counter()
    # A disabled rule's waiting cases wait for it to be enabled again.
    waiting = Q(status__in=[ForwardStatus.PENDING, ForwardStatus.FAILED], rule__active=True)
    for _turn in range(batch):
        if not Forwarded.objects.filter(waiting, next_attempt_at__lte=clock.now()).exists():
            break
        row = _claim(waiting)
        if row is None:
            break
        counts[_forward(row)] += 1
    return counts


def _forward(row: Forwarded) -> str:
    case = row.case
    try:
        answer = _call(_url(row.rule.base_url, "requests.json"), data=request_fields(case, row))
        first = answer[0] if answer else {}
        remote_id = str(first.get("service_request_id") or "")[:100]
        token = str(first.get("token") or "")[:100]
        if not remote_id and not token:
            raise RemoteError(str(first.get("description") or "no service_request_id or token in the answer")[:300])
    except RemoteError as exc:
        attempts = row.attempts + 1
        dead = attempts >= max_attempts()
        Forwarded.objects.filter(pk=row.pk).update(
            attempts=attempts, last_error=str(exc)[:500], status=ForwardStatus.DEAD if dead else ForwardStatus.FAILED,
            next_attempt_at=clock.now() + backoff(attempts))
        log.warning("open311: forwarding case %s to %s failed: %s", case.number, row.rule.name, exc)
        return "dead" if dead else "failed"
    with transaction.atomic():
        fresh = Case.objects.select_for_update().select_related("matter_version").get(pk=case.pk)
        take(fresh, SYSTEM_ACTIONS["forward_open311"], Inputs(), viewer=None, capacity=None, at=clock.now(),
             rules=rules_for(fresh), payload={"platform": row.rule.name, "service_request_id": remote_id})
        Forwarded.objects.filter(pk=row.pk).update(
            status=ForwardStatus.FORWARDED, service_request_id=remote_id, token=token, attempts=row.attempts + 1,
            last_error="", next_attempt_at=clock.now())
    return "forwarded"


def pull_due(*, batch: int = 200, force: bool = False) -> Counter:
    """Ask the other servers about forwarded cases not asked about for their rule's ``pull_minutes``
    (all of them with ``force``); append what changed. Each outcome counted."""
    counts: Counter = Counter()
    now = clock.now()
    due = []
    # Per rule, so that the due rows are chosen in the query: a batch of rows not yet due must not
    # crowd out the ones that are.
    for rule in ForwardingRule.objects.filter(cases__status=ForwardStatus.FORWARDED).distinct():
        rows = Forwarded.objects.filter(rule=rule, status=ForwardStatus.FORWARDED)
        if not force:
            rows = rows.filter(Q(pulled_at__isnull=True)
                               | Q(pulled_at__lte=now - dt.timedelta(minutes=rule.pull_minutes)))
        # Never asked first, then the longest ago (NULLs sort first on SQLite, last on PostgreSQL).
        due += rows.select_related("rule").order_by(F("pulled_at").asc(nulls_first=True), "pk")[:batch]
    for row in due[:batch]:
        try:
            counts[pull_one(row)] += 1
        except RemoteError as exc:
            Forwarded.objects.filter(pk=row.pk).update(pulled_at=now, last_error=str(exc)[:500])
            log.warning("open311: pulling %s from %s failed: %s", row.service_request_id, row.rule.name, exc)
            counts["failed"] += 1
    return counts


def pull_one(row: Forwarded) -> str:
    """Read one forwarded case's status and notes from its server; "unchanged", "updated" or "closed"."""
    rule = row.rule
    if not row.service_request_id and row.token:
        found = _call(_url(rule.base_url, f"tokens/{urllib.parse.quote(row.token)}.json",
                           jurisdiction_id=rule.jurisdiction_id))
        remote_id = str((found[0] if found else {}).get("service_request_id") or "")[:100]
        if not remote_id:
            Forwarded.objects.filter(pk=row.pk).update(pulled_at=clock.now())
            return "unchanged"
        Forwarded.objects.filter(pk=row.pk).update(service_request_id=remote_id)
        row.service_request_id = remote_id
    answer = _call(_url(rule.base_url, "requests.json", service_request_id=row.service_request_id,
                        jurisdiction_id=rule.jurisdiction_id))
    item = next((i for i in answer if str(i.get("service_request_id")) == row.service_request_id), None)
    if item is None:
        raise RemoteError(f"{row.service_request_id} is not in the answer")
    status = str(item.get("status") or "").lower()[:20]
    notes = mask_text(str(item.get("status_notes") or ""))[:2000]
    return record_remote(row, status=status, notes=notes)


def record_remote(row: Forwarded, *, status: str, notes: str) -> str:
    """Append the other server's status and notes to the case, if they changed; one transaction."""
    now = clock.now()
    with transaction.atomic():
        fresh = Forwarded.objects.select_for_update().get(pk=row.pk)
        if (fresh.remote_status, fresh.remote_notes) == (status, notes) or fresh.status != ForwardStatus.FORWARDED:
            Forwarded.objects.filter(pk=row.pk).update(pulled_at=now, last_error="")
            return "unchanged"
        case = Case.objects.select_for_update().select_related("matter_version").get(pk=fresh.case_id)
        closes = status == "closed" and case.kind == INCIDENT and case.state not in WORKFLOWS[INCIDENT].closed
        act = SYSTEM_ACTIONS["remote_close" if closes else "remote_status"]
        payload = {"platform": fresh.rule.name, "service_request_id": fresh.service_request_id,
                   "remote_status": status, "status_notes": notes}
        try:
            take(case, act, Inputs(result=notes if closes else ""), viewer=None, capacity=None, at=now,
                 rules=rules_for(case), payload=payload)
        except Conflict:
            return "unchanged"  # someone acted on the case meanwhile; the next pull tries again
        Forwarded.objects.filter(pk=row.pk).update(
            remote_status=status, remote_notes=notes, pulled_at=now, last_error="",
            status=ForwardStatus.CLOSED if status == "closed" else ForwardStatus.FORWARDED)
    return "closed" if status == "closed" else "updated"
