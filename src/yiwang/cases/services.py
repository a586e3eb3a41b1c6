"""Every write to a case. Each function is one transaction and appends the CaseEvent that explains it.

Nothing else in yiwang writes Case or CaseEvent rows: the timeline is the audit log, and every
indicator can be recomputed from it (`yiwang verify`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from yiwang.cases import personal, rollups, routing, search, workdays
from yiwang.cases.attachments import materials_from_caller
from yiwang.cases.chain import GENESIS, event_hash
from yiwang.cases.models import Case, CaseEvent, Channel, EscalationRule, Kind, Notification, Upload
from yiwang.cases.selectors import capacity
from yiwang.cases.workflows import SYSTEM, Action, Workflow, workflow
from yiwang.catalog.selectors import MatterInfo, info_from_snapshot, matter_info
from yiwang.catalog.services import faq_publish
from yiwang.core import clock, idnumber
from yiwang.core.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.core.inserts import compile_insert
from yiwang.org import geo
from yiwang.org.models import Resident
from yiwang.org.selectors import Viewer, hierarchy, scope_q, units_reachable

MAX_TITLE = 200
CHANNELS = frozenset(Channel.values)  # Channel.values builds a new list on every access

# Sent once a new case is committed (never for a replayed idempotent request), with the case's id.
# Apps above cases react here without cases knowing them: smart dispatch, duplicate flags.
case_opened = Signal()


def _stored(fn, *args):
    """Text written into a record is in the site's language, whoever's request wrote it."""
    with translation.override(settings.LANGUAGE_CODE):
        return fn(*args)


@dataclass
class Created:
    case: Case
    replayed: bool  # True when an earlier request with the same idempotency key made it


def _event(case: Case, *, seq: int, prev: str, at: dt.datetime, actor_id: int | None, actor_name: str,
           action: str, from_state: str, to_state: str, from_unit_id: int | None, to_unit_id: int | None,
           payload: dict) -> CaseEvent:
    h = event_hash(prev=prev, seq=seq, at=at, actor_id=actor_id, action=action, from_state=from_state,
                   to_state=to_state, from_unit_id=from_unit_id, to_unit_id=to_unit_id, payload=payload)
    return CaseEvent(case=case, seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                     from_state=from_state, to_state=to_state, from_unit_id=from_unit_id, to_unit_id=to_unit_id,
                     payload=payload, hash=h, region_path=case.region_path)


def _check_submission(matter: MatterInfo, form: dict, materials: list[dict]) -> None:
    errors = matter.check_form(form)
    if not isinstance(materials, list) or any(not isinstance(m, dict) or not m.get("code") for m in materials):
        errors.setdefault("materials", []).append(_("每项材料须为含 code 的对象。"))
    else:
        given = {m["code"] for m in materials}
        for code in sorted(matter.required_materials - given):
            errors.setdefault("materials", []).append(_("缺少必需的材料：%(code)s。") % {"code": code})
        for code in sorted(given - matter.material_codes):
            errors.setdefault("materials", []).append(_("该事项不需要材料 %(code)s。") % {"code": code})
    if errors:
        raise ValidationFailed(_("提交的内容有误，请按提示修改。"), errors=errors)


def case_create(
    *, viewer: Viewer, matter_code: str, region_code: str | None = None, title: str = "",
    description: str = "", form: dict | None = None, materials: list[dict] | None = None,
    applicant: Resident | None = None, applicant_name: str = "", applicant_phone: str = "",
    channel: str = Channel.ONLINE, lat: float | None = None, lng: float | None = None, address: str = "",
    idempotency_key: str | None = None, attachments: list[dict] | None = None, home_visit: bool = False,
    unit_code: str | None = None, supervisor_unit_code: str | None = None, assignee_username: str | None = None,
    due_at: dt.datetime | None = None, extra: dict | None = None,
) -> Created:
    """Open a case: an application, a consultation or an incident report, routed to the lowest level
    that can take it; or, by staff, a case given to a named unit (a ledger's rectification item, an
    assistance pair) with its supervising unit, responsible person and deadline."""
    if viewer.user_id is None:
        raise PermissionDenied(_("请先登录。"))
    if not viewer.is_staff_member and viewer.resident_id is None:
        raise PermissionDenied(_("只有居民本人或工作人员可以提交。"))
    matter = matter_info(matter_code)
    form = form or {}
    materials = materials or []
    _check_submission(matter, form, materials)
    if channel not in CHANNELS:
        raise ValidationFailed(_("未知的渠道 %(c)s。") % {"c": channel}, field="channel")
    _check_caller_fields(viewer, channel=channel, applicant_name=applicant_name, applicant_phone=applicant_phone,
                         unit_code=unit_code, supervisor_unit_code=supervisor_unit_code,
                         assignee_username=assignee_username, due_at=due_at)
    materials, claimed_uploads = materials_from_caller(viewer=viewer, matter=matter, materials=materials,
                                                       channel=channel)
    # Photos of a reported problem and the like, stored by the calling service: kept with the
    # materials, not checked against them.
    materials = materials + list(attachments or [])
    if len(title) > MAX_TITLE:
        raise ValidationFailed(_("标题不能超过 %(n)s 个字。") % {"n": MAX_TITLE}, field="title")
    if applicant is None and not viewer.is_staff_member:
        applicant = Resident.objects.get(pk=viewer.resident_id)
    if applicant is not None:
        applicant_name = applicant_name or applicant.name
        applicant_phone = applicant_phone or applicant.phone
    h = hierarchy()
    located = None
    if lat is not None or lng is not None:
        lat, lng = geo.check_point(lat, lng)
        located = geo.locate(lat, lng)
    if region_code:
        region = h.region(region_code)
        # A pin inside a grid of the named region places the case more precisely, in that grid.
        if located and located.grid and located.grid.path.startswith(region.path):
            region = located.grid
    elif located is not None and matter.kind == Kind.INCIDENT:
        region = located.region
    elif applicant is not None:
        region = h.regions[applicant.region_id]
    elif located is not None:
        region = located.region
    else:
        raise ValidationFailed(_("请指明所在区域。"), field="region_code")
    off_grid = bool(located and located.off_grid and region == located.region)
    wf = workflow(matter.kind)
    now = clock.now()
    if unit_code or supervisor_unit_code:
        route = _named_route(viewer, unit_code, supervisor_unit_code, h)
    else:
        route = routing.route(matter, region, h)
    assignee_id = None
    if assignee_username:
        # Choosing who in a unit does the work is that unit's business, or of whoever named the unit.
        if not (route.reason == "named" or viewer.is_superuser or route.unit.id in viewer.unit_ids):
            raise PermissionDenied(_("只能为本单位的案件指定承办人。"), field="assignee")
        assignee_id, _name = _staff_of(route.unit.id, assignee_username)
    if due_at is not None:
        if not wf.deadline_given:
            raise ValidationFailed(_("该类事项的期限按承诺时限计算，不能另行指定。"), field="due_at")
        if timezone.is_naive(due_at):
            due_at = timezone.make_aware(due_at)
        if due_at <= now:
            raise ValidationFailed(_("期限须晚于现在。"), field="due_at")
    key = f"{viewer.user_id}:{idempotency_key}" if idempotency_key else None
    case = Case(
        kind=matter.kind, matter_id=matter.id, matter_version_id=matter.version_id,
        title=title or matter.name, description=description, form_data=form, materials=materials,
        applicant=applicant, applicant_name=applicant_name, applicant_phone=applicant_phone, channel=channel,
        lat=lat, lng=lng, address=address, region_id=region.id, region_path=region.path, state=wf.initial,
        holder_unit_id=route.unit.id, created_by_id=viewer.user_id, created_at=now, version=1,
        idempotency_key=key, home_visit=home_visit, off_grid=off_grid, assignee_id=assignee_id,
    )
    if route.reason == "named":
        case.supervisor_unit_id = route.detail.get("supervisor_id")
    if wf.clock_from_submission:
        case.accepted_at = now
        case.due_at = workdays.due_after(now, matter.time_limit, matter.time_unit)
    elif wf.deadline_given:
        case.accepted_at = now
        case.due_at = due_at or (workdays.due_after(now, matter.time_limit, matter.time_unit)
                                 if matter.time_limit else None)
    payload = {"routing": route.as_payload(), "note": _route_note(route), "channel": channel}
    if assignee_id:
        payload["assignee"] = assignee_username
    if extra:
        payload.update({k: v for k, v in extra.items() if k not in payload})
    if home_visit:
        payload["home_visit"] = True
    if off_grid:
        # Outside every grid: kept in the nearest community's queue, flagged for the operator.
        payload["off_grid"] = {"community": located.region.code, "distance_km": located.distance_km}
    if case.due_at:
        payload["due_at"] = case.due_at.isoformat()
    try:
        _insert_opened(case, actor_id=viewer.user_id, actor_name=viewer.username, payload=payload, at=now,
                       uploads=claimed_uploads)
    except IntegrityError:
        if key is None:
            raise
        existing = Case.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return Created(existing, replayed=True)
    transaction.on_commit(lambda: case_opened.send(sender=Case, case_id=case.pk, kind=case.kind))
    return Created(case, replayed=False)


# A resident opens their own case online; an Open311 client (an app with a key) files on its user's behalf
# with the contact details the app gives (GeoReport v2 first_name/last_name/phone).
RESIDENT_CHANNELS = frozenset({Channel.ONLINE, Channel.OPEN311})


def _check_caller_fields(viewer: Viewer, *, channel: str, applicant_name: str, applicant_phone: str,
                         unit_code: str | None, supervisor_unit_code: str | None, assignee_username: str | None,
                         due_at: dt.datetime | None) -> None:
    """Who may ask for what when opening a case. Staff: any channel, a named applicant (代办), a named
    unit within reach (_named_route), a deadline where the kind takes one. A resident: their own case,
    online; the name and phone are their account's (a call-back or /lookup/ must never reach a third
    party), and where it goes and who handles it are routing's choice. (Which channels an API client
    may name at all is CaseIn's.)"""
    if viewer.is_staff_member:
        return
    for field, value in (("unit_code", unit_code), ("supervisor_unit_code", supervisor_unit_code)):
        if value:
            raise PermissionDenied(_("只有工作人员可以指定承办单位。"), field=field)
    if channel not in RESIDENT_CHANNELS:
        raise PermissionDenied(_("居民只能在网上提交，不能选择渠道 %(c)s。") % {"c": channel}, field="channel")
    if channel == Channel.ONLINE:
        for field, value in (("applicant_name", applicant_name), ("applicant_phone", applicant_phone)):
            if value:
                raise PermissionDenied(_("居民本人申请时，姓名和电话取自账号，不能另行填写。"), field=field)
    if assignee_username:
        raise PermissionDenied(_("只有工作人员可以指定承办人。"), field="assignee")
    if due_at is not None:
        raise PermissionDenied(_("只有工作人员可以指定期限。"), field="due_at")


