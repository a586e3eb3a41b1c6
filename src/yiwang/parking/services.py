"""Every write of parking: one function per action, one transaction each.

A violation opens its incident case through cases.services.case_create; a penalty decision is the
case's 处置 step (case_act "handle", the decision as its result and details), so the case's
timeline tells the whole story. Payments and appeals have no step in the incident workflow (the
case is handled by then); they are kept here with who and when.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases import routing
from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create, register_and_dispatch
from yiwang.core import clock
from yiwang.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.org import geo
from yiwang.org.models import Role
from yiwang.org.selectors import Viewer, hierarchy
from yiwang.parking import fees, penalties, selectors
from yiwang.parking.models import (
    Appeal,
    AppealState,
    Decision,
    ParkingSession,
    PaymentState,
    Penalty,
    PenaltyRule,
    PlaceKind,
    Source,
    Space,
    TaggedPlace,
    TariffPeriod,
    Violation,
    Zone,
    ZoneKind,
)
from yiwang.parking.plates import check_plate

PARKING_MATTER = "INC_PARKING"
CHANNEL_OF_SOURCE = {Source.PATROL: "patrol", Source.CAMERA: "camera", Source.REPORT: "online"}
# Cameras and hand-held terminals keep their own time; a little ahead of ours is their clock, not the future.
CLOCK_SKEW = dt.timedelta(minutes=5)
# A violation this close to a zone's point is taken to be in that zone.
ZONE_METRES = 150
MAX_TEXT = 2000


def _moment(at: dt.datetime | None, *, field: str) -> dt.datetime:
    """A reported time, aware in the district's zone, not in the future."""
    now = clock.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > now + CLOCK_SKEW:
        raise ValidationFailed(_("时间不能晚于现在。"), field=field)
    return at


def _staff_in(viewer: Viewer, path: str, *, roles: frozenset[str] | None = None) -> None:
    """Refuse unless the viewer works over ``path`` (in one of ``roles``, when given)."""
    if viewer.is_superuser:
        return
    ok = any(path.startswith(m.region_path) and (roles is None or m.role in roles) for m in viewer.memberships)
    if not ok:
        raise PermissionDenied(_("您无权办理该辖区的停车业务。"))


# --- zones and tagged places -----------------------------------------------------------------


def _money(raw, *, field: str, allow_none: bool = False) -> Decimal | None:
    if raw is None or raw == "":
        if allow_none:
            return None
        raise ValidationFailed(_("请填写金额。"), field=field)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValidationFailed(_("金额须为数字，单位元。"), field=field) from None
    if not value.is_finite() or value < 0 or value != value.quantize(fees.CENT) or value >= Decimal("1e8"):
        raise ValidationFailed(_("金额须为不小于 0、最多两位小数的元数。"), field=field)
    return fees.money(value)


def zone_create(*, viewer: Viewer, code: str, name: str, kind: str, region_code: str, capacity: int,
                bands: list[dict], lat: float | None = None, lng: float | None = None, address: str = "",
                operator: str = "", free_minutes: int = 0, daily_cap=None, spaces: int = 0) -> Zone:
    """A zone with its tariff bands (and, optionally, numbered spaces 001…), by a leader of its region."""
    region = hierarchy().region(region_code)
    _staff_in(viewer, region.path, roles=frozenset({Role.LEADER}))
    if kind not in ZoneKind.values:
        raise ValidationFailed(_("区域类型须为路内泊位或停车场。"), field="kind")
    if not code or len(code) > 40 or not name:
        raise ValidationFailed(_("请填写编码(不超过 40 字)和名称。"), field="code")
    if not isinstance(capacity, int) or capacity < 1:
        raise ValidationFailed(_("泊位数须为正整数。"), field="capacity")
    if spaces and spaces > capacity:
        raise ValidationFailed(_("编号泊位不能多于泊位数。"), field="spaces")
    if not isinstance(free_minutes, int) or not 0 <= free_minutes <= 24 * 60:
        raise ValidationFailed(_("免费时长须在 0 到 1440 分钟之间。"), field="free_minutes")
    if lat is not None or lng is not None:
        lat, lng = geo.check_point(lat, lng)
    cap = _money(daily_cap, field="daily_cap", allow_none=True)
    periods = [_period(i, band) for i, band in enumerate(bands)]
    if fees.bands_overlap([fees.Band(p.start, p.end, p.unit_minutes, p.unit_price) for p in periods]):
        raise ValidationFailed(_("收费时段相互重叠：同一时刻只能有一个价格。"), field="bands")
    with transaction.atomic():
        if Zone.objects.filter(code=code).exists():
            raise Conflict(_("编码 %(code)s 已被使用。") % {"code": code}, field="code")
        zone = Zone.objects.create(code=code, name=name[:100], kind=kind, region_id=region.id, region_path=region.path,
                                   lat=lat, lng=lng, address=address[:200], capacity=capacity,
                                   operator=operator[:100], free_minutes=free_minutes, daily_cap=cap)
        for period in periods:
            period.zone = zone
        TariffPeriod.objects.bulk_create(periods)
        Space.objects.bulk_create([Space(zone=zone, code=f"{n:03d}", region_path=zone.region_path)
                                   for n in range(1, spaces + 1)])
    return zone


