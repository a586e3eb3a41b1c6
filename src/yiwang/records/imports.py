"""Bulk import of historical cases (`yiwang import`; the format is in docs/cli.md).

A legacy system's records arrive as JSON Lines, one case per line with its timeline and its rating.
Each line is replayed through its kind's workflow (cases/workflows.py) by the rules cases.services
applies live: which action may follow which state, where an action moves the case, when the clock
starts, stops and resumes, when the case closes. So the case row gets the columns the engine would
have written (state, holder, handling and supervising unit, accepted/due/suspended/closed times,
decision, result, event count, version), and the timeline gets its hash chain (cases.chain). The
rows are then written in bulk: COPY on PostgreSQL, executemany on SQLite. Their ids are taken from
the tables' sequences beforehand, so that events and ratings can name their case. On PostgreSQL a
chunk is written by a thread on the import's connection while the next chunk is replayed.

What is deliberately not replayed: who may act (a legacy record says who did, and the import
believes it), the matter's form and materials (they are kept as given), and the follow-up case a
bad rating opens live (a legacy follow-up is a case of kind follow_up on a line of its own).

Nothing is ever half-written. By default the whole import is one transaction: a bad line (without
``skip_bad``), an error or a crash leaves the database as it was. With ``commit_every`` each batch
of that many lines is one transaction. A batch holds whole cases with all their events and
ratings, and the report says up to which line the data was committed.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import functools
import gc
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import workdays
from yiwang.cases.chain import GENESIS, event_hash
from yiwang.cases.models import Case, CaseEvent, Channel, Kind
from yiwang.cases.routing import escalation_target
from yiwang.cases.search import index_text
from yiwang.cases.workflows import SYSTEM, TO_UNIT, Inputs, Rules, find_action, transition, workflow
from yiwang.catalog.selectors import matter_cache
from yiwang.core import clock, idnumber
from yiwang.core.errors import DomainError
from yiwang.core.text import control_character_in, refusal
from yiwang.feedback.models import OFFLINE_CHANNELS, TAGS, Evaluation, RatingChannel
from yiwang.feedback.services import RATABLE_KINDS
from yiwang.org import geo
from yiwang.org.models import Resident
from yiwang.org.selectors import hierarchy
from yiwang.records import rollups

CHUNK = 5000  # lines validated, then written, together
REF_PREFIX = "import:"  # a legacy number becomes the case's idempotency key: a second import refuses it
MAX_REF = 80 - len(REF_PREFIX)
CHANNELS = frozenset(Channel.values)
RATING_CHANNELS = frozenset(RatingChannel.values)
# JSON carries a control character only as an escape (raw ones are invalid JSON), DEL excepted: a
# line without any of these is clean without walking its record (core.text; an escaped backslash
# before "b" or "u001f" matches too, and the walk then finds nothing).
MAY_HOLD_CONTROL = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|u007[fF]|[bf])|\x7f")


class LineError(Exception):
    """What is wrong with one line, in words an operator can act on."""


@dataclass
class Progress:
    lines: int = 0
    cases: int = 0
    events: int = 0
    ratings: int = 0
    skipped: int = 0
    bytes_read: int = 0
    total_bytes: int | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


@dataclass
class Report:
    progress: Progress
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message), at most max_errors
    error_count: int = 0
    written: bool = False  # False when the import was refused and nothing (or nothing more) was written
    committed_through: int = 0  # the last line whose batch was committed (commit_every)
    batches_committed: int = 0
    stopped_early: bool = False  # refused after max_errors bad lines, the rest unread
    rollups: dict | None = None

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class Aborted(Exception):
    """Raised inside the import's transaction to roll it back."""


# --------------------------------------------------------------------------------------------- reading