# The routing note of a new case, by what it says (reason, unit name, rule name) and the site's language:
# translating it afresh under translation.override cost ~2 % of an intake's CPU. A few entries per unit.
_route_notes: dict[tuple, str] = {}


def _route_note(route: routing.Route) -> str:
    key = (settings.LANGUAGE_CODE, route.reason, route.unit.name, route.detail.get("rule_name"))
    note = _route_notes.get(key)
    if note is None:
        if len(_route_notes) > 10_000:
            _route_notes.clear()
        note = _route_notes[key] = _stored(routing.explain, route)
    return note


def _named_route(viewer: Viewer, unit_code: str | None, supervisor_code: str | None, h) -> routing.Route:
    """A case given to a named unit by staff: the unit (and its supervisor) must be within reach."""
    if not viewer.is_staff_member:
        raise PermissionDenied(_("只有工作人员可以指定承办单位。"), field="unit_code")
    if not unit_code:
        raise ValidationFailed(_("请选择承办单位。"), field="unit_code")
    reachable = None if viewer.is_superuser else {u.id for u in units_reachable(viewer)}
    chosen = []
    for code, field in ((unit_code, "unit_code"), (supervisor_code, "supervisor_unit_code")):
        if code is None:
            chosen.append(None)
            continue
        unit = h.unit(code)
        if reachable is not None and unit.id not in reachable:
            raise PermissionDenied(_("您不能把案件交给%(unit)s。") % {"unit": unit.name}, field=field)
        chosen.append(unit)
    unit, supervisor = chosen
    detail = {"supervisor": supervisor.code if supervisor else None, "supervisor_id": supervisor.id if supervisor else None}
    return routing.Route(unit, "named", detail)