def _period(index: int, band: dict) -> TariffPeriod:
    field = f"bands.{index}"
    try:
        start, end = dt.time.fromisoformat(str(band["start"])), dt.time.fromisoformat(str(band["end"]))
        unit_minutes = int(band["unit_minutes"])
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed(_("收费时段须有开始、结束(HH:MM)和计费单位(分钟)。"), field=field) from None
    if not 1 <= unit_minutes <= 24 * 60:
        raise ValidationFailed(_("计费单位须在 1 到 1440 分钟之间。"), field=field)
    return TariffPeriod(name=str(band.get("name", ""))[:40], start=start, end=end, unit_minutes=unit_minutes,
                        unit_price=_money(band.get("unit_price"), field=field),
                        cap=_money(band.get("cap"), field=field, allow_none=True))


def tagged_place_create(*, viewer: Viewer, name: str, kind: str, lat: float, lng: float) -> TaggedPlace:
    """Tag a school, mall or hospital on the map; it is placed in the grid its point lies in."""
    if kind not in PlaceKind.values:
        raise ValidationFailed(_("未知的场所类型 %(k)s。") % {"k": kind}, field="kind")
    if not name.strip():
        raise ValidationFailed(_("请填写名称。"), field="name")
    lat, lng = geo.check_point(lat, lng)
    located = geo.locate(lat, lng)
    if located is None:
        raise ValidationFailed(_("该位置不在任何区域内。"), field="lat")
    _staff_in(viewer, located.region.path, roles=frozenset({Role.LEADER, Role.OPERATOR}))
    with transaction.atomic():
        return TaggedPlace.objects.create(name=name.strip()[:100], kind=kind, lat=lat, lng=lng,
                                          region_id=located.region.id, region_path=located.region.path)


def penalty_rule_create(*, viewer: Viewer, name: str, decision: str, amount=0, zone_kind: str = "",
                        place_kind: str = "", min_repeat: int = 0) -> PenaltyRule:
    """A district-wide rule, by an administrator: its amount must lie within the law's range."""
    if not viewer.is_superuser:
        raise PermissionDenied(_("处罚规则由系统管理员维护。"))
    if decision not in Decision.values:
        raise ValidationFailed(_("处罚须为警告或罚款。"), field="decision")
    if zone_kind and zone_kind not in ZoneKind.values:
        raise ValidationFailed(_("区域类型须为路内泊位或停车场。"), field="zone_kind")
    if place_kind and place_kind not in PlaceKind.values:
        raise ValidationFailed(_("未知的场所类型 %(k)s。") % {"k": place_kind}, field="place_kind")
    if not isinstance(min_repeat, int) or not 0 <= min_repeat <= 100:
        raise ValidationFailed(_("此前处罚次数须在 0 到 100 之间。"), field="min_repeat")
    value = _money(amount, field="amount")
    problem = penalties.amount_problem(decision, value)
    if problem == "warning_with_amount":
        raise ValidationFailed(_("警告不能有罚款金额。"), field="amount")
    if problem == "fine_out_of_range":
        raise ValidationFailed(_("罚款金额须在 %(low)s 至 %(high)s 元之间(道路交通安全法第九十三条)。")
                               % {"low": penalties.FINE_MIN, "high": penalties.FINE_MAX}, field="amount")
    with transaction.atomic():
        return PenaltyRule.objects.create(name=name[:100] or str(Decision(decision).label), decision=decision,
                                          amount=value, zone_kind=zone_kind, place_kind=place_kind,
                                          min_repeat=min_repeat)