def lines_of(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, text) of every non-blank line."""
    for number, raw in enumerate(stream, start=1):
        if raw.strip():
            yield number, raw


def _chunks(lines: Iterator[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------------------------- lookups


class Lookups:
    """The hierarchy, the catalogue and the calendar from the in-process caches; users, residents
    and earlier imports from the database, one query each per chunk."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.h = hierarchy()
        self.matters = matter_cache.get().by_code
        self.users: dict[str, int | None] = {}
        self.residents: dict[str, tuple[int, str, str] | None] = {}
        self.existing_refs: set[str] = set()
        self.escalation: dict[int, int | None] = {}
        self.follow_up_workdays = settings.YIWANG_BAD_REVIEW_FOLLOW_UP_WORKDAYS
        self.zone = timezone.get_current_timezone()
        self._due: dict[tuple[dt.date, int], dt.datetime] = {}
        self.located: dict[tuple[float, float], geo.Location | None] = {}

    def prefetch(self, records: list[dict]) -> None:
        names, numbers, refs = set(), set(), set()
        points: set[tuple[float, float]] = set()
        for rec in records:
            if rec.get("lat") is not None or rec.get("lng") is not None:
                with contextlib.suppress(DomainError):  # replay() refuses the line, naming the field
                    points.add(geo.check_point(rec.get("lat"), rec.get("lng")))
            events = rec.get("events")
            for ev in events if isinstance(events, list) else ():
                if isinstance(ev, dict) and isinstance(ev.get("actor"), str):
                    names.add(ev["actor"])
            rating = rec.get("rating")
            if isinstance(rating, dict) and isinstance(rating.get("rater"), str):
                names.add(rating["rater"])
            applicant = rec.get("applicant")
            if isinstance(applicant, dict) and isinstance(applicant.get("id_number"), str):
                numbers.add(applicant["id_number"].strip().upper())
            if isinstance(rec.get("ref"), str):
                refs.add(REF_PREFIX + rec["ref"])
        names -= self.users.keys()
        if names:
            found = dict(get_user_model().objects.filter(username__in=names, is_active=True)
                         .values_list("username", "id"))
            self.users.update({n: found.get(n) for n in names})
        numbers -= self.residents.keys()
        if numbers:
            found_r = {n: (rid, name, phone) for rid, n, name, phone in
                       Resident.objects.filter(id_number__in=numbers).order_by("-id")
                       .values_list("id", "id_number", "name", "phone")}
            self.residents.update({n: found_r.get(n) for n in numbers})
        # One tree query for the chunk's points: a locate per record cost 20 µs, mostly shapely's per-call
        # overhead (org.geo.locate_many).
        wanted = list(points)
        self.located = dict(zip(wanted, geo.locate_many(wanted), strict=True))
        self.existing_refs = set(Case.objects.filter(idempotency_key__in=refs)
                                 .values_list("idempotency_key", flat=True)) if refs else set()

    def user(self, username: object, where: object) -> int:
        user_id = self.users.get(username) if isinstance(username, str) else None
        if user_id is None:
            raise LineError(_("%(where)s：没有用户名为 %(u)s 的在用账号。") % {"where": where, "u": username})
        return user_id

    def unit(self, code: object, where: object) -> int:
        unit_id = self.h.unit_by_code.get(code) if isinstance(code, str) else None
        if unit_id is None:
            raise LineError(_("%(where)s：没有编码为 %(code)s 的单位。") % {"where": where, "code": code})
        return unit_id

    def due_after(self, start: dt.datetime, limit: int, unit: str) -> dt.datetime:
        """workdays.due_after, remembered per local day: a deadline in working days depends on the day alone."""
        if unit == "hours":
            return workdays.due_after(start, limit, unit)
        key = (start.astimezone(self.zone).date(), limit)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = workdays.due_after(start, limit, unit)
        return due

    def escalation_target(self, unit_id: int) -> int | None:
        if unit_id not in self.escalation:
            try:
                self.escalation[unit_id] = escalation_target(self.h.units[unit_id], self.h).id
            except DomainError:
                self.escalation[unit_id] = None
        return self.escalation[unit_id]


# --------------------------------------------------------------------------------------------- replay


@functools.lru_cache(maxsize=65536)
def _search_text(title: str, description: str, address: str) -> str:
    # Titles repeat (a matter's name), and so do many descriptions and addresses.
    return index_text(title, description, address)


def _moment(value: object, where: object, now: dt.datetime) -> dt.datetime:
    if not isinstance(value, str):
        raise LineError(_("%(where)s：缺少时间。") % {"where": where})
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise LineError(_("%(where)s：“%(v)s”不是时间(应为 2024-03-01T09:30:00+08:00 这样的格式)。")
                        % {"where": where, "v": value}) from None
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment)  # a wall-clock time at the district's time zone
    if moment > now:
        raise LineError(_("%(where)s：时间 %(v)s 晚于现在。") % {"where": where, "v": value})
    return moment


def _text(rec: dict, key: str, limit: int | None, where: str = "") -> str:
    value = rec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LineError(_("%(key)s 须为文本。") % {"key": where or key})
    if limit is not None and len(value) > limit:
        raise LineError(_("%(key)s 不能超过 %(n)s 个字。") % {"key": where or key, "n": limit})
    return value


class _EventPlace:
    """"第 n 个事件" for a message, translated only when a message is made (most lines have none)."""

    __slots__ = ("seq",)

    def __init__(self, seq: int):
        self.seq = seq

    def __str__(self) -> str:
        return _("第 %(n)s 个事件") % {"n": self.seq}


@dataclass
class Planned:
    case: dict
    events: list[dict]
    rating: dict | None