def _insert_opened(case: Case, *, actor_id: int | None, actor_name: str, payload: dict, at: dt.datetime,
                   uploads: list[int] = ()) -> None:
    """Insert a new case, its first ("submit") event and its tally in one short transaction.

    Both INSERTs are compiled before the transaction, so the write lock is held only for the executes.
    """
    first = _event(case, seq=1, prev=GENESIS, at=at, actor_id=actor_id, actor_name=actor_name, action="submit",
                   from_state="", to_state=case.state, from_unit_id=None, to_unit_id=case.holder_unit_id,
                   payload=payload)
    case.last_hash = first.hash
    case.event_count = 1
    if not case.search_text:
        case.search_text = search.index_text(case.title, case.description, case.address)
    case_insert = compile_insert(case)
    first.case_id = 0  # set to the new case's id between the two executes
    event_insert = compile_insert(first)
    tally = rollups.changes(None, rollups.contributions(case))  # needs no id: worked out before the lock too
    with transaction.atomic():
        case.id = case_insert.execute()
        event_insert.set("case_id", case.id)
        first.id = event_insert.execute()
        rollups.execute(tally)
        if uploads and Upload.objects.filter(pk__in=uploads, case__isnull=True).update(case_id=case.id) != len(uploads):
            # Cited by another case in the meantime (two submissions racing with one upload).
            raise Conflict(_("上传的文件已被其他办件引用，请重新上传。"), field="materials")
    case._state.adding = first._state.adding = False
    first.case = case


def _snapshot_info(case: Case) -> MatterInfo:
    return info_from_snapshot(case.matter_id, case.matter_version_id, case.matter_version.snapshot)


def _authorize(viewer: Viewer, case: Case, action: Action) -> str:
    """Return the capacity in which ``viewer`` may take ``action`` on ``case``, or refuse."""
    found = capacity(viewer, case, action)
    if found is not None:
        return found
    unit_id = case.supervisor_unit_id if action.by_supervisor else case.holder_unit_id
    raise PermissionDenied(
        _("您无权对该案件执行“%(action)s”：需要由%(unit)s的相应人员办理。")
        % {"action": action.label, "unit": _unit_name(unit_id) if unit_id else _("上级领导")}
    )


def _unit_name(unit_id: int) -> str:
    unit = hierarchy().units.get(unit_id)
    return unit.name if unit else str(unit_id)


def case_for_action(viewer: Viewer, case_id: int) -> Case:
    # A plain slice, not .first(): no ORDER BY on the hot path of every action.
    rows = list(Case.objects.select_related("matter_version").filter(scope_q(viewer), pk=case_id)[:1])
    if not rows:
        raise NotFound(_("没有找到该案件，或您无权查看。"), field="number")
    return rows[0]


def case_act(
    *, viewer: Viewer, case_id: int, action: str, version: int, comment: str = "", unit_code: str | None = None,
    result: str = "", decision: str = "", assignee_username: str | None = None, slot: dt.datetime | None = None,
    parent_number: str | None = None, extra: dict | None = None,
) -> Case:
    """Take a workflow action on a case the viewer may see; exactly one of two racing actors wins."""
    with transaction.atomic():
        case = case_for_action(viewer, case_id)
        wf, act = _action_for(case, action)
        if case.version != version:
            raise Conflict(
                _("该案件已被他人更新(版本 %(theirs)s，您看到的是 %(yours)s)，请刷新后重试。")
                % {"theirs": case.version, "yours": version},
                field="version",
            )
        _check_state(case, wf, act)
        capacity = _authorize(viewer, case, act)

        def may_reach(unit) -> bool:
            return viewer.is_superuser or unit.id in {u.id for u in units_reachable(viewer)}

        return _apply(case, wf, act, viewer=viewer, capacity=capacity, comment=comment, unit_code=unit_code,
                      result=result, decision=decision, assignee_username=assignee_username, slot=slot,
                      parent_number=parent_number, extra=extra, may_reach=may_reach)