# --- sessions --------------------------------------------------------------------------------


def session_enter(*, viewer: Viewer, zone_code: str, plate: str, at: dt.datetime | None = None,
                  space_code: str = "") -> ParkingSession:
    """A vehicle enters a zone (入场): refused when the zone is full or the vehicle is parked already."""
    plate = check_plate(plate)
    with transaction.atomic():
        zone = selectors.zone_get(viewer=viewer, code=zone_code)
        _staff_in(viewer, zone.region_path)
        # Lock the zone's row: two entries racing for its last space must not both get it.
        zone = Zone.objects.select_for_update().get(pk=zone.pk)
        at = _moment(at, field="at")
        if selectors.occupied(zone) >= zone.capacity:
            raise Conflict(_("%(zone)s 车位已满。") % {"zone": zone.name}, field="zone")
        space = None
        if space_code:
            space = Space.objects.filter(zone=zone, code=space_code).first()
            if space is None:
                raise ValidationFailed(_("%(zone)s 没有 %(code)s 号泊位。") % {"zone": zone.name, "code": space_code},
                                       field="space")
        session = ParkingSession(zone=zone, space=space, plate=plate, entered_at=at, region_path=zone.region_path,
                                 entered_by_id=viewer.user_id)
        try:
            with transaction.atomic():
                session.save(force_insert=True)
        except IntegrityError:
            if space is not None and ParkingSession.objects.filter(space=space, exited_at__isnull=True).exists():
                raise Conflict(_("%(code)s 号泊位已有车辆。") % {"code": space_code}, field="space") from None
            raise Conflict(_("车辆 %(p)s 尚未出场，不能再次入场。") % {"p": plate}, field="plate") from None
    return session


def session_exit(*, viewer: Viewer, zone_code: str, plate: str, at: dt.datetime | None = None) -> ParkingSession:
    """A vehicle leaves (出场): the session closes with the fee its zone's tariff gives."""
    plate = check_plate(plate)
    with transaction.atomic():
        zone = selectors.zone_get(viewer=viewer, code=zone_code)
        _staff_in(viewer, zone.region_path)
        session = (ParkingSession.objects.select_for_update()
                   .filter(zone=zone, plate=plate, exited_at__isnull=True).first())
        if session is None:
            raise Conflict(_("车辆 %(p)s 不在 %(zone)s 内。") % {"p": plate, "zone": zone.name}, field="plate")
        at = _moment(at, field="at")
        if at < session.entered_at:
            raise ValidationFailed(_("出场时间不能早于入场时间 %(t)s。")
                                   % {"t": timezone.localtime(session.entered_at).strftime("%Y-%m-%d %H:%M")},
                                   field="at")
        fee = fees.compute_fee(selectors.tariff_of(zone), session.entered_at, at, settings.TIME_ZONE)
        session.exited_at = at
        session.fee = fee.total
        session.charges = [c.as_dict() for c in fee.charges]
        session.save(update_fields=["exited_at", "fee", "charges"])
    return session


# --- violations ------------------------------------------------------------------------------