def replay(rec: object, lk: Lookups) -> Planned:
    """Check one record and work out every row it becomes, as cases.services would have written them."""
    if not isinstance(rec, dict):
        raise LineError(_("每一行须为一个 JSON 对象。"))
    now = lk.now
    code = rec.get("matter")
    matter = lk.matters.get(code) if isinstance(code, str) else None
    if matter is None:
        raise LineError(_("没有编码为 %(code)s 的在办事项。") % {"code": rec.get("matter")})
    kind = rec.get("kind") or matter.kind
    # A follow-up (差评整改) keeps the matter of the case it follows up; every other case is of its matter's kind.
    if kind != matter.kind and kind != Kind.FOLLOW_UP:
        raise LineError(_("事项 %(m)s 属于“%(k)s”类，与 kind %(kind)s 不符。")
                        % {"m": matter.code, "k": matter.kind, "kind": kind})
    wf = workflow(kind)
    ref = rec.get("ref")
    key = None
    if ref is not None:
        if not isinstance(ref, str) or not ref or len(ref) > MAX_REF:
            raise LineError(_("ref 须为不超过 %(n)s 个字符的文本。") % {"n": MAX_REF})
        key = REF_PREFIX + ref
        if key in lk.existing_refs:
            raise LineError(_("编号 %(ref)s 的案件已经导入过。") % {"ref": ref})
    channel = rec.get("channel") or Channel.HALL
    if channel not in CHANNELS:
        raise LineError(_("未知的渠道 %(c)s。") % {"c": channel})
    title = _text(rec, "title", 200) or matter.name
    description = _text(rec, "description", None)
    address = _text(rec, "address", 200)
    priority = rec.get("priority", 2)
    if not isinstance(priority, int) or not 0 <= priority <= 9:
        raise LineError(_("priority 须为 0 到 9 的整数。"))
    home_visit = rec.get("home_visit", False) is True
    form = rec.get("form") or {}
    materials = rec.get("materials") or []
    if not isinstance(form, dict) or not isinstance(materials, list):
        raise LineError(_("form 须为对象，materials 须为列表。"))

    # where
    h = lk.h
    lat = lng = None
    located = None
    if rec.get("lat") is not None or rec.get("lng") is not None:
        try:
            lat, lng = geo.check_point(rec.get("lat"), rec.get("lng"))
        except DomainError as exc:
            raise LineError(exc.message) from None
        located = lk.located[(lat, lng)] if (lat, lng) in lk.located else geo.locate(lat, lng)
    region_code = rec.get("region")
    if region_code:
        region_id = h.region_by_code.get(region_code)
        if region_id is None:
            raise LineError(_("没有代码为 %(code)s 的区域。") % {"code": region_code})
        region = h.regions[region_id]
        if located and located.grid and located.grid.path.startswith(region.path):
            region = located.grid  # as case_create: a pin in a grid of the named region places it there
    elif located is not None:
        region = located.region
    else:
        raise LineError(_("请指明所在区域(region)或坐标(lat、lng)。"))
    off_grid = bool(located and located.off_grid and region == located.region)

    # who
    applicant_id = None
    applicant = rec.get("applicant") or {}
    if not isinstance(applicant, dict):
        raise LineError(_("applicant 须为对象。"))
    applicant_name = _text(applicant, "name", 50, "applicant.name")
    applicant_phone = _text(applicant, "phone", 20, "applicant.phone")
    masked_id = None
    number = applicant.get("id_number")
    if number:
        number = str(number).strip().upper()
        if not idnumber.is_valid(number):
            raise LineError(_("申请人身份证号 %(n)s 无效(校验位不符)。") % {"n": idnumber.mask(number)})
        resident = lk.residents.get(number)
        if resident is not None:
            applicant_id = resident[0]
            applicant_name = applicant_name or resident[1]
            applicant_phone = applicant_phone or resident[2]
        else:
            masked_id = idnumber.mask(number)  # no resident record: the timeline keeps it masked only

    # the timeline
    raw_events = rec.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise LineError(_("events 须为非空列表，第一项为 submit。"))
    info_limit, info_unit = matter.time_limit, matter.time_unit
    # The case as the timeline has made it so far; each event changes it as workflows.transition says.
    now_ = SimpleNamespace(
        kind=kind, state="", holder_unit_id=None, handling_unit_id=None, supervisor_unit_id=None, assignee_id=None,
        accepted_at=None, due_at=None, suspended_at=None, closed_at=None, warning_level=0, decision="", result="",
    )
    rules = Rules(limits=lambda: (info_limit, info_unit), due_after=lk.due_after, unit_name=lambda u: h.units[u].name,
                  # At the top a replayed escalation stays where it was, as the record says it did.
                  up=lambda u: lk.escalation_target(u) or u)
    due_event = -1  # the event that set the deadline last
    due_given = False  # ... from the record itself
    previous_at = None
    events: list[dict] = []
    for seq, ev in enumerate(raw_events, start=1):
        where = _EventPlace(seq)
        if not isinstance(ev, dict):
            raise LineError(_("%(where)s 须为对象。") % {"where": where})
        action = ev.get("action")
        at = _moment(ev.get("at"), where, now)
        if previous_at is not None and at < previous_at:
            raise LineError(_("%(where)s(%(a)s)的时间早于上一个事件：时间须按顺序。") % {"where": where, "a": action})
        previous_at = at
        payload = ev.get("payload") or {}
        if not isinstance(payload, dict):
            raise LineError(_("%(where)s：payload 须为对象。") % {"where": where})
        payload = dict(payload)
        actor_id = None
        actor_name = ""
        if ev.get("actor") is not None:
            actor_id = lk.user(ev["actor"], where)
            actor_name = ev["actor"]
        elif ev.get("actor_name") is not None:
            actor_name = str(ev["actor_name"])[:150]
        state, holder = now_.state, now_.holder_unit_id
        from_unit = holder
        if seq == 1:
            if action != "submit":
                raise LineError(_("第一个事件须为 submit(提交)。"))
            if rec.get("created_at") is not None and _moment(rec["created_at"], "created_at", now) != at:
                raise LineError(_("created_at 须与 submit 事件的时间相同。"))
            to_state = wf.initial
            if ev.get("to_unit") is None:
                raise LineError(_("submit 事件须有 to_unit：最初受理的单位。"))
            to_unit = lk.unit(ev["to_unit"], where)
            payload.setdefault("channel", channel)
            payload["imported"] = True
            if ref is not None:
                payload["ref"] = ref
            if masked_id:
                payload["applicant_id_number"] = masked_id
            if off_grid:
                payload["off_grid"] = {"community": located.region.code, "distance_km": located.distance_km}
            created_at = at
            created_by = actor_id
            now_.state, now_.holder_unit_id = to_state, to_unit
            if kind == Kind.FOLLOW_UP:
                # As case_open_follow_up: accepted and due at once, the deadline not on the timeline.
                now_.accepted_at, now_.handling_unit_id = at, to_unit
                now_.due_at = lk.due_after(at, lk.follow_up_workdays, "workdays")
                due_event = -2
            elif wf.clock_from_submission or wf.deadline_given:
                now_.accepted_at = at
                if wf.clock_from_submission or info_limit:
                    now_.due_at = lk.due_after(at, info_limit, info_unit)
                due_event = 0
            if payload.get("result"):
                now_.result = str(payload["result"])
        else:
            if action == "submit":
                raise LineError(_("%(where)s：只有第一个事件可以是 submit。") % {"where": where})
            act = find_action(kind, action)
            if act is None:
                raise LineError(_("%(where)s：“%(kind)s”没有“%(a)s”这一操作。") % {"where": where, "kind": kind, "a": action})
            if not act.system:
                if state not in act.sources:
                    raise LineError(_("%(where)s：状态为 %(s)s 时不能执行 %(a)s。") % {"where": where, "s": state, "a": action})
                # A replay checks what the record itself says (a home visit asked for); the live facts
                # an incident's reporter steps depend on (reachable now, closed within 7 days of now)
                # were the live engine's to check when the step was taken.
                if act.only_if == "home_visit" and not home_visit:
                    raise LineError(_("%(where)s：该案件不适用 %(a)s。") % {"where": where, "a": action})
            elif not actor_name and actor_id is None:
                actor_name = SYSTEM
            # Where the case goes: as the action declares, unless the record names the unit for an
            # action that moves the case.
            given = lk.unit(ev["to_unit"], where) if ev.get("to_unit") is not None else None
            if act.moves_to == TO_UNIT:
                if given is None:
                    raise LineError(_("%(where)s：%(a)s 须有 to_unit。") % {"where": where, "a": action})
                if given == holder:
                    raise LineError(_("%(where)s：目标单位就是当前办理单位。") % {"where": where})
            elif not act.moves_to and given is not None and given != holder:
                raise LineError(_("%(where)s：%(a)s 不会改变办理单位，to_unit 须为当前单位。") % {"where": where, "a": action})
            decision = ""
            if "decision" in act.needs:
                decision = payload.get("decision")
                if decision not in ("approved", "denied"):
                    raise LineError(_("%(where)s：decide 的 payload.decision 须为 approved 或 denied。") % {"where": where})
            # Only what the record says: a legacy 办结 without a delivery, or a step whose words are one
            # old "comment", is history as it was written (read by the rule of its time). The inputs
            # a live caller must give (办结's delivery, a reply, a note) are case_act's to require;
            # this replay is reached by the import command alone, never by the API.
            inputs = Inputs(unit_id=given if act.moves_to else None, decision=decision,
                            result=str(payload["result"]) if payload.get("result") else "")
            step = transition(now_, act, inputs, actor=(actor_id, actor_name), at=at, rules=rules)
            to_state, to_unit = step.to_state, step.to_unit_id
            for name, value in step.changes.items():
                setattr(now_, name, value)
            if "due_at" in step.changes and (act.starts_clock or act.resumes_clock):
                due_event, due_given = seq - 1, False
            if "to_unit_name" in step.derived:
                payload.setdefault("to_unit_name", step.derived["to_unit_name"])
        if "from_state" in ev and (ev["from_state"] or "") != state:
            raise LineError(_("%(where)s：from_state %(f)s 与此前的状态 %(s)s 不符。") % {"where": where, "f": ev["from_state"], "s": state or '""'})
        if ev.get("to_state") is not None and ev["to_state"] != to_state:
            raise LineError(_("%(where)s：%(a)s 之后的状态应为 %(s)s，而不是 %(t)s。")
                            % {"where": where, "a": action, "s": to_state, "t": ev["to_state"]})
        if ev.get("from_unit") is not None and lk.unit(ev["from_unit"], where) != from_unit:
            raise LineError(_("%(where)s：from_unit 与此前的办理单位不符。") % {"where": where})
        if payload.get("due_at"):
            # A deadline the legacy record wrote down wins over the one the calendar gives today.
            now_.due_at = _moment_any(payload["due_at"], where)
            payload["due_at"] = now_.due_at.isoformat()
            due_event, due_given = seq - 1, True
            if now_.due_at > at:
                now_.warning_level = 0  # a new or moved deadline starts unwarned
        events.append({
            "seq": seq, "at": at, "actor_id": actor_id, "actor_name": actor_name, "action": action,
            "from_state": state, "to_state": to_state, "from_unit_id": from_unit, "to_unit_id": to_unit,
            "payload": payload, "region_path": region.path,
        })

    # the deadline
    due = now_.due_at
    if rec.get("due_at") is not None:
        wanted = _moment_any(rec["due_at"], "due_at")
        if due_event == -1:
            raise LineError(_("给出了 due_at，但时间线中没有开始计时的操作(如受理、立案)。"))
        if due_given and wanted != due:
            raise LineError(_("due_at 与时间线记录的期限 %(d)s 不符。") % {"d": events[due_event]["payload"]["due_at"]})
        due = wanted
    if due_event >= 0 and due is not None:
        events[due_event]["payload"]["due_at"] = due.isoformat()

    # the chain
    prev = GENESIS
    for e in events:
        prev = e["hash"] = event_hash(
            prev=prev, seq=e["seq"], at=e["at"], actor_id=e["actor_id"], action=e["action"],
            from_state=e["from_state"], to_state=e["to_state"], from_unit_id=e["from_unit_id"],
            to_unit_id=e["to_unit_id"], payload=e["payload"],
        )
    case = {
        "kind": kind, "matter_id": matter.id, "matter_version_id": matter.version_id, "title": title,
        "description": description, "form_data": form, "materials": materials, "applicant_id": applicant_id,
        "applicant_name": applicant_name, "applicant_phone": applicant_phone, "channel": channel, "lat": lat,
        "lng": lng, "address": address, "region_id": region.id, "region_path": region.path, "state": now_.state,
        "holder_unit_id": now_.holder_unit_id, "handling_unit_id": now_.handling_unit_id,
        "supervisor_unit_id": now_.supervisor_unit_id, "assignee_id": now_.assignee_id, "created_by_id": created_by,
        "priority": priority, "home_visit": home_visit, "off_grid": off_grid, "created_at": created_at,
        "accepted_at": now_.accepted_at, "due_at": due, "suspended_at": now_.suspended_at,
        "closed_at": now_.closed_at, "warning_level": now_.warning_level, "decision": now_.decision,
        "result": now_.result, "version": len(events), "event_count": len(events), "last_hash": prev,
        "idempotency_key": key, "search_text": _search_text(title, description, address),
    }
    rating = _rating(rec.get("rating"), case, wf, lk) if rec.get("rating") is not None else None
    return Planned(case, events, rating)