def _action_for(case: Case, action: str) -> tuple[Workflow, Action]:
    wf = workflow(case.kind)
    act = wf.actions.get(action)
    if act is None:
        raise IllegalTransition(
            _("“%(kind)s”没有“%(action)s”这一操作。") % {"kind": wf.label, "action": action}, field="action"
        )
    return wf, act


def _check_state(case: Case, wf: Workflow, act: Action) -> None:
    if act.only_if and not getattr(case, act.only_if):
        raise IllegalTransition(_("该案件不适用“%(action)s”。") % {"action": act.label}, field="action")
    if case.state not in act.sources:
        raise IllegalTransition(
            _("案件当前状态为“%(state)s”，不能执行“%(action)s”。")
            % {"state": wf.states.get(case.state, case.state), "action": act.label},
            field="action",
        )


def _apply(
    case: Case, wf: Workflow, act: Action, *, viewer: Viewer | None, capacity: str, comment: str, unit_code: str | None,
    result: str, decision: str, assignee_username: str | None, slot: dt.datetime | None, parent_number: str | None,
    extra: dict | None, may_reach,
) -> Case:
    """Check an authorized action's inputs, work out what it changes, and append its event (plus the
    parent's and the notifications it causes); runs inside the caller's transaction."""
    action = act.name
    comment = (comment or "").strip()
    result = (result or "").strip()
    if "comment" in act.needs and not comment:
        raise ValidationFailed(_("请填写意见或理由。"), field="comment")
    if "result" in act.needs and not result:
        raise ValidationFailed(_("请填写办理结果。"), field="result")
    if "decision" in act.needs and decision not in ("approved", "denied"):
        raise ValidationFailed(_("决定须为 approved(准予)或 denied(不予)。"), field="decision")
    now = clock.now()
    changes: dict = {}
    payload: dict = {"capacity": capacity}
    if comment:
        payload["comment"] = comment
    # Details an app records with the step (an income amount, evidence files): never the core keys.
    for key, value in (extra or {}).items():
        payload.setdefault(key, value)
    to_unit_id = case.holder_unit_id
    h = hierarchy()

    if "unit" in act.needs:
        if not unit_code:
            raise ValidationFailed(_("请选择目标单位。"), field="unit_code")
        target = h.unit(unit_code)
        if target.id == case.holder_unit_id:
            raise ValidationFailed(_("目标单位就是当前办理单位。"), field="unit_code")
        if not may_reach(target):
            raise PermissionDenied(_("不能把案件交给%(unit)s。") % {"unit": target.name}, field="unit_code")
        to_unit_id = target.id
    if action == "escalate":
        to_unit_id = routing.escalation_target(h.units[case.holder_unit_id], h).id
    if action == "dispatch":
        changes["handling_unit_id"] = to_unit_id
        changes["supervisor_unit_id"] = case.supervisor_unit_id or case.holder_unit_id
    if action == "register":
        changes["supervisor_unit_id"] = case.holder_unit_id
    if action == "handle":
        changes["handling_unit_id"] = case.holder_unit_id
        to_unit_id = case.supervisor_unit_id or case.holder_unit_id
    if action == "rework":
        to_unit_id = case.handling_unit_id or case.holder_unit_id
    if action in ("accept", "decide", "answer", "report_back"):
        changes["handling_unit_id"] = case.holder_unit_id
    # Only `decide` records a decision; another action given one (say a close) must not
    # overwrite the decision taken, nor store a value `decide` would have refused.
    if "assignee" in act.needs:
        changes["assignee_id"], payload["assignee"] = _staff_of(case.holder_unit_id, assignee_username)
    if "slot" in act.needs:
        if slot is not None and timezone.is_naive(slot):
            slot = timezone.make_aware(slot)  # a wall-clock time at the district's time zone
        if slot is None or slot <= now:
            raise ValidationFailed(_("请选择一个将来的时间段。"), field="slot")
        payload["slot"] = slot.isoformat()
    parent = None
    if "parent" in act.needs:
        parent = _merge_parent(viewer, case, parent_number)
        changes["parent_id"] = parent.pk
        payload["parent"] = parent.number
    if action == "claim":
        if case.assignee_id == viewer.user_id:
            raise IllegalTransition(_("您已认领该案件。"), field="action")
        changes["assignee_id"] = viewer.user_id
        payload["assignee"] = viewer.username
    if action == "publish_faq":
        faq = faq_publish(matter_id=case.matter_id, question=case.description or case.title, answer=case.result,
                          source_case_id=case.pk)
        payload["faq"] = faq.pk
    if decision and "decision" in act.needs:
        changes["decision"] = decision
        payload["decision"] = decision
    if result:
        changes["result"] = result
        payload["result"] = result

    if act.starts_clock:
        info = _snapshot_info(case)
        changes["accepted_at"] = now
        changes["due_at"] = workdays.due_after(now, info.time_limit, info.time_unit)
        payload["due_at"] = changes["due_at"].isoformat()
    if act.stops_clock:
        changes["suspended_at"] = now
    if act.resumes_clock and case.suspended_at and case.due_at:
        info = _snapshot_info(case)
        changes["due_at"] = workdays.due_after_suspension(case.due_at, case.suspended_at, now, info.time_unit)
        changes["suspended_at"] = None
        payload["due_at"] = changes["due_at"].isoformat()
    if "due_at" in changes and changes["due_at"] > now:
        changes["warning_level"] = 0  # a new or moved deadline starts unwarned
    to_state = act.target or case.state
    if to_state in wf.closed and case.state not in wf.closed:
        changes["closed_at"] = now
        changes["warning_level"] = 0
    if to_unit_id != case.holder_unit_id:
        changes["holder_unit_id"] = to_unit_id
        changes["assignee_id"] = None
        payload["to_unit_name"] = h.units[to_unit_id].name if to_unit_id in h.units else ""
    changes["state"] = to_state
    case = _append(case, viewer=viewer, action=action, to_state=to_state, to_unit_id=to_unit_id,
                   payload=payload, changes=changes, at=now)
    if parent is not None:
        # The parent's timeline says what was folded into it, in the same transaction.
        _append(parent, viewer=viewer, action="absorb_duplicate", to_state=parent.state,
                to_unit_id=parent.holder_unit_id, payload={"child": case.number}, changes={}, at=now)
        if case.applicant_id:
            message = _stored(lambda: _("您反映的问题（%(number)s）已并入案件 %(parent)s 一并处理，可在办件页查看进度。")
                              % {"number": case.number, "parent": parent.number})
            Notification.objects.create(resident_id=case.applicant_id, case=case, event_seq=case.event_count,
                                        kind=Notification.Kind.MERGED, message=message[:300], created_at=now,
                                        region_path=case.region_path)
    _notify_after(case, action, viewer=viewer, comment=comment)
    return case