def violation_record(*, viewer: Viewer, plate: str, lat: float, lng: float, source: str,
                     observed_at: dt.datetime | None = None, address: str = "", description: str = "",
                     photos: list[dict] | None = None, zone_code: str = "", idempotency_key: str | None = None
                     ) -> Violation:
    """Record a violation and open its incident case (乱停车) in the grid where it was seen.

    Staff record patrol and camera evidence within their regions; residents report (随手拍). When
    the recorder is an operator of the command centre the case lands at, it is registered and
    dispatched to the suggested enforcement unit in the same step.
    """
    plate = check_plate(plate)
    if source not in Source.values:
        raise ValidationFailed(_("来源须为巡查、抓拍或群众举报。"), field="source")
    if not viewer.is_staff_member and source != Source.REPORT:
        raise PermissionDenied(_("群众只能以举报方式上报违法停车。"), field="source")
    lat, lng = geo.check_point(lat, lng)
    observed_at = _moment(observed_at, field="observed_at")
    located = geo.locate(lat, lng)
    if located is None:
        raise ValidationFailed(_("该位置不在任何区域内。"), field="lat")
    if viewer.is_staff_member:
        _staff_in(viewer, located.region.path)
    if len(description) > MAX_TEXT:
        raise ValidationFailed(_("描述不能超过 %(n)s 字。") % {"n": MAX_TEXT}, field="description")
    zone = None
    if zone_code:
        zone = Zone.objects.filter(code=zone_code, active=True).first()
        if zone is None:
            raise ValidationFailed(_("没有编码为 %(code)s 的停车区域。") % {"code": zone_code}, field="zone")
    else:
        zone = selectors.nearest_zone(lat, lng, ZONE_METRES)
    local = timezone.localtime(observed_at)
    title = _("违法停车：%(plate)s") % {"plate": plate}
    with transaction.atomic():
        created = case_create(
            viewer=viewer, matter_code=PARKING_MATTER, title=title, description=description,
            lat=lat, lng=lng, address=address[:200], channel=CHANNEL_OF_SOURCE[source],
            attachments=list(photos or []), idempotency_key=idempotency_key,
            extra={"parking": {"plate": plate, "source": source, "observed_at": observed_at.isoformat(),
                               "zone": zone.code if zone else None}},
        )
        case = created.case
        if created.replayed:
            existing = Violation.objects.filter(case=case).first()
            if existing is not None:
                return existing
        violation = Violation.objects.create(
            plate=plate, observed_at=observed_at, hour=local.hour, weekday=local.weekday(), lat=lat, lng=lng,
            address=address[:200], description=description, source=source, photos=list(photos or []), zone=zone,
            region_id=case.region_id, region_path=case.region_path, case=case, reported_by_id=viewer.user_id,
            created_at=clock.now(),
        )
        _dispatch_if_operator(viewer, case)
    return violation


def _dispatch_if_operator(viewer: Viewer, case: Case) -> None:
    if Role.OPERATOR not in viewer.roles_in(case.holder_unit_id):
        return
    suggestion = routing.case_dispatch_suggestion(case)
    if suggestion is None:
        return  # no enforcement unit up the chain: it waits on the dispatch board for a choice
    register_and_dispatch(viewer=viewer, case_id=case.pk, version=case.version, unit_code=suggestion.unit.code)


# --- penalties and appeals -------------------------------------------------------------------


def penalty_decide(*, viewer: Viewer, violation_id: int, note: str = "") -> Penalty:
    """处罚决定 by the enforcement unit that holds the case: the rule chosen by place and repeat gives
    a warning or a fine; recorded as the case's 处置 step (signing for it first if need be)."""
    note = (note or "").strip()[:MAX_TEXT]
    with transaction.atomic():
        violation = selectors.violation_get(viewer=viewer, violation_id=violation_id)
        if Penalty.objects.filter(violation=violation).exists():
            raise Conflict(_("该违法停车已作出处罚决定。"), field="violation")
        case = Case.objects.get(pk=violation.case_id)
        if case.state == "dispatched":
            case = case_act(viewer=viewer, case_id=case.pk, action="acknowledge", version=case.version)
        if case.state != "acknowledged":
            raise IllegalTransition(_("案件须先由指挥中心派遣至执法单位，才能作出处罚决定。"), field="violation")
        facts = selectors.penalty_facts(violation)
        rule = penalties.choose_rule(selectors.active_rules(), facts)
        if rule is None:
            raise ValidationFailed(_("没有适用的处罚规则，请联系系统管理员设置。"), field="rule")
        amount = rule.amount if rule.decision == Decision.FINE else fees.money(0)
        if rule.decision == Decision.FINE:
            result = _("罚款 %(amount)s 元(%(rule)s)") % {"amount": amount, "rule": rule.name}
        else:
            result = _("警告(%(rule)s)") % {"rule": rule.name}
        if note:
            result += "；" + note
        unit_id = case.holder_unit_id
        case_act(viewer=viewer, case_id=case.pk, action="handle", version=case.version, result=result,
                 extra={"penalty": {"decision": rule.decision, "amount": str(amount), "rule": rule.pk,
                                    "repeat": facts.repeat, "plate": violation.plate}})
        return Penalty.objects.create(
            violation=violation, decision=rule.decision, amount=amount, rule=rule, repeat_count=facts.repeat,
            decided_by_id=viewer.user_id, decided_at=clock.now(), unit_id=unit_id,
            state=PaymentState.UNPAID if rule.decision == Decision.FINE else PaymentState.NONE,
            plate=violation.plate, region_path=violation.region_path,
        )