def _moment_any(value: object, where: object) -> dt.datetime:
    """A deadline: like an event's time, but it may lie in the future."""
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise LineError(_("%(where)s：“%(v)s”不是时间(应为 2024-03-01T09:30:00+08:00 这样的格式)。")
                        % {"where": where, "v": value})
    return timezone.make_aware(moment) if moment.tzinfo is None else moment


def _rating(raw: object, case: dict, wf, lk: Lookups) -> dict:
    """The evaluation row, checked as feedback.services.evaluation_create checks a live one."""
    if not isinstance(raw, dict):
        raise LineError(_("rating 须为对象。"))
    if case["kind"] not in RATABLE_KINDS:
        raise LineError(_("rating：这类案件不接受评价。"))
    if case["closed_at"] is None or case["state"] not in wf.closed:
        raise LineError(_("rating：案件办结后才能评价，而时间线结束于 %(s)s。") % {"s": case["state"]})
    score = raw.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise LineError(_("rating.score 须为 1 到 5 的整数。"))
    channel = raw.get("channel") or RatingChannel.ONLINE
    if channel not in RATING_CHANNELS:
        raise LineError(_("rating.channel：未知的评价渠道 %(c)s。") % {"c": channel})
    tags = raw.get("tags") or []
    allowed = TAGS["offline" if channel in OFFLINE_CHANNELS else "online"]
    if not isinstance(tags, list) or any(t not in allowed for t in tags):
        raise LineError(_("rating.tags：该渠道不能选择这些评价内容：%(t)s。") % {"t": tags})
    comment = _text(raw, "comment", 1000, "rating.comment")
    at = _moment(raw.get("at"), "rating.at", lk.now)
    if at < case["closed_at"]:
        raise LineError(_("rating.at 早于办结时间。"))
    rater = lk.user(raw["rater"], "rating.rater") if raw.get("rater") is not None else None
    return {
        "rating": score, "channel": channel, "tags": tags, "comment": comment, "rater_id": rater,
        "handling_unit_id": case["handling_unit_id"] or case["holder_unit_id"], "region_path": case["region_path"],
        "created_at": at, "follow_up_case_id": None,
    }