def _merge_parent(viewer: Viewer, case: Case, number: str | None) -> Case:
    """The open case a duplicate is merged into: visible to the viewer, of the same kind, itself no child."""
    from yiwang.cases.selectors import case_get

    if not number:
        raise ValidationFailed(_("请填写主案件编号。"), field="parent_number")
    try:
        parent = case_get(viewer=viewer, number=number)
    except NotFound:
        raise NotFound(_("没有找到主案件 %(n)s，或您无权查看。") % {"n": number}, field="parent_number") from None
    if parent.pk == case.pk:
        raise ValidationFailed(_("不能合并到案件自身。"), field="parent_number")
    if parent.kind != case.kind or parent.closed_at is not None:
        raise ValidationFailed(_("主案件须为同类且尚未办结的案件。"), field="parent_number")
    # Lock the parent's row for the rest of the transaction, so it cannot close meanwhile.
    return Case.objects.select_for_update().get(pk=parent.pk)


_NOTIFY = {
    "dispatch": (Notification.Kind.DISPATCHED, "holder"),
    "rework": (Notification.Kind.REWORK, "holder"),
    "supervise": (Notification.Kind.SUPERVISE, "holder"),
}


def _notify_after(case: Case, action: str, *, viewer: Viewer | None, comment: str = "") -> None:
    """Tell the unit that now has to act: a new dispatch, a rework, a 督办."""
    spec = _NOTIFY.get(action)
    if spec is None:
        return
    kind, _who = spec
    message = _stored(lambda: _("%(action)s：%(number)s %(title)s%(comment)s") % {
        "action": Notification.Kind(kind).label, "number": case.number, "title": case.title[:60],
        "comment": _("（%(c)s）") % {"c": comment[:100]} if comment else "",
    })
    notify(case, kind=kind, message=message, unit_ids={case.holder_unit_id}, user_id=case.assignee_id)


def notify(case: Case, *, kind: str, message: str, unit_ids: set[int | None], user_id: int | None = None) -> None:
    """Write one notification per unit about ``case``'s latest event; call inside its transaction."""
    now = clock.now()
    Notification.objects.bulk_create([
        Notification(unit_id=u, user_id=user_id, case=case, event_seq=case.event_count, kind=kind,
                     message=message[:300], created_at=now, region_path=case.region_path)
        for u in sorted(u for u in unit_ids if u is not None)
    ])


def _staff_of(unit_id: int, username: str | None) -> tuple[int, str]:
    from yiwang.org.models import Staff

    row = Staff.objects.filter(unit_id=unit_id, user__username=username or "", user__is_active=True).values_list(
        "user_id", "user__username").first()
    if row is None:
        raise ValidationFailed(_("请选择本单位的一名工作人员。"), field="assignee")
    return row


def _append(case: Case, *, viewer: Viewer | None, action: str, to_state: str, to_unit_id: int | None,
            payload: dict, changes: dict, at: dt.datetime) -> Case:
    """Append one event and apply ``changes`` with a version check; must run inside a transaction."""
    event = _event(
        case, seq=case.event_count + 1, prev=case.last_hash, at=at,
        actor_id=viewer.user_id if viewer else None, actor_name=viewer.username if viewer else SYSTEM,
        action=action, from_state=case.state, to_state=to_state, from_unit_id=case.holder_unit_id,
        to_unit_id=to_unit_id, payload=payload,
    )
    updated = Case.objects.filter(pk=case.pk, version=case.version).update(
        **changes, version=F("version") + 1, event_count=F("event_count") + 1, last_hash=event.hash
    )
    if updated != 1:
        raise Conflict(_("该案件刚刚被他人更新，请刷新后重试。"), field="version")
    event.save(force_insert=True)
    before = rollups.contributions(case)
    for name, value in changes.items():
        setattr(case, name, value)
    rollups.track(before, rollups.contributions(case))
    case.version += 1
    case.event_count += 1
    case.last_hash = event.hash
    return case


