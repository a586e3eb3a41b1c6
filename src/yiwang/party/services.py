"""Every write to party records: members, the branch's groups, assistance pairs and their steps.

One function per action, one transaction each. An assistance pair's steps go through the case engine
(cases.services.case_act on the pair's case of kind ``assistance``), so its timeline is the record of
every visit, measure and income; the rows written here (a measure, an income record) are written in
the same transaction as the event they belong to and carry its sequence number.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from yiwang.cases.attachments import PHOTOS, attachment_store, sniff_upload
from yiwang.cases.models import Case, Channel, Kind
from yiwang.cases.selectors import capacity
from yiwang.cases.services import case_act, case_create
from yiwang.cases.workflows import workflow
from yiwang.catalog.selectors import matter_info
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.grid import selectors as grid_selectors
from yiwang.org.models import Resident, Unit, UnitKind
from yiwang.org.selectors import Viewer, hierarchy
from yiwang.party import selectors
from yiwang.party.models import (
    AssistancePair,
    Gender,
    GroupKind,
    GroupMembership,
    IncomeRecord,
    IncomeSource,
    Measure,
    MeasureKind,
    PartyGroup,
    PartyMember,
)

ASSISTANCE_MATTER = "ASSIST_POVERTY"
# 申办低保 opens this application for the household (the demo's catalogue has it; tests make one).
SUBSISTENCE_MATTER = "SUBSISTENCE"
MAX_TAGS = 12
MAX_TAG = 20
MAX_TEXT = 2000
MAX_GROUPS = 30
MAX_AMOUNT = Decimal("10000000")
PHONE_RE = re.compile(r"^1\d{10}$")


def _stored(fn, *args):
    """Text written into a record is in the site's language, whoever's request wrote it."""
    with translation.override(settings.LANGUAGE_CODE):
        return fn(*args)


def _require_manager(viewer: Viewer, branch: Unit) -> None:
    if not selectors.may_manage(viewer, branch):
        raise PermissionDenied(_("只有%(branch)s的党支部书记或辖区领导可以进行此操作。") % {"branch": branch.name})


# --- members ---------------------------------------------------------------------------------


def _clean_tags(raw) -> list[str]:
    if isinstance(raw, str):
        raw = re.split(r"[,，、;；\s]+", raw)
    if not isinstance(raw, list | tuple) or any(not isinstance(t, str) for t in raw):
        raise ValidationFailed(_("从业经历须为标签列表。"), field="experience")
    tags = list(dict.fromkeys(t.strip() for t in raw if t and t.strip()))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        raise ValidationFailed(_("从业经历最多 %(n)s 个标签，每个不超过 %(m)s 个字。") % {"n": MAX_TAGS, "m": MAX_TAG},
                               field="experience")
    return tags


def _clean_member(*, name: str, gender: str, birth_date, joined_on, occupation: str, phone: str) -> dict:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 50:
        errors["name"] = [_("请填写姓名(不超过 50 个字)。")]
    if gender not in Gender.values:
        errors["gender"] = [_("性别须为 male(男)或 female(女)。")]
    today = clock.today()
    if not isinstance(birth_date, dt.date) or not (today.replace(year=today.year - 120) < birth_date
                                                   <= today.replace(year=today.year - 18)):
        errors["birth_date"] = [_("出生日期无效：党员须年满 18 周岁。")]
    if joined_on is not None and (not isinstance(joined_on, dt.date) or joined_on > today
                                  or (isinstance(birth_date, dt.date) and joined_on < birth_date)):
        errors["joined_on"] = [_("入党日期须在出生之后、今天之前。")]
    phone = (phone or "").strip()
    if phone and not PHONE_RE.match(phone):
        errors["phone"] = [_("手机号须为 11 位数字。")]
    occupation = (occupation or "").strip()
    if len(occupation) > 100:
        errors["occupation"] = [_("职业不超过 100 个字。")]
    if errors:
        raise ValidationFailed(_("党员信息有误，请按提示修改。"), errors=errors)
    return {"name": name, "gender": gender, "birth_date": birth_date, "joined_on": joined_on,
            "occupation": occupation, "phone": phone}


@transaction.atomic
def member_create(
    *, viewer: Viewer, branch: Unit, name: str, gender: str, birth_date: dt.date, joined_on: dt.date | None = None,
    occupation: str = "", experience=(), phone: str = "", user=None, resident: Resident | None = None,
) -> PartyMember:
    """Enter a member in the branch's register (花名册)."""
    _require_manager(viewer, branch)
    if branch.kind != UnitKind.PARTY_BRANCH:
        raise ValidationFailed(_("%(unit)s 不是党支部。") % {"unit": branch.name}, field="branch")
    fields = _clean_member(name=name, gender=gender, birth_date=birth_date, joined_on=joined_on,
                           occupation=occupation, phone=phone)
    return PartyMember.objects.create(branch=branch, region_path=branch.region_path, experience=_clean_tags(experience),
                                      user=user, resident=resident, **fields)