# --------------------------------------------------------------------------------------------- writing


_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Table:
    """A model's table as rows of plain values in column order; columns the import does not set
    (a column added later) get the field's default."""

    def __init__(self, model):
        fields = list(model._meta.concrete_fields)
        self.name = model._meta.db_table
        self.columns = [f.column for f in fields]
        self.names = [f.attname for f in fields]
        self.defaults = [None if f.primary_key else f.get_default() for f in fields]
        self.json = [i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"]
        self.moments = [i for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"]
        # Foreign keys to rows the import did not write (units, users, matters …), by the table they name.
        self.references = [(i, f.related_model._meta.db_table) for i, f in enumerate(fields)
                           if f.is_relation and f.related_model not in (Case,)]

    def row(self, values: dict) -> list:
        row = list(map(values.get, self.names, self.defaults))
        for i in self.json:
            value = row[i]
            row[i] = "{}" if value == {} else "[]" if value == [] else _to_json(value)
        return row


class Writer(abc.ABC):
    """Ids from the tables' sequences, and rows written in bulk, inside the caller's transaction."""

    # Whether write_chunk() may run in a thread of its own while the next chunk is replayed.
    overlaps = False

    def __init__(self):
        self.cases, self.events, self.ratings = Table(Case), Table(CaseEvent), Table(Evaluation)

    def begin(self) -> None:  # noqa: B027 - a hook: most writers need nothing here
        """Called at the start of each transaction of the import."""

    @abc.abstractmethod
    def ids(self, table: Table, n: int) -> list[int]:
        """``n`` new primary keys of ``table``, reserved for this import."""

    @abc.abstractmethod
    def write(self, table: Table, rows: list[list]) -> None:
        """Write ``rows`` (in ``table.columns`` order) into ``table``."""

    def write_chunk(self, planned: list[Planned]) -> tuple[int, int]:
        case_ids = self.ids(self.cases, len(planned))
        n_events = sum(len(p.events) for p in planned)
        event_ids = iter(self.ids(self.events, n_events))
        rated = [p for p in planned if p.rating is not None]
        rating_ids = iter(self.ids(self.ratings, len(rated)))
        case_rows, event_rows, rating_rows = [], [], []
        for case_id, p in zip(case_ids, planned, strict=True):
            p.case["id"] = case_id
            case_rows.append(self.cases.row(p.case))
            for e in p.events:
                e["id"] = next(event_ids)
                e["case_id"] = case_id
                event_rows.append(self.events.row(e))
            if p.rating is not None:
                p.rating["id"] = next(rating_ids)
                p.rating["case_id"] = case_id
                rating_rows.append(self.ratings.row(p.rating))
        self.before_write([(self.cases, case_rows), (self.events, event_rows), (self.ratings, rating_rows)])
        self.write(self.cases, case_rows)
        self.write(self.events, event_rows)
        if rating_rows:
            self.write(self.ratings, rating_rows)
        return n_events, len(rating_rows)

    def before_write(self, batches: list[tuple[Table, list[list]]]) -> None:  # noqa: B027 - a hook
        """Called with every chunk's rows before they are written (PostgreSQL locks referenced rows)."""

    def drop_indexes(self) -> list[str]:
        """Drop the non-unique indexes of the three tables, inside the import's transaction; their
        definitions, for create_indexes(). The unique ones stay: they refuse a duplicate row as it
        is written, and the primary keys' ids arrive in order, which costs a B-tree little."""
        statements = self.index_definitions()
        with connection.cursor() as cursor:
            for name, _sql in statements:
                cursor.execute(f"DROP INDEX {name}")
        return [sql for _name, sql in statements]

    @abc.abstractmethod
    def index_definitions(self) -> list[tuple[str, str]]:
        """(quoted name, CREATE INDEX statement) of each non-unique index of the three tables."""

    def create_indexes(self, statements: list[str]) -> None:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class PostgresWriter(Writer):
    own_triggers: bool | None = None  # whether the tables have triggers besides the foreign keys'
    # COPY keeps a backend busy while this process waits on the socket: replaying the next chunk
    # meanwhile puts the database's work on the other core instead of after the replay's.
    overlaps = True

    def __init__(self):
        super().__init__()
        self.sequences: dict[str, str] = {}
        self.set_based_keys = False
        # The import's own connection, as an object: in another thread ``connection`` would open a
        # new one, outside the import's transaction.
        self.db = connections[DEFAULT_DB_ALIAS]

    @contextlib.contextmanager
    def _cursor(self) -> Iterator:
        """A cursor on the import's connection, from whichever thread writes; errors as Django's."""
        with self.db.wrap_database_errors, self.db.connection.cursor() as cursor:
            yield cursor

    def begin(self) -> None:
        """Check foreign keys once per chunk and referenced row instead of once per row and key.

        PostgreSQL checks each foreign key of each row with a trigger; for a bulk load that is more
        than half of the database's work. When the import may switch those triggers off for its
        own transaction (session_replication_role: a superuser, or GRANT SET ON PARAMETER) and the
        tables have no triggers of their own that this would skip too, before_write() instead locks
        every row the chunk refers to FOR KEY SHARE, as the triggers would, and fails the import if
        one is missing. Otherwise the triggers run, checked after each COPY rather than all queued
        until the commit (SET CONSTRAINTS ALL IMMEDIATE).
        """
        with connection.cursor() as cursor:
            if self.own_triggers is None:
                cursor.execute("SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
                               "(%s::regclass, %s::regclass, %s::regclass)",
                               [self.cases.name, self.events.name, self.ratings.name])
                self.own_triggers = cursor.fetchone()[0] > 0
            self.set_based_keys = False
            if not self.own_triggers:
                try:
                    with transaction.atomic():
                        cursor.execute("SET LOCAL session_replication_role = replica")
                    self.set_based_keys = True
                except DatabaseError:
                    pass  # not allowed for this role: the triggers check every row
            if not self.set_based_keys:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def before_write(self, batches: list[tuple[Table, list[list]]]) -> None:
        if not self.set_based_keys:
            return
        wanted: dict[str, set[int]] = {}
        for table, rows in batches:
            for i, target in table.references:
                ids = wanted.setdefault(target, set())
                ids.update(row[i] for row in rows)
        with self._cursor() as cursor:
            for target, ids in sorted(wanted.items()):
                ids.discard(None)
                if not ids:
                    continue
                cursor.execute(f'SELECT id FROM "{target}" WHERE id = ANY(%s) FOR KEY SHARE', [sorted(ids)])
                missing = ids - {r[0] for r in cursor.fetchall()}
                if missing:
                    raise IntegrityError(f"{target} has no rows with ids {sorted(missing)[:10]}: removed during the import?")

    def index_definitions(self) -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            # Sorting one table's worth of keys at the end is cheaper than a B-tree insert per row: a
            # larger sort memory for this transaction only keeps each index build in one pass.
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # Locked before the definitions are read: a second import doing the same waits here for the
            # first to commit, instead of reading the definition of an index being dropped under it.
            cursor.execute(f'LOCK TABLE "{self.cases.name}", "{self.events.name}", "{self.ratings.name}" '
                           "IN ACCESS EXCLUSIVE MODE")
            cursor.execute("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                           "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisunique ORDER BY 1",
                           [[self.cases.name, self.events.name, self.ratings.name]])
            return cursor.fetchall()

    def ids(self, table: Table, n: int) -> list[int]:
        if n == 0:
            return []
        with self._cursor() as cursor:
            if table.name not in self.sequences:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table.name])
                self.sequences[table.name] = cursor.fetchone()[0]
            # Drawn one by one from the sequence: concurrent writers keep working and get other ids.
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [self.sequences[table.name], n])
            return [r[0] for r in cursor.fetchall()]

    def write(self, table: Table, rows: list[list]) -> None:
        columns = ", ".join(f'"{c}"' for c in table.columns)
        with self._cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


