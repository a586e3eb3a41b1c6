"""Opening a case: an application, a consultation or a report routed to the lowest level that can take
it; a case given to a named unit by staff; a follow-up opened by a bad review; a matter issued
without application (免申即享). Each is one transaction that inserts the case and its first event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import routing, workdays
from yiwang.cases.attachments import materials_from_caller
from yiwang.cases.models import Case, Channel, Kind, Notification
from yiwang.cases.services.actions import take
from yiwang.cases.services.notifications import tell_resident
from yiwang.cases.services.timeline import insert_opened, new_row, rules_for, staff_of, stored
from yiwang.cases.workflows import SYSTEM, Inputs, workflow
from yiwang.catalog.selectors import MatterInfo, matter_info
from yiwang.core import clock
from yiwang.core.errors import PermissionDenied, ValidationFailed
from yiwang.org import geo
from yiwang.org.models import CodePurpose, Resident
from yiwang.org.selectors import ANONYMOUS, Viewer, hierarchy, units_reachable
from yiwang.org.services import code_check, mobile_number

MAX_TITLE = 200
CHANNELS = frozenset(Channel.values)  # Channel.values builds a new list on every access

# Sent by `yiwang worker` for each new case of a kind some app asked for (announce_opened), with the
# case's id: never for a replayed idempotent request. Apps above cases react here without cases knowing
# them: smart dispatch, duplicate flags. The job that sends it is queued in the transaction that opens
# the case (cases.tasks.case_opened_task), so the reporter's request does not wait for the receivers,
# and a crash after the commit loses nothing.
case_opened = Signal()
_announced: set[str] = set()


def announce_opened(kind: str) -> None:
    """Have case_opened sent for every new case of ``kind`` (an app's ready() calls this). Kinds nobody
    asked for queue no job: an application's intake pays nothing for the incidents' receivers."""
    _announced.add(str(kind))


def _queue_announcement(case: Case) -> None:
    from yiwang.cases.tasks import case_opened_task  # tasks imports the services: not at module level

    case_opened_task.enqueue(case_id=case.pk, kind=str(case.kind))


def _after_insert(then: Callable[[Case], None] | None, *, announce: bool) -> Callable[[Case], None] | None:
    if not announce:
        return then
    if then is None:
        return _queue_announcement

    def both(case: Case) -> None:
        then(case)
        _queue_announcement(case)

    return both


@dataclass
class Created:
    case: Case
    replayed: bool  # True when an earlier request with the same idempotency key made it


def _check_submission(matter: MatterInfo, form: dict, materials: list[dict]) -> None:
    errors = matter.check_form(form)
    if not isinstance(materials, list) or any(not isinstance(m, dict) or not m.get("code") for m in materials):
        errors.setdefault("materials", []).append(_("每项材料须为含 code 的对象。"))
    else:
        given = {m["code"] for m in materials}
        names = dict(matter.material_names)  # residents read the material's name, never its code
        for code in sorted(matter.required_materials - given):
            errors.setdefault("materials", []).append(_("缺少必需的材料：%(name)s。") % {"name": names.get(code, code)})
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
    due_at: dt.datetime | None = None, extra: dict | None = None, proven_phone: str = "",
    then: Callable[[Case], None] | None = None,
) -> Created:
    """Open a case: an application, a consultation or an incident report, routed to the lowest level
    that can take it; or, by staff, a case given to a named unit (a ledger's rectification item, an
    assistance pair) with its supervising unit, responsible person and deadline.

    ``proven_phone`` is set by case_report_by_phone alone, once a code proved the number: a report
    by a visitor without an account (``viewer`` is then ANONYMOUS).

    ``then(case)`` runs inside the transaction that writes the new case, after it: the caller's own
    row that must exist exactly when the case does (an Open311 submission), with no transaction of
    the caller's around the whole intake (on SQLite that would hold the write lock through it all).
    It is not called for a replayed request."""
    if proven_phone:
        if viewer.user_id is not None:
            raise PermissionDenied(_("已登录时请以账号提交。"))
    elif viewer.user_id is None:
        raise PermissionDenied(_("请先登录。"))
    elif not viewer.is_staff_member and viewer.resident_id is None:
        raise PermissionDenied(_("只有居民本人或工作人员可以提交。"))
    matter = matter_info(matter_code)
    if not viewer.is_staff_member and not matter.resident_can_apply:
        # Internal matters (a ledger's rectification, an assistance pair) are opened by staff for a
        # unit; offered to nobody else, whatever the entry point (portal, API, Open311, a guessed code).
        raise PermissionDenied(_("%(name)s 由工作人员立项，不受理群众申请。") % {"name": matter.name},
                               field="matter_code")
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
    if proven_phone:
        applicant_phone = proven_phone
    elif applicant is None and not viewer.is_staff_member:
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
        assignee_id, _name = staff_of(route.unit.id, assignee_username)
    if due_at is not None:
        if not wf.deadline_given:
            raise ValidationFailed(_("该类事项的期限按承诺时限计算，不能另行指定。"), field="due_at")
        if timezone.is_naive(due_at):
            due_at = timezone.make_aware(due_at)
        if due_at <= now:
            raise ValidationFailed(_("期限须晚于现在。"), field="due_at")
    key = _idempotency_key(viewer, proven_phone, idempotency_key)
    case = new_row(
        Case,
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
    if proven_phone:
        # What cases_attach_by_phone looks for: this number was proven by the reporter, not typed by
        # a clerk or an app (the holder of a number typed by others must not get the case).
        payload["phone_proven"] = True
    if off_grid:
        # Outside every grid: kept in the nearest community's queue, flagged for the operator.
        payload["off_grid"] = {"community": located.region.code, "distance_km": located.distance_km}
    if case.due_at:
        payload["due_at"] = case.due_at.isoformat()
    try:
        insert_opened(case, actor_id=viewer.user_id,
                      actor_name=stored(_, "无账号反映人") if proven_phone else viewer.username,
                      payload=payload, at=now, uploads=claimed_uploads,
                      then=_after_insert(then, announce=case.kind in _announced))
    except IntegrityError:
        if key is None:
            raise
        existing = Case.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return Created(existing, replayed=True)
    return Created(case, replayed=False)


def _idempotency_key(viewer: Viewer, proven_phone: str, given: str | None) -> str | None:
    if not given:
        return None
    return f"phone:{proven_phone}:{given}" if proven_phone else f"{viewer.user_id}:{given}"


def case_report_by_phone(
    *, phone: str, code: str, matter_code: str, region_code: str | None = None, description: str = "",
    lat: float | None = None, lng: float | None = None, address: str = "", attachments: list[dict] | None = None,
    idempotency_key: str | None = None,
) -> Created:
    """A problem reported by a visitor without an account (随手拍), who proves the mobile number they
    give with the code sent to it for reporting (org.services.code_send, purpose "report").

    The code is checked here, and spent in the transaction that opens the case: a case refused for
    another field leaves the code valid for the corrected form. The case keeps the number, so the
    reporter is told of its steps by SMS, finds it on /lookup/, and gets it in their account when
    they later sign up or log in with that number (cases_attach_by_phone). The same form posted
    again (its idempotency key) answers the case it made, without a second code."""
    phone = mobile_number(phone)
    if not (code or "").strip():
        raise ValidationFailed(_("请填写短信验证码。"), field="code")
    if matter_info(matter_code).kind != Kind.INCIDENT:
        raise ValidationFailed(_("没有账号时只能反映问题；办事请先登录。"), field="matter_code")
    key = _idempotency_key(ANONYMOUS, phone, idempotency_key)
    if key is not None:
        existing = Case.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return Created(existing, replayed=True)

    def report() -> Created:
        return case_create(viewer=ANONYMOUS, matter_code=matter_code, region_code=region_code,
                           description=description, lat=lat, lng=lng, address=address, attachments=attachments,
                           channel=Channel.ONLINE, idempotency_key=idempotency_key, proven_phone=phone)

    return code_check(phone=phone, purpose=CodePurpose.REPORT, code=code, then=report)


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
        note = _route_notes[key] = stored(routing.explain, route)
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



@transaction.atomic
def case_open_follow_up(*, case: Case, evaluation_id: int, rating: int, comment: str, workdays_limit: int) -> Case:
    """A bad review (差评) opens a follow-up case at the unit that handled the rated case."""
    now = clock.now()
    unit_id = case.handling_unit_id or case.holder_unit_id
    wf = workflow(Kind.FOLLOW_UP)
    follow_up = Case(
        kind=Kind.FOLLOW_UP, matter_id=case.matter_id, matter_version_id=case.matter_version_id,
        title=(stored(_, "差评整改：") + case.title)[:MAX_TITLE], description=comment, applicant_id=case.applicant_id,
        applicant_name=case.applicant_name, applicant_phone=case.applicant_phone, channel=Channel.SYSTEM,
        region_id=case.region_id, region_path=case.region_path, state=wf.initial, holder_unit_id=unit_id,
        handling_unit_id=unit_id, created_at=now, accepted_at=now,
        due_at=workdays.due_after(now, workdays_limit, "workdays"), version=1,
    )
    payload = {"source_case": case.number, "evaluation": evaluation_id, "rating": rating,
               "note": stored(lambda: _("差评自动转办整改，%(n)s 个工作日内回访并反馈结果") % {"n": workdays_limit})}
    insert_opened(follow_up, actor_id=None, actor_name=SYSTEM, payload=payload, at=now)
    return follow_up



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
    note = matter.auto_rule.get("note") or stored(_, "免申即享")
    payload = {"routing": route.as_payload(), "channel": Channel.SYSTEM, "auto_rule": matter.auto_rule,
               "reasons": list(reasons), "note": note}
    result = stored(_, "符合自动办理条件，系统自动办结（免申即享）。")
    try:
        with transaction.atomic():
            insert_opened(case, actor_id=None, actor_name=SYSTEM, payload=payload, at=now)
            # Accepted, approved and closed by the system at once, each step as the workflow declares it.
            rules = rules_for(case)
            for action, inputs in (("accept", Inputs()), ("decide", Inputs(decision="approved")),
                                   ("close", Inputs(result=result))):
                case = take(case, wf.actions[action], inputs, viewer=None, capacity=SYSTEM, at=now, rules=rules)
            message = stored(lambda: _("您的“%(matter)s”已按规定自动办结，无需申请。编号 %(number)s。")
                             % {"matter": matter.name, "number": case.number})
            tell_resident(case, kind=Notification.Kind.AUTO_ISSUED, message=message)
    except IntegrityError:
        if Case.objects.filter(idempotency_key=case.idempotency_key).exists():
            return None  # issued before (or by a concurrent sweep): once per resident, ever
        raise
    return case