@transaction.atomic
def member_update(*, viewer: Viewer, member: PartyMember, **changes) -> PartyMember:
    """Change a member's record (None leaves a field as it is)."""
    _require_manager(viewer, member.branch)
    allowed = {"name", "gender", "birth_date", "joined_on", "occupation", "experience", "phone"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationFailed(_("不能修改这些字段：%(f)s。") % {"f": ", ".join(sorted(unknown))}, field=sorted(unknown)[0])
    current = {k: getattr(member, k) for k in allowed - {"experience"}}
    current.update({k: v for k, v in changes.items() if v is not None and k != "experience"})
    fields = _clean_member(**current)
    if changes.get("experience") is not None:
        fields["experience"] = _clean_tags(changes["experience"])
    for name, value in fields.items():
        setattr(member, name, value)
    member.save(update_fields=sorted(fields))
    return member


@transaction.atomic
def member_deactivate(*, viewer: Viewer, member: PartyMember) -> PartyMember:
    """Take a member off the active register (moved away, deceased); they leave their group.

    A member with an assistance pair still open must hand it over first: the household would be left
    without anyone responsible."""
    _require_manager(viewer, member.branch)
    if member.pairs.filter(case__closed_at__isnull=True).exists():
        raise IllegalTransition(_("该党员仍有未结束的帮扶对子，请先转交或结束帮扶。"), field="member")
    GroupMembership.objects.filter(member=member).delete()
    member.active = False
    member.save(update_fields=["active"])
    return member


# --- groups ----------------------------------------------------------------------------------


def _clean_groups(branch: Unit, groups: list[dict]) -> list[dict]:
    """Every active member in exactly one group; names unique; kinds known; a leader from the group."""
    if not isinstance(groups, list) or not groups:
        raise ValidationFailed(_("至少需要一个党小组。"), field="groups")
    if len(groups) > MAX_GROUPS:
        raise ValidationFailed(_("党小组不能超过 %(n)s 个。") % {"n": MAX_GROUPS}, field="groups")
    active = set(PartyMember.objects.filter(branch=branch, active=True).values_list("id", flat=True))
    seen: dict[int, int] = {}
    names: set[str] = set()
    errors: dict[str, list[str]] = {}
    cleaned = []
    for index, group in enumerate(groups):
        where = f"groups.{index}"
        name = str(group.get("name") or "").strip()
        kind = group.get("kind") or GroupKind.CUSTOM
        members = group.get("members") or []
        leader = group.get("leader")
        if not name or len(name) > 50:
            errors.setdefault(f"{where}.name", []).append(_("请填写党小组名称(不超过 50 个字)。"))
        elif name in names:
            errors.setdefault(f"{where}.name", []).append(_("党小组名称“%(n)s”重复。") % {"n": name})
        names.add(name)
        if kind not in GroupKind.values:
            errors.setdefault(f"{where}.kind", []).append(_("未知的党小组类型 %(k)s。") % {"k": kind})
        if not isinstance(members, list) or any(isinstance(m, bool) or not isinstance(m, int) for m in members):
            errors.setdefault(f"{where}.members", []).append(_("成员须为党员编号列表。"))
            continue
        if not members:
            errors.setdefault(f"{where}.members", []).append(_("党小组“%(n)s”没有成员。") % {"n": name})
        for m in members:
            if m not in active:
                errors.setdefault(f"{where}.members", []).append(_("%(id)s 不是本支部的在册党员。") % {"id": m})
            elif m in seen:
                errors.setdefault(f"{where}.members", []).append(_("党员 %(id)s 被分到了两个党小组。") % {"id": m})
            seen[m] = index
        if leader is not None and leader not in members:
            errors.setdefault(f"{where}.leader", []).append(_("组长须是本小组的成员。"))
        cleaned.append({"name": name, "kind": kind, "members": members, "leader": leader})
    missing = sorted(active - set(seen))
    if missing:
        names_of = dict(PartyMember.objects.filter(pk__in=missing).values_list("id", "name"))
        errors.setdefault("groups", []).append(
            _("还有党员未分组：%(names)s。") % {"names": "、".join(names_of[i] for i in missing)})
    if errors:
        raise ValidationFailed(_("分组有误，请按提示修改。"), errors=errors)
    return cleaned


@transaction.atomic
def grouping_save(*, viewer: Viewer, branch: Unit, groups: list[dict]) -> list[PartyGroup]:
    """Replace the branch's groups with ``groups`` ([{name, kind, leader, members: [member ids]}]).

    The whole regrouping is saved or nothing is: a half-saved grouping would leave members in no group.
    """
    _require_manager(viewer, branch)
    cleaned = _clean_groups(branch, groups)
    # Lock the branch's row: two secretaries saving at once must not interleave their groups.
    Unit.objects.select_for_update().filter(pk=branch.pk).first()
    PartyGroup.objects.filter(branch=branch).delete()
    now = clock.now()
    saved = []
    for position, group in enumerate(cleaned):
        row = PartyGroup.objects.create(branch=branch, region_path=branch.region_path, name=group["name"],
                                        kind=group["kind"], leader_id=group["leader"], position=position,
                                        created_at=now)
        GroupMembership.objects.bulk_create([
            GroupMembership(group=row, member_id=m, region_path=branch.region_path) for m in group["members"]
        ])
        saved.append(row)
    return saved


def proposal_as_groups(proposal: list[selectors.ProposedGroup]) -> list[dict]:
    """A proposal in the shape grouping_save takes (to save it unchanged)."""
    return [{"name": g.name, "kind": g.kind, "leader": g.leader_id, "members": [m.id for m in g.members]}
            for g in proposal]


# --- assistance pairs ------------------------------------------------------------------------


def _text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(message, field=field)
    if len(value) > MAX_TEXT:
        raise ValidationFailed(_("内容不能超过 %(n)s 个字。") % {"n": MAX_TEXT}, field=field)
    return value


@transaction.atomic
def pair_create(
    *, viewer: Viewer, branch: Unit, member_id: int, resident_id: int, needs: str,
    matter_code: str = ASSISTANCE_MATTER, household_id: int | None = None,
) -> AssistancePair:
    """Pair a member with a poor household: opens the pair's assistance case at the branch."""
    _require_manager(viewer, branch)
    needs = _text(needs, "needs", _("请填写帮扶需求。"))
    member = PartyMember.objects.filter(pk=member_id, branch=branch, active=True).first()
    if member is None:
        raise ValidationFailed(_("请选择本支部的一名在册党员。"), field="member")
    resident = Resident.objects.filter(pk=resident_id).first()
    if resident is None or not resident.region_path.startswith(branch.region_path):
        raise ValidationFailed(_("请选择本支部辖区内的居民。"), field="resident")
    if not resident.poverty:
        raise ValidationFailed(_("%(name)s 未登记为贫困户。") % {"name": resident.name}, field="resident")
    if AssistancePair.objects.filter(branch=branch, resident=resident, case__closed_at__isnull=True).exists():
        raise ValidationFailed(_("%(name)s 已有帮扶党员。") % {"name": resident.name}, field="resident")
    household = grid_selectors.household_of(resident, household_id)
    if matter_info(matter_code).kind != Kind.ASSISTANCE:
        raise ValidationFailed(_("事项 %(code)s 不是帮扶类事项。") % {"code": matter_code}, field="matter_code")
    region = hierarchy().regions[resident.region_id]
    case = case_create(
        viewer=viewer, matter_code=matter_code, region_code=region.code, unit_code=branch.code,
        title=_stored(lambda: _("党员%(member)s帮扶%(resident)s") % {"member": member.name, "resident": resident.name}),
        description=needs, applicant_name=resident.name, applicant_phone=resident.phone, channel=Channel.HALL,
        extra={"party_member": member.name, "member_id": member.id, "resident_id": resident.id},
    ).case
    return AssistancePair.objects.create(branch=branch, member=member, resident=resident, household=household,
                                         case=case, needs=needs, region_path=case.region_path, created_at=case.created_at)


def _pair_for_action(viewer: Viewer, pair_id: int) -> AssistancePair:
    pair = selectors.pair_get(viewer=viewer, pair_id=pair_id)
    # Lock the pair's case row: the rows written below must match the event the case engine appends.
    pair.case = Case.objects.select_for_update().get(pk=pair.case_id)
    return pair


def _act(viewer: Viewer, pair: AssistancePair, action: str, version: int, **inputs) -> Case:
    case = case_act(viewer=viewer, case_id=pair.case_id, action=action, version=version, **inputs)
    pair.case = case
    return case


@transaction.atomic
def pair_visit(
    *, viewer: Viewer, pair_id: int, version: int, comment: str, visited_on: dt.date | None = None,
    photo=None,
) -> AssistancePair:
    """走访: what was found and done at the household, with an optional photo."""
    pair = _pair_for_action(viewer, pair_id)
    comment = _text(comment, "comment", _("请填写走访情况。"))
    visited_on = visited_on or clock.today()
    if not isinstance(visited_on, dt.date) or visited_on > clock.today():
        raise ValidationFailed(_("走访日期不能晚于今天。"), field="visited_on")
    if visited_on < pair.created_at.date():
        raise ValidationFailed(_("走访日期不能早于结对日期。"), field="visited_on")
    extra: dict = {"visited_on": visited_on.isoformat()}
    if photo is not None:
        content_type, ext = sniff_upload(photo, allowed=PHOTOS, field="photo")
        extra["photos"] = [{"code": "photo", "name": _stored(_, "走访照片"),
                            **attachment_store(upload=photo, content_type=content_type, ext=ext)}]
    _act(viewer, pair, "log_visit", version, comment=comment, extra=extra)
    return pair


@transaction.atomic
def pair_measure_add(
    *, viewer: Viewer, pair_id: int, version: int, kind: str, description: str,
    household_size: int | None = None, monthly_income: Decimal | float | None = None,
    materials: list[str] | None = None, application_matter: str = SUBSISTENCE_MATTER,
) -> Measure:
    """落实帮扶措施. 申办低保 also opens the application for the household's resident, filed by the
    secretary on their behalf at the hall (代办), and links it to the measure."""
    pair = _pair_for_action(viewer, pair_id)
    if kind not in MeasureKind.values:
        raise ValidationFailed(_("未知的帮扶措施 %(k)s。") % {"k": kind}, field="kind")
    description = _text(description, "description", _("请填写措施内容。"))
    label = _stored(lambda: str(MeasureKind(kind).label))
    extra: dict = {"measure": kind}
    application = None
    if kind == MeasureKind.SUBSISTENCE:
        # Check the viewer may take the step before opening anything in the household's name.
        act = workflow(Kind.ASSISTANCE).actions["add_measure"]
        if capacity(viewer, pair.case, act) is None:
            raise PermissionDenied(_("您无权为该帮扶对子落实措施。"))
        if pair.case.state not in act.sources:
            raise IllegalTransition(_("帮扶已不在进行中，不能再落实措施。"), field="action")
        if Measure.objects.filter(pair=pair, kind=MeasureKind.SUBSISTENCE, application__closed_at__isnull=True).exists():
            raise ValidationFailed(_("该户的低保申请仍在办理中。"), field="kind")
        application = _open_subsistence(viewer, pair, application_matter, description, household_size,
                                        monthly_income, materials)
        extra["application"] = application.number
    case = _act(viewer, pair, "add_measure", version, comment=f"{label}：{description}", extra=extra)
    return Measure.objects.create(pair=pair, kind=kind, description=description, application=application,
                                  event_seq=case.event_count, taken_at=clock.now(), region_path=pair.region_path)


def _open_subsistence(viewer: Viewer, pair: AssistancePair, matter_code: str, description: str,
                      household_size, monthly_income, materials) -> Case:
    if matter_info(matter_code).kind != Kind.APPLICATION:
        raise ValidationFailed(_("事项 %(code)s 不是申请类事项。") % {"code": matter_code}, field="application_matter")
    form: dict = {}
    if household_size is not None:
        form["household_size"] = household_size
    if monthly_income is not None:
        try:
            form["monthly_income"] = float(monthly_income)
        except (TypeError, ValueError):
            raise ValidationFailed(_("家庭月收入须为数字。"), field="monthly_income") from None
    codes = materials or []
    if not isinstance(codes, list) or any(not isinstance(c, str) for c in codes):
        raise ValidationFailed(_("材料须为材料代码列表。"), field="materials")
    resident = pair.resident
    return case_create(
        viewer=viewer, matter_code=matter_code, applicant=resident, channel=Channel.HALL,
        region_code=hierarchy().regions[resident.region_id].code, description=description,
        # Listed as collected, not attested: only a window clerk at a hall may attest originals.
        form=form, materials=[{"code": c} for c in dict.fromkeys(codes)],
        extra={"assistance_case": pair.case.number, "on_behalf": True},
    ).case


def _clean_income(year, month, amount, source) -> tuple[int, int, Decimal]:
    errors: dict[str, list[str]] = {}
    today = clock.today()
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= today.year:
        errors["year"] = [_("年份须在 2000 到 %(y)s 之间。") % {"y": today.year}]
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        errors["month"] = [_("月份须在 1 到 12 之间。")]
    elif "year" not in errors and (year, month) > (today.year, today.month):
        errors["month"] = [_("不能记录将来月份的收入。")]
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        value = None
    if value is None or not value.is_finite() or not Decimal("0") <= value < MAX_AMOUNT:
        errors["amount"] = [_("金额须为 0 到 1000 万之间的数字(元)。")]
    if source not in IncomeSource.values:
        errors["source"] = [_("未知的收入来源 %(s)s。") % {"s": source}]
    if errors:
        raise ValidationFailed(_("收入记录有误，请按提示修改。"), errors=errors)
    return year, month, value


@transaction.atomic
def pair_income_record(
    *, viewer: Viewer, pair_id: int, version: int, year: int, month: int, amount, source: str, note: str = "",
) -> IncomeRecord:
    """记录收入: one month's income from one source, with its record_income event."""
    pair = _pair_for_action(viewer, pair_id)
    year, month, value = _clean_income(year, month, amount, source)
    note = (note or "").strip()[:200]
    if IncomeRecord.objects.filter(pair=pair, year=year, month=month, source=source).exists():
        raise ValidationFailed(_("%(y)s年%(m)s月的该项收入已经记录过。") % {"y": year, "m": month}, field="month")
    label = _stored(lambda: str(IncomeSource(source).label))
    comment = _stored(lambda: _("%(y)s年%(m)s月%(source)s %(amount)s 元") % {
        "y": year, "m": month, "source": label, "amount": value}) + (f"（{note}）" if note else "")
    case = _act(viewer, pair, "record_income", version, comment=comment,
                extra={"year": year, "month": month, "amount": str(value), "source": source})
    return IncomeRecord.objects.create(pair=pair, year=year, month=month, amount=value, source=source, note=note,
                                       event_seq=case.event_count, recorded_at=clock.now(),
                                       region_path=pair.region_path)


@transaction.atomic
def pair_declare_exit(*, viewer: Viewer, pair_id: int, version: int, comment: str) -> AssistancePair:
    """宣布脱贫: the household is out of poverty; monitoring (脱贫监测) starts. The last twelve months'
    recorded income goes on the event, so the judgement can be checked later against the ledger."""
    pair = _pair_for_action(viewer, pair_id)
    comment = _text(comment, "comment", _("请填写脱贫依据。"))
    if not pair.incomes.exists():
        raise ValidationFailed(_("尚无收入记录，无法判断是否脱贫。请先记录收入。"), field="comment")
    income = selectors.income_last_twelve_months(pair=pair)
    _act(viewer, pair, "declare_exit", version, comment=comment, extra={"income_12_months": str(income)})
    return pair


@transaction.atomic
def pair_relapse(*, viewer: Viewer, pair_id: int, version: int, comment: str) -> AssistancePair:
    """返贫: monitoring found the household poor again; assistance resumes."""
    pair = _pair_for_action(viewer, pair_id)
    comment = _text(comment, "comment", _("请填写返贫原因。"))
    _act(viewer, pair, "relapse", version, comment=comment)
    return pair


@transaction.atomic
def pair_end_monitoring(*, viewer: Viewer, pair_id: int, version: int, result: str) -> AssistancePair:
    """结束监测: the pair ends. Monitoring means going back to look: at least one visit since 脱贫."""
    pair = _pair_for_action(viewer, pair_id)
    result = _text(result, "result", _("请填写监测结论。"))
    if pair.case.state == "monitoring" and selectors.visits_since_exit(pair=pair) == 0:
        raise ValidationFailed(_("脱贫后尚未回访，不能结束监测。请先记录一次走访。"), field="result")
    _act(viewer, pair, "end_monitoring", version, result=result)
    return pair