class SqliteWriter(Writer):
    def index_definitions(self) -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            # An index SQLite made for a UNIQUE constraint has no SQL of its own and stays.
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN (%s, %s, %s) ORDER BY name",
                           [self.cases.name, self.events.name, self.ratings.name])
            return [(f'"{name}"', sql) for name, sql in cursor.fetchall()
                    if not sql.upper().startswith("CREATE UNIQUE")]

    def ids(self, table: Table, n: int) -> list[int]:
        if n == 0:
            return []
        # The import holds SQLite's write lock for its whole transaction: nobody else takes ids meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT MAX(id) FROM "{table.name}"')
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table.name])
            seq = cursor.fetchone()
        first = max(top, seq[0] if seq else 0) + 1
        return list(range(first, first + n))

    def write(self, table: Table, rows: list[list]) -> None:
        for row in rows:
            for i in table.moments:
                if row[i] is not None:
                    # As Django stores a datetime in SQLite: naive UTC, str().
                    row[i] = str(row[i].astimezone(dt.UTC).replace(tzinfo=None))
        sql = (f'INSERT INTO "{table.name}" ({", ".join(table.columns)}) '
               f'VALUES ({", ".join("?" * len(table.columns))})')
        connection.connection.executemany(sql, rows)


def writer_for_connection() -> Writer:
    if connection.vendor == "postgresql":
        return PostgresWriter()
    if connection.vendor == "sqlite":
        return SqliteWriter()
    raise DomainError(f"yiwang import supports PostgreSQL and SQLite, not {connection.vendor}")


