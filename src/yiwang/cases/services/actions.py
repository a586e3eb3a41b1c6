"""Taking a step on a case: a staff member's action, the system's (automatic dispatch, 免申即享, the
sweeps), and "register and dispatch". Each public function is one transaction; every step goes
through :func:`take`, which applies what the action declares (workflows.transition), appends the
event, runs the action's declared side effect and writes the notifications it declares."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import replace

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import deadlines, personal, routing, workdays
from yiwang.cases.attachments import materials_from_caller, photos_store
from yiwang.cases.models import Case, CaseEvent, Channel, EscalationRule, Kind, Upload
from yiwang.cases.selectors import capacity
from yiwang.cases.services.notifications import copy_sms_to_inbox, notify_step, tell_applicant
from yiwang.cases.services.timeline import append, rules_for, snapshot_info, staff_of, stored
from yiwang.cases.workflows import (
    APPLICANT,
    DELIVERY,
    ELECTRONIC,
    PICKUP,
    POST,
    SYSTEM,
    SYSTEM_ACTIONS,
    WORKFLOWS,
    Action,
    AtTheTop,
    Inputs,
    Rules,
    Workflow,
    action_label,
    applies,
    transition,
    workflow,
)
from yiwang.catalog.services import faq_draft
from yiwang.core import clock, idnumber
from yiwang.core.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.core.text import check_text
from yiwang.org.models import Resident
from yiwang.org.selectors import Viewer, hierarchy, scope_q, units_reachable


def take(case: Case, act: Action, inputs: Inputs, *, viewer: Viewer | None, capacity: str | None,
         at: dt.datetime, rules: Rules, payload: dict | None = None) -> Case:
    """Apply ``act`` to ``case`` as declared and append its event; inside the caller's transaction.

    ``payload`` holds what the caller records beyond the declared effect (an app's details, a
    sweep's rule); the declared keys win over it. Returns the case as it is now.
    """
    event_payload: dict = {"capacity": capacity} if capacity else {}
    if inputs.comment:
        event_payload["comment"] = inputs.comment
    if inputs.reply:
        event_payload["reply"] = inputs.reply
    if inputs.note:
        event_payload["note"] = inputs.note
    for key, value in (payload or {}).items():
        event_payload.setdefault(key, value)
    actor = (viewer.user_id, viewer.username) if viewer else (None, SYSTEM)
    try:
        step = transition(case, act, inputs, actor=actor, at=at, rules=rules)
    except AtTheTop:
        raise ValidationFailed(_("已经是最高一级，无法再上报。"), field="action") from None
    event_payload.update(step.derived)
    from_unit_id = case.holder_unit_id
    if act.side_effect:
        event_payload.update(SIDE_EFFECTS[act.side_effect](case, viewer, inputs, at) or {})
    case = append(case, viewer=viewer, action=act.name, to_state=step.to_state, to_unit_id=step.to_unit_id,
                  payload=event_payload, changes=step.changes, at=at)
    notify_step(case, act, from_unit_id=from_unit_id, payload=event_payload)
    tell_applicant(case, act, payload=event_payload)
    return case


# --- side effects outside the case row, named by an action's declaration ---------------------


def _publish_faq(case: Case, viewer: Viewer | None, inputs: Inputs, at: dt.datetime) -> dict:
    # A good answer helps the next resident, but the resident's words may name them (an ID number, a
    # phone, an address): they become a draft that staff edit before anyone reads it (web/faq.py).
    # A consultation gives one draft; a second click is refused and the step rolls back.
    faq = faq_draft(matter_id=case.matter_id, question=case.description or case.title, answer=case.result,
                    source_case_id=case.pk)
    return {"faq": faq.pk}


def _absorb_into_parent(case: Case, viewer: Viewer | None, inputs: Inputs, at: dt.datetime) -> dict:
    # The parent's timeline says what was folded into it, in the same transaction. Its row was
    # locked by _merge_parent, so it cannot close meanwhile.
    parent = Case.objects.get(pk=inputs.parent[0])
    take(parent, SYSTEM_ACTIONS["absorb_duplicate"], Inputs(), viewer=viewer, capacity=None, at=at,
         rules=rules_for(parent), payload={"child": case.number})
    return {}


SIDE_EFFECTS: dict[str, Callable[[Case, Viewer | None, Inputs, dt.datetime], dict | None]] = {
    "publish_faq": _publish_faq,
    "absorb_into_parent": _absorb_into_parent,
}


# --- staff actions ---------------------------------------------------------------------------


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
    reply: str = "", note: str = "", missing: list[str] | None = None, materials: list[dict] | None = None,
    delivery: dict | None = None, photos: list | None = None, then: Callable[[Case], None] | None = None,
) -> Case:
    """Take a workflow action on a case the viewer may see; exactly one of two racing actors wins.

    ``reply`` is what the resident reads, ``note`` what only staff read; ``comment`` (the older single
    box) is taken as one or the other by the action's declaration (_replies_and_materials).
    ``then(case)`` runs inside the step's transaction, after it: the caller's own rows that must stand
    or fall with the step (the API's uploads, cited by it)."""
    # Evidence (处置/核查 before and after) is re-encoded and stored before the case is locked:
    # decoding nine phone photos takes seconds, and the lock would make every other actor wait for it.
    # The stored files are content-addressed; a step refused below leaves them unreferenced.
    photos = [p for p in photos or [] if p is not None]
    if photos and action not in EVIDENCE_ACTIONS:
        raise ValidationFailed(_("“%(action)s”不能附照片。") % {"action": action_label(action)}, field="photos")
    stored_photos = photos_store(photos, field="photos") if photos else []
    with transaction.atomic():
        case = case_for_action(viewer, case_id)
        wf, act = _action_for(case, action)
        if act.system:  # the engine's own step (a sweep's): offered to nobody, superusers included
            raise IllegalTransition(_("“%(action)s”由系统自动执行。") % {"action": act.label}, field="action")
        # A second click on a page now stale: what was done says more than "someone changed it".
        _check_named_refusal(case, act)
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

        inputs = _inputs(case, act, viewer=viewer, comment=comment, unit_code=unit_code, result=result,
                         decision=decision, assignee_username=assignee_username, slot=slot,
                         parent_number=parent_number, may_reach=may_reach)
        if stored_photos:
            if not act.evidence:
                raise ValidationFailed(_("“%(action)s”不能附照片。") % {"action": act.label}, field="photos")
            extra = {**(extra or {}), "photos": [{**p, "name": stored(str, act.label)} for p in stored_photos]}
        inputs, claimed = _replies_and_materials(case, act, inputs, viewer=viewer, capacity=capacity, reply=reply,
                                                 note=note, missing=missing, materials=materials, delivery=delivery)
        case = take(case, act, inputs, viewer=viewer, capacity=capacity, at=clock.now(), rules=rules_for(case),
                    payload=extra)
        if claimed and Upload.objects.filter(pk__in=claimed, case__isnull=True).update(case_id=case.pk) != len(claimed):
            raise Conflict(_("上传的文件已被其他办件引用，请重新上传。"), field="materials")
        if then is not None:
            then(case)
        return case


# The actions of any kind that take photos: a step without any is refused before a photo is decoded.
EVIDENCE_ACTIONS = frozenset(name for wf in WORKFLOWS.values() for name, act in wf.actions.items() if act.evidence)


def _action_for(case: Case, action: str) -> tuple[Workflow, Action]:
    wf = workflow(case.kind)
    act = wf.actions.get(action)
    if act is None:
        raise IllegalTransition(
            _("“%(kind)s”没有“%(action)s”这一操作。") % {"kind": wf.label, "action": action}, field="action"
        )
    return wf, act


# Why a case's facts refuse an action, where "does not apply" would leave the person guessing: a
# consultation already turned into an FAQ entry (a second click, a stale page) points to the entry.
NOT_APPLICABLE: dict[str, Callable[[], str]] = {
    "faq_draftable": lambda: _("该咨询已转为常见问题，不能重复发布；请到“常见问题”页编辑。"),
}


def _check_named_refusal(case: Case, act: Action) -> None:
    if act.only_if in NOT_APPLICABLE and not applies(act, case) and getattr(case, act.only_if) is False:
        raise IllegalTransition(NOT_APPLICABLE[act.only_if](), field="action")


def _check_state(case: Case, wf: Workflow, act: Action) -> None:
    if not applies(act, case):
        _check_named_refusal(case, act)
        raise IllegalTransition(_("该案件不适用“%(action)s”。") % {"action": act.label}, field="action")
    if case.state not in act.sources:
        raise IllegalTransition(
            _("案件当前状态为“%(state)s”，不能执行“%(action)s”。")
            % {"state": wf.states.get(case.state, case.state), "action": act.label},
            field="action",
        )


def _inputs(case: Case, act: Action, *, viewer: Viewer | None, comment: str, unit_code: str | None, result: str,
            decision: str, assignee_username: str | None, slot: dt.datetime | None, parent_number: str | None,
            may_reach: Callable) -> Inputs:
    """Check what an action needs and resolve it to ids: the caller's half of a step."""
    comment = (comment or "").strip()
    result = (result or "").strip()
    # Pages refuse control characters in middleware; the API, the CLI and callers in code meet it here
    # (PostgreSQL refuses a NUL in text outright: a 500 otherwise).
    check_text(comment, field="comment")
    check_text(result, field="result")
    if "comment" in act.needs and not comment:
        raise ValidationFailed(_("请填写意见或理由。"), field="comment")
    if "result" in act.needs and not result:
        raise ValidationFailed(_("请填写办理结果。"), field="result")
    if "decision" in act.needs and decision not in ("approved", "denied"):
        raise ValidationFailed(_("决定须为 approved(准予)或 denied(不予)。"), field="decision")
    unit_id = None
    if "unit" in act.needs:
        if not unit_code:
            raise ValidationFailed(_("请选择目标单位。"), field="unit_code")
        target = hierarchy().unit(unit_code)
        if target.id == case.holder_unit_id:
            raise ValidationFailed(_("目标单位就是当前办理单位。"), field="unit_code")
        if not may_reach(target):
            raise PermissionDenied(_("不能把案件交给%(unit)s。") % {"unit": target.name}, field="unit_code")
        unit_id = target.id
    assignee = staff_of(case.holder_unit_id, assignee_username) if "assignee" in act.needs else None
    if "slot" in act.needs:
        if slot is not None and timezone.is_naive(slot):
            slot = timezone.make_aware(slot)  # a wall-clock time at the district's time zone
        if slot is None or slot <= clock.now():
            raise ValidationFailed(_("请选择一个将来的时间段。"), field="slot")
    parent = None
    if "parent" in act.needs:
        found = _merge_parent(viewer, case, parent_number)
        parent = (found.pk, found.number)
    if act.assignee == "actor" and viewer is not None and case.assignee_id == viewer.user_id:
        raise IllegalTransition(_("您已认领该案件。"), field="action")
    return Inputs(comment=comment, unit_id=unit_id, result=result, decision=decision, assignee=assignee,
                  slot=slot if "slot" in act.needs else None, parent=parent)


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


# --- a staff member's words, the materials of a supplement, the result's delivery ------------

MAX_TEXT = 2000
TRACKING_RE = re.compile(r"[A-Za-z0-9-]{6,40}")
REFERENCE_RE = re.compile(r"[A-Za-z0-9_./:-]{4,100}")


def _replies_and_materials(case: Case, act: Action, inputs: Inputs, *, viewer: Viewer | None, capacity: str | None,
                           reply: str = "", note: str = "", missing: list[str] | None = None,
                           materials: list[dict] | None = None,
                           delivery: dict | None = None) -> tuple[Inputs, list[int]]:
    """The second half of a step's inputs, checked and resolved: the reply to the resident and the
    internal note, the materials a supplement asks for, the materials a resubmission brings (and the
    uploads it claims), and how the result is delivered. Returns the inputs and the Upload ids."""
    reply, note, comment = (reply or "").strip(), (note or "").strip(), inputs.comment
    check_text(reply, field="reply")
    check_text(note, field="note")
    if capacity == APPLICANT:
        # The applicant writes no reply and no note: their own words are the event's comment.
        if reply or note:
            raise ValidationFailed(_("申请人的说明请填写在说明栏中。"), field="comment")
        if "reply" in act.needs and not comment:
            raise ValidationFailed(_("请填写说明。"), field="comment")
    else:
        if reply and not workflow(case.kind).residents_read:
            # No resident reads an internal kind's case (整改事项, 帮扶): what staff write is a note.
            raise ValidationFailed(_("该类案件没有群众申请人，请填写内部备注。"), field="reply")
        if comment and {"reply", "note"} & set(act.needs):
            # The older single box (the API's comment, an app's call) on an action that asks for a reply
            # or a note: a reply where its comment was public before they were split, else a note.
            # Elsewhere a comment stays what it was (public where the action declares it).
            if "comment" in act.public:
                reply = reply or comment
            else:
                note = note or comment
            comment = ""
        if "reply" in act.needs and not reply:
            raise ValidationFailed(_("请填写给群众的答复。"), field="reply")
        if "note" in act.needs and not note:
            raise ValidationFailed(_("请填写内部意见或理由（仅工作人员可见）。"), field="note")
        # 不予 is a refusal: the applicant is owed its reason (行政许可法 Art. 38), as the reply or as the
        # decision's result (both public).
        if "decision" in act.needs and inputs.decision == "denied" and not reply and not inputs.result:
            raise ValidationFailed(_("不予决定须写明理由。"), field="reply")
    for name, text in (("reply", reply), ("note", note)):
        if len(text) > MAX_TEXT:
            raise ValidationFailed(_("不能超过 %(n)s 个字。") % {"n": MAX_TEXT}, field=name)
    found_missing = _missing(case, act, missing)
    entries, claimed = _resubmitted(case, act, materials, viewer=viewer, capacity=capacity)
    found_delivery = None
    if delivery:
        if "delivery" not in act.needs:
            raise ValidationFailed(_("“%(action)s”不登记送达方式。") % {"action": act.label}, field="delivery.method")
        found_delivery = _delivery(delivery)
    elif "delivery" in act.needs:
        # 办结 tells the applicant where the result is, by every caller (pages, API, scripts); history
        # replayed by the importer goes through transition itself (records/imports.py).
        raise ValidationFailed(_("请选择结果送达方式。"), field="delivery.method")
    return replace(inputs, comment=comment, reply=reply, note=note, missing=found_missing, materials=entries,
                   delivery=found_delivery), claimed


def _missing(case: Case, act: Action, missing: list[str] | None) -> tuple[tuple[str, str], ...]:
    """(code, name) of the materials a supplement asks for: the matter's own, each once."""
    if not missing:
        return ()
    if "missing" not in act.asks:
        raise ValidationFailed(_("“%(action)s”不要求补正材料。") % {"action": act.label}, field="missing")
    info = snapshot_info(case)
    codes = list(dict.fromkeys(str(code) for code in missing))
    for code in codes:
        if code not in info.material_codes:
            raise ValidationFailed(_("该事项没有这一材料：%(code)s。") % {"code": code[:40]}, field="missing")
    return tuple((code, info.material_name(code)) for code in codes)


def _resubmitted(case: Case, act: Action, materials: list[dict] | None, *, viewer: Viewer | None,
                 capacity: str | None) -> tuple[tuple[dict, ...], list[int]]:
    """The material entries a resubmission brings: exactly those the supplement asked for, each with a
    file of the caller's own (or, from a window clerk, the original seen), and the uploads it claims."""
    if "materials" not in act.asks:
        if materials:
            raise ValidationFailed(_("“%(action)s”不提交材料。") % {"action": act.label}, field="materials")
        return (), []
    from yiwang.cases.selectors import supplement_asked

    asked = {m["code"]: m["name"] for m in supplement_asked(case)}
    given = list(materials or [])
    codes = [str(m.get("code", "")) for m in given]
    for code in codes:
        if code not in asked:
            raise ValidationFailed(_("没有要求补正这一材料：%(code)s。") % {"code": code[:40]}, field="materials")
    if len(set(codes)) != len(codes):
        raise ValidationFailed(_("每种材料只能提交一份。"), field="materials")
    lacking = [name for code, name in asked.items() if code not in codes]
    if lacking:
        raise ValidationFailed(_("请提交要求补正的材料：%(names)s。") % {"names": "、".join(lacking)},
                               field="materials")
    if not given:
        return (), []
    # A clerk taking the supplement at the window may attest the original; nobody else may.
    channel = Channel.HALL if capacity == "clerk" else case.channel
    entries, claimed = materials_from_caller(viewer=viewer, matter=snapshot_info(case), materials=given,
                                             channel=channel)
    for entry in entries:
        if not entry.get("reference"):
            raise ValidationFailed(_("请上传“%(name)s”的文件。") % {"name": entry["name"]}, field="materials")
    return tuple(entries), claimed


def _delivery(given: dict) -> dict:
    """How the result is delivered, as the event keeps it: 自取 names the hall with its address and
    hours (copied: the hall may move later), 邮寄 the tracking number, 电子证照 its reference."""
    from yiwang.org.models import Unit, UnitKind

    method = str(given.get("method") or "")
    if method not in DELIVERY:
        raise ValidationFailed(_("请选择结果送达方式。"), field="delivery.method")
    if method == PICKUP:
        hall = Unit.objects.filter(code=str(given.get("hall") or "")[:40], kind=UnitKind.SERVICE_HALL,
                                   active=True).first()
        if hall is None:
            raise ValidationFailed(_("请选择领取结果的便民服务中心/站。"), field="delivery.hall")
        return {"method": PICKUP, "hall": hall.name, "hall_code": hall.code, "address": hall.address,
                "hours": hall.hours, "phone": hall.phone}
    if method == POST:
        tracking = str(given.get("tracking") or "").strip()
        if not TRACKING_RE.fullmatch(tracking):
            raise ValidationFailed(_("请填写邮件的运单号（6 到 40 位字母、数字或连字符）。"), field="delivery.tracking")
        carrier = str(given.get("carrier") or "").strip()[:30]
        return {"method": POST, "tracking": tracking, "carrier": carrier}
    reference = str(given.get("reference") or "").strip()
    if not REFERENCE_RE.fullmatch(reference):
        raise ValidationFailed(_("请填写电子证照编号（4 到 100 位字母、数字或 - _ . / :）。"), field="delivery.reference")
    return {"method": ELECTRONIC, "reference": reference}


# --- the system's steps ----------------------------------------------------------------------


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
        if set(act.needs) - {"unit", "comment", "note"} or act.assignee == "actor":
            raise ValidationFailed(_("“%(action)s”须由工作人员办理，系统不能自动执行。") % {"action": act.label},
                                   field="action")
        holder = hierarchy().units.get(case.holder_unit_id)

        def may_reach(unit) -> bool:
            # As far as the holding unit's own staff could hand it: along its region chain.
            return holder is not None and (unit.region_path.startswith(holder.region_path)
                                           or holder.region_path.startswith(unit.region_path))

        inputs = _inputs(case, act, viewer=None, comment=comment, unit_code=unit_code, result="", decision="",
                         assignee_username=None, slot=None, parent_number=None, may_reach=may_reach)
        inputs, _claimed = _replies_and_materials(case, act, inputs, viewer=None, capacity=SYSTEM)
        return take(case, act, inputs, viewer=None, capacity=SYSTEM, at=clock.now(), rules=rules_for(case),
                    payload=payload)


def register_and_dispatch(*, case_id: int, unit_code: str | None = None, viewer: Viewer | None = None,
                          version: int | None = None, comment: str = "", payload: dict | None = None,
                          suggest: Callable[[Case], str | None] | None = None) -> Case:
    """立案 (when the report is still waiting for it) and 派遣, both steps committing together or not at
    all: the command centre's one click, a parking violation seen by an operator, 智能派单.

    By ``viewer`` (with the ``version`` they saw) or, without one, as the system. The target is
    ``unit_code`` or else what ``suggest`` names for the registered case (by default the category's
    and place's unit, routing.case_dispatch_suggestion); with neither, a field error on unit_code.
    """
    with transaction.atomic():
        if viewer is None:
            case = Case.objects.filter(pk=case_id).first()
            if case is None:
                raise NotFound(_("没有找到该案件。"), field="case_id")
        else:
            case = case_for_action(viewer, case_id)
            version = case.version if version is None else version
        if case.state == "reported":
            case = (case_system_act(case_id=case_id, action="register", payload=payload) if viewer is None
                    else case_act(viewer=viewer, case_id=case_id, action="register", version=version,
                                  comment=comment, extra=payload))
            version = case.version
        if not unit_code:
            unit_code = (suggest or _suggested_unit)(case)
            if not unit_code:
                raise ValidationFailed(_("该类事件没有建议的处置单位，请选择派遣单位。"), field="unit_code")
        if viewer is None:
            return case_system_act(case_id=case_id, action="dispatch", unit_code=unit_code, comment=comment,
                                   payload=payload)
        return case_act(viewer=viewer, case_id=case_id, action="dispatch", version=version, unit_code=unit_code,
                        comment=comment, extra=payload)


def _suggested_unit(case: Case) -> str | None:
    route = routing.case_dispatch_suggestion(case)
    return route.unit.code if route else None


def case_mark_warning(*, case: Case, level: int) -> bool:
    """Sweep: raise a case's warning level (1 yellow: due soon; 2 red: overdue). Never lowers it.

    True when this call wrote the mark; False when the case no longer needs it or a concurrent
    writer (another sweep, a handler) got there first.
    """
    with transaction.atomic():
        fresh = Case.objects.filter(pk=case.pk).first()
        if fresh is None or fresh.warning_level >= level:
            return False
        # Still due as the sweep saw it? It may have closed, or its clock stopped, since its query.
        now = clock.now()
        if not (deadlines.is_overdue(fresh, now) or (level < 2 and deadlines.is_due_soon(fresh, now))):
            return False
        act = SYSTEM_ACTIONS["mark_overdue" if level >= 2 else "warn"]
        payload = {"level": level, "due_at": fresh.due_at.isoformat() if fresh.due_at else None}
        try:
            take(fresh, act, Inputs(), viewer=None, capacity=None, at=now, rules=rules_for(fresh), payload=payload)
        except Conflict:
            # Someone acted on the case meanwhile; the next sweep looks again.
            return False
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
        payload = {"rule": rule.pk, "rule_name": rule.name, "after_hours": rule.after_hours}
        try:
            take(fresh, SYSTEM_ACTIONS["auto_escalate"], Inputs(), viewer=None, capacity=None, at=now,
                 rules=rules_for(fresh), payload=payload)
        except Conflict:
            return False
        return True


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
    info = snapshot_info(case)
    events = list(case.events.order_by("seq"))
    return workdays.compute_due(case.accepted_at, info.time_limit, info.time_unit, suspensions(case.kind, events))


def case_recompute_due(*, case: Case) -> Case:
    """Recompute a deadline after a calendar change, recording old and new on the timeline."""
    with transaction.atomic():
        fresh = Case.objects.select_related("matter_version").get(pk=case.pk)
        new_due = due_from_timeline(fresh)
        if new_due == fresh.due_at or fresh.closed_at is not None:
            return fresh
        payload = {"old_due_at": fresh.due_at.isoformat() if fresh.due_at else None,
                   "note": stored(_, "工作日历调整，重新计算办理期限")}
        return take(fresh, SYSTEM_ACTIONS["recompute_due"], Inputs(due_at=new_due), viewer=None, capacity=None,
                    at=clock.now(), rules=rules_for(fresh), payload=payload)


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
            take(case, SYSTEM_ACTIONS["flag_duplicate"], Inputs(parent=(original.pk, original.number)), viewer=None,
                 capacity=None, at=clock.now(), rules=rules_for(case), payload=payload)
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
        payload = {"field": field, "reason": idnumber.mask_text(reason, phones=False)}
        case = take(case, SYSTEM_ACTIONS["reveal_id"], Inputs(), viewer=viewer,
                    capacity=sorted(roles)[0] if roles else "superuser", at=clock.now(), rules=rules_for(case),
                    payload=payload)
    return case, numbers


def cases_attach_by_phone(resident: Resident, phone: str) -> list[Case]:
    """The problems reported from ``phone`` without an account become ``resident``'s, once a code sent
    to that number proved they hold it (org.services.resident_signup and code_login call this inside
    their transaction, with the number the code proved). Each case gets an attach_applicant event;
    the messages its reporter was sent by SMS are added to the resident's in-app inbox.

    Only cases whose reporter proved this number at submission (the opening event's phone_proven)
    and that have no applicant yet: a number typed by a clerk or an app proves nothing about who
    holds it, and a case already someone's stays theirs. Returns the cases attached."""
    if not phone or resident.phone != phone:
        return []  # only ever the number the caller proved, which is the resident's own
    ids = list(CaseEvent.objects.filter(
        seq=1, case__applicant_phone=phone, case__applicant__isnull=True, payload__phone_proven=True,
    ).values_list("case_id", flat=True).order_by("case_id"))
    attached: list[Case] = []
    now = clock.now()
    for case in Case.objects.select_for_update().select_related("matter_version").filter(
            pk__in=ids, applicant__isnull=True).order_by("pk"):
        case = take(case, SYSTEM_ACTIONS["attach_applicant"], Inputs(applicant=(resident.pk, resident.name)),
                    viewer=None, capacity=SYSTEM, at=now, rules=rules_for(case))
        copy_sms_to_inbox(case, resident_id=resident.pk)
        attached.append(case)
    return attached