def case_mark_warning(*, case: Case, level: int) -> bool:
    """Sweep: raise a case's warning level (1 yellow: due soon; 2 red: overdue). Never lowers it.

    True when this call wrote the mark; False when the case no longer needs it or a concurrent
    writer (another sweep, a handler) got there first.
    """
    with transaction.atomic():
        fresh = Case.objects.filter(pk=case.pk).first()
        if fresh is None or fresh.closed_at is not None or fresh.warning_level >= level:
            return False
        action = "mark_overdue" if level >= 2 else "warn"
        payload = {"level": level, "due_at": fresh.due_at.isoformat() if fresh.due_at else None}
        try:
            marked = _append(fresh, viewer=None, action=action, to_state=fresh.state,
                             to_unit_id=fresh.holder_unit_id, payload=payload, changes={"warning_level": level},
                             at=clock.now())
        except Conflict:
            # Someone acted on the case meanwhile; the next sweep looks again.
            return False
        kind = Notification.Kind.OVERDUE if level >= 2 else Notification.Kind.WARN
        due = timezone.localtime(marked.due_at).strftime("%Y-%m-%d %H:%M") if marked.due_at else ""
        message = _stored(lambda: (_("已超期：%(number)s %(title)s，期限 %(due)s") if level >= 2
                                   else _("即将到期：%(number)s %(title)s，期限 %(due)s"))
                          % {"number": marked.number, "title": marked.title[:60], "due": due})
        # The holder must act; the supervising unit (指挥中心) must see it slipping.
        notify(marked, kind=kind, message=message, unit_ids={marked.holder_unit_id, marked.supervisor_unit_id},
               user_id=marked.assignee_id)
        return True


def escalation_rule_for(case: Case, rules: list[EscalationRule]) -> EscalationRule | None:
    """The most specific active rule for a case: its matter's, else its kind's, else a general one."""
    for test in (lambda r: r.matter_id == case.matter_id,
                 lambda r: r.matter_id is None and r.kind == case.kind,
                 lambda r: r.matter_id is None and not r.kind):
        for rule in rules:
            if rule.active and test(rule):
                return rule
    return None


def case_auto_escalate(*, case: Case, rule: EscalationRule) -> bool:
    """Sweep: move a case overdue beyond a rule's grace up one level (warning level 3). Idempotent:
    True only for the call that wrote the escalation."""
    with transaction.atomic():
        fresh = Case.objects.filter(pk=case.pk).first()
        now = clock.now()
        if (fresh is None or fresh.closed_at is not None or fresh.warning_level >= 3 or fresh.due_at is None
                or fresh.suspended_at is not None or now < fresh.due_at + dt.timedelta(hours=rule.after_hours)):
            return False
        h = hierarchy()
        try:
            target = routing.escalation_target(h.units[fresh.holder_unit_id], h)
        except ValidationFailed:
            target = None  # already at the top: stays put, still marked so the sweep stops trying
        changes: dict = {"warning_level": 3}
        payload = {"rule": rule.pk, "rule_name": rule.name, "after_hours": rule.after_hours}
        to_unit_id = fresh.holder_unit_id
        if target is not None and target.id != fresh.holder_unit_id:
            to_unit_id = changes["holder_unit_id"] = target.id
            changes["assignee_id"] = None
            payload["to_unit_name"] = target.name
        from_unit_id = fresh.holder_unit_id
        try:
            escalated = _append(fresh, viewer=None, action="auto_escalate", to_state=fresh.state,
                                to_unit_id=to_unit_id, payload=payload, changes=changes, at=now)
        except Conflict:
            return False
        message = _stored(lambda: _("超期未办结，已按规则“%(rule)s”上报：%(number)s %(title)s")
                          % {"rule": rule.name, "number": escalated.number, "title": escalated.title[:60]})
        notify(escalated, kind=Notification.Kind.ESCALATED, message=message,
               unit_ids={from_unit_id, to_unit_id, escalated.supervisor_unit_id})
        return True


@transaction.atomic
def case_open_follow_up(*, case: Case, evaluation_id: int, rating: int, comment: str, workdays_limit: int) -> Case:
    """A bad review (差评) opens a follow-up case at the unit that handled the rated case."""
    now = clock.now()
    unit_id = case.handling_unit_id or case.holder_unit_id
    wf = workflow(Kind.FOLLOW_UP)
    follow_up = Case(
        kind=Kind.FOLLOW_UP, matter_id=case.matter_id, matter_version_id=case.matter_version_id,
        title=(_stored(_, "差评整改：") + case.title)[:MAX_TITLE], description=comment, applicant_id=case.applicant_id,
        applicant_name=case.applicant_name, applicant_phone=case.applicant_phone, channel=Channel.SYSTEM,
        region_id=case.region_id, region_path=case.region_path, state=wf.initial, holder_unit_id=unit_id,
        handling_unit_id=unit_id, created_at=now, accepted_at=now,
        due_at=workdays.due_after(now, workdays_limit, "workdays"), version=1,
    )
    payload = {"source_case": case.number, "evaluation": evaluation_id, "rating": rating,
               "note": _stored(lambda: _("差评自动转办整改，%(n)s 个工作日内回访并反馈结果") % {"n": workdays_limit})}
    _insert_opened(follow_up, actor_id=None, actor_name=SYSTEM, payload=payload, at=now)
    return follow_up