# --------------------------------------------------------------------------------------------- the import


def import_cases(
    stream: Iterable[bytes], *, skip_bad: bool = False, commit_every: int = 0, max_errors: int = 100,
    chunk: int = CHUNK, progress: Callable[[Progress], None] | None = None,
    position: Callable[[], int] | None = None, total_bytes: int | None = None, rebuild_indexes: bool = False,
) -> Report:
    """Import every line of ``stream`` (JSON Lines, bytes); see the module docstring for what is
    written when. ``position`` tells how many bytes of the input were read (for ``progress``).

    ``rebuild_indexes``: drop the case, event and rating tables' non-unique indexes at the start and
    build them again before the commit, all in the import's one transaction (so a refused or failed
    import leaves them as they were). Cheaper than updating them row by row when the import is large
    against what the tables hold; the tables are locked against every reader until the commit."""
    if rebuild_indexes and commit_every:
        raise ValueError("rebuild_indexes needs the whole import in one transaction (no commit_every)")
    now = clock.now()
    lk = Lookups(now)
    writer = writer_for_connection()
    state = Progress(total_bytes=total_bytes)
    report = Report(progress=state)
    writing = True
    batch: transaction.Atomic | None = None
    batch_lines = 0

    def fail(line: int, message: str) -> None:
        report.error_count += 1
        if len(report.errors) < max_errors:
            report.errors.append((line, message))

    def open_batch() -> None:
        nonlocal batch, batch_lines
        batch = transaction.atomic()
        batch.__enter__()
        batch_lines = 0
        writer.begin()

    def close_batch(commit: bool) -> None:
        nonlocal batch
        if batch is None:
            return
        atom, batch = batch, None
        if commit:
            atom.__exit__(None, None, None)
        else:
            try:
                raise Aborted
            except Aborted as exc:
                atom.__exit__(Aborted, exc, exc.__traceback__)

    # A chunk replayed and waiting to be written (its lines, rows, refs), and the one being written.
    # Chunk k is written while chunk k+1 is replayed: start() hands it over after k+1's lookups (the
    # writer needs the connection), settle() waits for it after k+1's replay.
    pending: tuple[list[tuple[int, bytes]], list[Planned], set[str]] | None = None
    writing_now: tuple[Future, list[tuple[int, bytes]], int] | None = None
    executor: ThreadPoolExecutor | None = None

    def start() -> None:
        nonlocal pending, writing_now, executor
        if pending is None:
            return
        lines_, planned_, _refs = pending
        pending = None
        if writer.overlaps:
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
            future = executor.submit(writer.write_chunk, planned_)
        else:
            future = Future()
            future.set_result(writer.write_chunk(planned_))
        writing_now = (future, lines_, len(planned_))

    def settle() -> None:
        nonlocal writing_now, batch_lines, last_line
        if writing_now is None:
            return
        future, lines_, n_cases = writing_now
        try:
            n_events, n_ratings = future.result()
        finally:
            writing_now = None
        state.cases += n_cases
        state.events += n_events
        state.ratings += n_ratings
        batch_lines += len(lines_)
        last_line = lines_[-1][0]
        if commit_every and batch_lines >= commit_every:
            close_batch(commit=True)
            report.batches_committed += 1
            report.committed_through = last_line
            open_batch()

    last_line = 0
    # Millions of short-lived dicts and lists and no reference cycles: the cyclic collector would
    # rescan the chunk in hand again and again (a third of the import's time), refcounting is enough.
    collecting = gc.isenabled()
    gc.disable()
    try:
        open_batch()
        dropped = writer.drop_indexes() if rebuild_indexes else []
        for lines in _chunks(lines_of(stream), chunk):
            records: list[tuple[int, object]] = []
            for number, raw in lines:
                try:
                    rec = json.loads(raw)
                except ValueError as exc:
                    fail(number, _("不是有效的 JSON：%(e)s") % {"e": exc})
                    continue
                found = None
                if (b"\\" in raw or b"\x7f" in raw) and MAY_HOLD_CONTROL.search(raw):  # most lines hold no backslash
                    found = control_character_in(rec)
                if found:
                    fail(number, refusal(*found))
                    continue
                records.append((number, rec))
            lk.prefetch([rec for _n, rec in records if isinstance(rec, dict)])
            if pending is not None:
                lk.existing_refs |= pending[2]  # read before the chunk in hand is written: refused as imported
            start()
            planned: list[Planned] = []
            seen_refs: set[str] = set()
            for number, rec in records:
                try:
                    p = replay(rec, lk)
                    key = p.case["idempotency_key"]
                    if key is not None:
                        if key in seen_refs:
                            raise LineError(_("编号 %(ref)s 在文件中重复出现。") % {"ref": key[len(REF_PREFIX):]})
                        seen_refs.add(key)
                    planned.append(p)
                except LineError as exc:
                    fail(number, str(exc))
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    # A value of the wrong JSON type where replay() does not look for one (a list for a code).
                    fail(number, _("有字段的类型不对(%(e)s)。") % {"e": exc})
            settle()
            state.lines += len(lines)
            if report.error_count and not skip_bad:
                writing = False  # keep checking the rest, so the operator sees every error at once
            if writing and planned:
                pending = (lines, planned, seen_refs)
                if not writer.overlaps:
                    start()
                    settle()
            elif report.error_count >= max_errors and not writing:
                report.stopped_early = True
                break
            if skip_bad:
                state.skipped = report.error_count
            if position is not None:
                state.bytes_read = position()
            if progress is not None:
                progress(state)
        start()
        settle()
        if not writing:
            close_batch(commit=False)
            if report.batches_committed:
                report.rollups = rollups.rebuild()  # the committed batches count in the indicators
            return report
        writer.create_indexes(dropped)
        # The tallies the indicators read, recomputed from the case table, in the last batch.
        report.rollups = rollups.rebuild()
        close_batch(commit=True)
        if commit_every:
            report.batches_committed += 1
            report.committed_through = last_line
        report.written = True
        return report
    except BaseException:
        if writing_now is not None:
            futures_wait([writing_now[0]])  # the writer thread is done with the connection before the rollback
        close_batch(commit=False)
        if report.batches_committed:
            report.rollups = rollups.rebuild()  # the committed batches count in the indicators
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        if collecting:
            gc.enable()