def penalty_pay(*, viewer: Viewer, penalty_id: int, reference: str = "", paid_at: dt.datetime | None = None) -> Penalty:
    """Record that a fine was paid (缴款), with the bank's or the payment platform's reference."""
    with transaction.atomic():
        if not viewer.is_staff_member:
            raise PermissionDenied(_("缴款由工作人员或缴费平台登记。"))
        penalty = selectors.penalty_get(viewer=viewer, penalty_id=penalty_id)
        penalty = Penalty.objects.select_for_update().get(pk=penalty.pk)
        if penalty.state != PaymentState.UNPAID:
            raise Conflict(_("该处罚当前为“%(s)s”，不能缴款。") % {"s": penalty.get_state_display()}, field="penalty")
        if Appeal.objects.filter(penalty=penalty, state=AppealState.PENDING).exists():
            raise Conflict(_("申诉处理期间暂停缴款。"), field="penalty")
        paid_at = _moment(paid_at, field="paid_at")
        if paid_at < penalty.decided_at:
            raise ValidationFailed(_("缴款时间不能早于处罚决定时间。"), field="paid_at")
        penalty.state, penalty.paid_at, penalty.payment_reference = PaymentState.PAID, paid_at, reference.strip()[:64]
        penalty.save(update_fields=["state", "paid_at", "payment_reference"])
    return penalty


def appeal_file(*, viewer: Viewer, penalty_id: int, reason: str) -> Appeal:
    """申诉 taken by staff on the party's behalf; an unpaid fine or a warning may be appealed once."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写申诉理由。"), field="reason")
    if len(reason) > MAX_TEXT:
        raise ValidationFailed(_("申诉理由不能超过 %(n)s 字。") % {"n": MAX_TEXT}, field="reason")
    with transaction.atomic():
        penalty = selectors.penalty_get(viewer=viewer, penalty_id=penalty_id)
        if not viewer.is_staff_member:
            raise PermissionDenied(_("申诉请到执法窗口由工作人员受理。"))
        if penalty.state not in (PaymentState.UNPAID, PaymentState.NONE):
            raise Conflict(_("该处罚当前为“%(s)s”，不能申诉。") % {"s": penalty.get_state_display()}, field="penalty")
        try:
            with transaction.atomic():
                return Appeal.objects.create(penalty=penalty, reason=reason, filed_by_id=viewer.user_id,
                                             filed_at=clock.now(), region_path=penalty.region_path)
        except IntegrityError:
            raise Conflict(_("该处罚已经申诉过。"), field="penalty") from None


def appeal_decide(*, viewer: Viewer, appeal_id: int, outcome: str, note: str) -> Appeal:
    """Uphold or overturn a penalty (维持/撤销) — by a leader or command-centre operator over its region,
    never by who imposed it (回避). Overturning waives the penalty; it stops counting as a repeat."""
    if outcome not in (AppealState.UPHELD, AppealState.OVERTURNED):
        raise ValidationFailed(_("处理结果须为维持(upheld)或撤销(overturned)。"), field="outcome")
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(_("请填写处理意见。"), field="note")
    with transaction.atomic():
        appeal = selectors.appeal_get(viewer=viewer, appeal_id=appeal_id)
        _staff_in(viewer, appeal.region_path, roles=frozenset({Role.LEADER, Role.OPERATOR}))
        appeal = Appeal.objects.select_for_update().select_related("penalty").get(pk=appeal.pk)
        if appeal.penalty.decided_by_id == viewer.user_id:
            raise PermissionDenied(_("作出处罚决定的人员不能处理对该处罚的申诉。"))
        if appeal.state != AppealState.PENDING:
            raise Conflict(_("该申诉已处理。"), field="appeal")
        appeal.state, appeal.note = outcome, note[:MAX_TEXT]
        appeal.decided_by_id, appeal.decided_at = viewer.user_id, clock.now()
        appeal.save(update_fields=["state", "note", "decided_by", "decided_at"])
        if outcome == AppealState.OVERTURNED:
            Penalty.objects.filter(pk=appeal.penalty_id).update(state=PaymentState.WAIVED)
            appeal.penalty.state = PaymentState.WAIVED
    return appeal