def suspensions(kind: str, events: Iterable[CaseEvent]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """Suspension intervals of the clock, read from a timeline."""
    wf = workflow(kind)
    out: list[tuple[dt.datetime, dt.datetime | None]] = []
    for e in events:
        act = wf.actions.get(e.action)
        if act is None:
            continue
        if act.stops_clock:
            out.append((e.at, None))
        elif act.resumes_clock and out and out[-1][1] is None:
            out[-1] = (out[-1][0], e.at)
    return out


def due_from_timeline(case: Case) -> dt.datetime | None:
    """The deadline as the current calendar computes it from the case's own timeline."""
    if case.accepted_at is None or case.kind == Kind.FOLLOW_UP:
        return case.due_at
    info = _snapshot_info(case)
    events = list(case.events.order_by("seq"))
    return workdays.compute_due(case.accepted_at, info.time_limit, info.time_unit, suspensions(case.kind, events))


def case_recompute_due(*, case: Case) -> Case:
    """Recompute a deadline after a calendar change, recording old and new on the timeline."""
    with transaction.atomic():
        fresh = Case.objects.select_related("matter_version").get(pk=case.pk)
        new_due = due_from_timeline(fresh)
        if new_due == fresh.due_at or fresh.closed_at is not None:
            return fresh
        payload = {"old_due_at": fresh.due_at.isoformat() if fresh.due_at else None, "due_at": new_due.isoformat(),
                   "note": _stored(_, "工作日历调整，重新计算办理期限")}
        return _append(fresh, viewer=None, action="recompute_due", to_state=fresh.state,
                       to_unit_id=fresh.holder_unit_id, payload=payload, changes={"due_at": new_due}, at=clock.now())


# --- the working-day calendar ----------------------------------------------------------------

CALENDAR = "cases.calendar"


@transaction.atomic
def workday_set(*, day: dt.date, is_workday: bool, name: str = "") -> None:
    """An administrator's correction of one day. Deadlines already computed are not moved."""
    from yiwang.cases.models import Workday
    from yiwang.core import confcache

    Workday.objects.update_or_create(date=day, defaults={"is_workday": is_workday, "name": name,
                                                         "source": Workday.Source.ADMIN})
    confcache.bump(CALENDAR)


@dataclass
class CalendarChange:
    day: dt.date
    was_workday: bool
    is_workday: bool
    name: str


@transaction.atomic
def calendar_load_year(*, year_calendar: workdays.YearCalendar) -> list[CalendarChange]:
    """Replace one year's days with the official calendar; return the days whose status changed."""
    from yiwang.cases.models import Workday
    from yiwang.core import confcache

    cal = workdays.calendar_cache.get()
    changes = []
    rows = []
    for day, (is_work, name) in year_calendar.days().items():
        before = cal.is_workday(day)
        if before != is_work:
            changes.append(CalendarChange(day, before, is_work, name))
        rows.append(Workday(date=day, is_workday=is_work, name=name, source=Workday.Source.LOADED))
    Workday.objects.filter(date__year=year_calendar.year).delete()
    Workday.objects.bulk_create(rows, batch_size=500)
    confcache.bump(CALENDAR)
    return changes


def notifications_mark_read(*, viewer: Viewer, ids: list[int] | None = None) -> int:
    """Mark the given notifications of the viewer's units (or all of them) read; returns how many."""
    qs = Notification.objects.filter(unit_id__in=sorted(viewer.unit_ids), read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


# --- 免申即享: matters settled by resident data alone -----------------------------------------


def auto_key(matter_code: str, resident_id: int) -> str:
    """The idempotency key of an automatic case: one per matter and resident, ever."""
    return f"auto:{matter_code}:{resident_id}"


def case_auto_issue(*, matter: MatterInfo, resident: Resident, reasons: tuple[str, ...]) -> Case | None:
    """Open, accept, approve and close an application for ``resident`` as the system, in one
    transaction, with the rule and how each condition was judged on the timeline; notify the
    resident. None when this resident already had this matter issued automatically."""
    h = hierarchy()
    region = h.regions[resident.region_id]
    route = routing.route(matter, region, h)
    wf = workflow(matter.kind)
    now = clock.now()
    case = Case(
        kind=matter.kind, matter_id=matter.id, matter_version_id=matter.version_id, title=matter.name,
        applicant=resident, applicant_name=resident.name, applicant_phone=resident.phone, channel=Channel.SYSTEM,
        region_id=region.id, region_path=region.path, state=wf.initial, holder_unit_id=route.unit.id,
        created_at=now, version=1, idempotency_key=auto_key(matter.code, resident.pk),
    )
    note = matter.auto_rule.get("note") or _stored(_, "免申即享")
    payload = {"routing": route.as_payload(), "channel": Channel.SYSTEM, "auto_rule": matter.auto_rule,
               "reasons": list(reasons), "note": note}
    result = _stored(_, "符合自动办理条件，系统自动办结（免申即享）。")
    try:
        with transaction.atomic():
            _insert_opened(case, actor_id=None, actor_name=SYSTEM, payload=payload, at=now)
            due = workdays.due_after(now, matter.time_limit, matter.time_unit)
            steps = [("accept", "accepted", {"accepted_at": now, "due_at": due}, {"due_at": due.isoformat()}),
                     ("decide", "decided", {"decision": "approved", "handling_unit_id": route.unit.id},
                      {"decision": "approved"}),
                     ("close", "closed", {"closed_at": now, "result": result}, {"result": result})]
            for action, state, changes, extra in steps:
                case = _append(case, viewer=None, action=action, to_state=state, to_unit_id=case.holder_unit_id,
                               payload={"capacity": SYSTEM, **extra}, changes={**changes, "state": state}, at=now)
            message = _stored(lambda: _("您的“%(matter)s”已按规定自动办结，无需申请。编号 %(number)s。")
                              % {"matter": matter.name, "number": case.number})
            Notification.objects.create(resident=resident, case=case, event_seq=case.event_count,
                                        kind=Notification.Kind.AUTO_ISSUED, message=message[:300], created_at=now,
                                        region_path=case.region_path)
    except IntegrityError:
        if Case.objects.filter(idempotency_key=case.idempotency_key).exists():
            return None  # issued before (or by a concurrent sweep): once per resident, ever
        raise
    return case


def case_system_act(*, case_id: int, action: str, unit_code: str | None = None, comment: str = "",
                    payload: dict | None = None) -> Case:
    """Take a workflow action as the system (no actor, capacity "system"): an automatic rule such as
    智能派单 registering and dispatching a report.

    The same checks as case_act except the actor's role: the action must exist and apply in the case's
    state, its inputs must be given, and a target unit must be within reach of the unit holding the
    case, as it would be for that unit's own staff. Actions needing inputs only a person can give
    (a result, a decision, a parent case, a time slot) are refused. ``payload`` adds details to the
    timeline event (the model and confidence of an automatic dispatch), never over the core keys.
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("matter_version").filter(pk=case_id).first()
        if case is None:
            raise NotFound(_("没有找到该案件。"), field="case_id")
        wf, act = _action_for(case, action)
        _check_state(case, wf, act)
        if set(act.needs) - {"unit", "comment"} or action == "claim":
            raise ValidationFailed(_("“%(action)s”须由工作人员办理，系统不能自动执行。") % {"action": act.label},
                                   field="action")
        holder = hierarchy().units.get(case.holder_unit_id)

        def may_reach(unit) -> bool:
            # As far as the holding unit's own staff could hand it: along its region chain.
            return holder is not None and (unit.region_path.startswith(holder.region_path)
                                           or holder.region_path.startswith(unit.region_path))

        return _apply(case, wf, act, viewer=None, capacity=SYSTEM, comment=comment, unit_code=unit_code, result="",
                      decision="", assignee_username=None, slot=None, parent_number=None, extra=payload,
                      may_reach=may_reach)


def case_flag_duplicate(*, case_id: int, original_id: int, distance_m: int) -> bool:
    """Mark a new report as a likely duplicate of an open case (a timeline event, no state change),
    so the board offers the one-click merge. True when this call wrote the flag."""
    with transaction.atomic():
        case = Case.objects.filter(pk=case_id, closed_at__isnull=True, likely_duplicate_of__isnull=True).first()
        original = Case.objects.filter(pk=original_id, closed_at__isnull=True).first()
        if case is None or original is None or original.pk == case.pk:
            return False
        payload = {"original": original.number, "distance_m": distance_m}
        try:
            _append(case, viewer=None, action="flag_duplicate", to_state=case.state, to_unit_id=case.holder_unit_id,
                    payload=payload, changes={"likely_duplicate_of_id": original.pk}, at=clock.now())
        except Conflict:
            return False
        return True


def case_reveal_id(*, viewer: Viewer, case_id: int, field: str, reason: str) -> tuple[Case, list[str]]:
    """The ID numbers ``field`` of a case holds, in full ("applicant": the applicant's registered
    number; "description"; "form.<name>"), for staff of the unit holding or handling it; and the event
    that records who saw them and why (action reveal_id, state and holder unchanged), appended in the
    same transaction before the numbers are returned: seeing sensitive personal information is itself
    an act to account for (个人信息保护法 Art. 28, 29). Returns the case as it is now and the numbers."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写查看完整证件号的理由。"), field="reason")
    if len(reason) > 500:
        raise ValidationFailed(_("理由不能超过 %(n)s 个字。") % {"n": 500}, field="reason")
    with transaction.atomic():
        case = case_for_action(viewer, case_id)
        if not personal.may_reveal(viewer, case):
            raise PermissionDenied(_("只有承办单位的工作人员可以查看完整证件号。"))
        numbers = personal.id_fields(case).get(field)
        if not numbers:
            raise ValidationFailed(_("该案件的这一项没有证件号。"), field="field")
        roles = viewer.roles_in(case.holder_unit_id) | viewer.roles_in(case.handling_unit_id)
        payload = {"capacity": sorted(roles)[0] if roles else "superuser", "field": field,
                   "reason": idnumber.mask_text(reason, phones=False)}
        case = _append(case, viewer=viewer, action="reveal_id", to_state=case.state, to_unit_id=case.holder_unit_id,
                       payload=payload, changes={}, at=clock.now())
    return case, numbers
