"""Demo party records for an already-loaded demo: 程家村's branch as the 2019 report tells it.

Its 35 members are split into four characteristic groups by age and working experience (致富之星,
服务之星, 青春之星 and a fourth); the secretary 张保权, of the 致富之星 group, is paired with the poor
household of 程濛濛, whose assistance runs as in the report — land transfer (土地流转), a 低保
application filed on his behalf, job information for his son — to 脱贫 and monitoring. Two more pairs
show an active one and one that has ended. Everything is written through the services, walking the one
clock forward, so timelines, hash chains and deadlines are what real use would have produced.

Called after yiwang.demo.loader has loaded regions, units, staff and residents; reproducible from ``rng``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create
from yiwang.core import clock
from yiwang.org.models import Resident, Role, Staff, Unit, UnitKind
from yiwang.org.selectors import Viewer, viewer_for
from yiwang.org.services import resident_create, resident_update
from yiwang.party import selectors, services
from yiwang.party.models import AssistancePair, GroupKind, MeasureKind, PartyMember

BRANCH_COMMUNITY = "CJC"  # 程家村
MEMBERS = 35
GROUPS = [("致富之星党小组", GroupKind.WEALTH), ("服务之星党小组", GroupKind.SERVICE),
          ("青春之星党小组", GroupKind.YOUTH), ("文明之星党小组", GroupKind.CUSTOM)]
SECRETARY = ("张保权", "1968-04-02", "家庭农场主", ["养殖", "经商", "村干部"])
OCCUPATIONS = {
    "养殖": "养殖户", "种植": "果蔬种植户", "务工": "进城务工", "经商": "个体经营", "电商": "电商从业者",
    "教师": "乡村教师", "医护": "村医", "退役军人": "退役军人", "村干部": "村组干部", "物流": "物流园区职工",
}
SURNAMES = "程程程程张王李刘高赵"
GIVEN = ("建军", "卫东", "秀兰", "保平", "玉兰", "永刚", "红", "小龙", "晓东", "桂英", "海涛", "敏", "文博", "婷",
         "长安", "振华", "丽", "国强", "燕", "宏伟")
ASSISTANCE = dict(code="ASSIST_POVERTY", name="一对一帮扶", kind="assistance", handling_levels=["community"],
                  responsible_unit_kind=UnitKind.PARTY_BRANCH, time_limit=0,
                  resident_can_apply=False)  # a branch pairs a member with a household: nobody applies
START_DAYS_AGO = 520  # 程濛濛's pair began about a year and a half ago


def _branch() -> Unit | None:
    rows = Unit.objects.filter(kind=UnitKind.PARTY_BRANCH, active=True).order_by("region_path")
    return rows.filter(region__code__endswith=f"-{BRANCH_COMMUNITY}").first() or rows.first()


def _secretary(branch: Unit) -> Viewer | None:
    staff = Staff.objects.filter(unit=branch, role=Role.SECRETARY).select_related("user").order_by("id").first()
    return viewer_for(staff.user) if staff else None


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _version(pair: AssistancePair) -> int:
    return Case.objects.values_list("version", flat=True).get(pk=pair.case_id)


def _months(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    """(year, month) from ``start``'s month up to the month before ``end``'s."""
    out, y, m = [], start.year, start.month
    while (y, m) < (end.year, end.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _after_month(year: int, month: int, day: int = 5) -> dt.date:
    return dt.date(year + 1, 1, day) if month == 12 else dt.date(year, month + 1, day)


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add 程家村's party members, groups and assistance pairs; return how much of each was made."""
    branch = _branch()
    secretary = _secretary(branch) if branch else None
    if branch is None or secretary is None:
        log("  party: no party branch with a secretary, nothing seeded")
        return {}
    if not Matter.objects.filter(code=ASSISTANCE["code"]).exists():
        matter_create(**ASSISTANCE)
    today = clock.today()
    start = today - dt.timedelta(days=START_DAYS_AGO)
    with clock.frozen_at(_at(start - dt.timedelta(days=30))):
        members = _members(rng, branch, secretary)
        proposal = selectors.grouping_proposal(viewer=secretary, branch=branch, n=len(GROUPS))
        # The secretary's own group is the 致富之星 group, which he leads (as in the report).
        proposal.sort(key=lambda g: members[0] not in g.members)
        groups = services.proposal_as_groups(proposal)
        for group, (name, kind) in zip(groups, GROUPS, strict=True):
            group["name"], group["kind"] = name, kind
        groups[0]["leader"] = members[0].id
        services.grouping_save(viewer=secretary, branch=branch, groups=groups)
    poor = _poor_households(rng, branch, start)
    made = {"members": len(members), "groups": len(groups), "pairs": 0, "incomes": 0, "visits": 0,
            "measures": 0, "applications": 0}
    stories = [
        (members[0], poor[0], start, "exited", "禁养区内家庭养鸡场关停，失去主要收入来源；儿子待业在家。"),
        (_pick(members, "务工", 1), poor[1], start + dt.timedelta(days=200), "ended", "老两口体弱多病，医疗支出大。"),
        (_pick(members, "种植", 2), poor[2], today - dt.timedelta(days=120), "active", "缺少劳动力，承包地撂荒。"),
    ]
    for member, resident, began, ending, needs in stories:
        _story(rng, made, branch, secretary, member, resident, began, ending, needs, today)
    log(f"  party: {made['members']} members of {branch.name} in {made['groups']} groups, {made['pairs']} "
        f"assistance pairs ({made['visits']} visits, {made['measures']} measures, {made['incomes']} income records)")
    return made


def _members(rng: random.Random, branch: Unit, secretary: Viewer) -> list[PartyMember]:
    today = clock.today()
    name, birth, occupation, tags = SECRETARY
    user_id = secretary.user_id
    from django.contrib.auth import get_user_model

    out = [services.member_create(viewer=secretary, branch=branch, name=name, gender="male",
                                  birth_date=dt.date.fromisoformat(birth), joined_on=dt.date(1995, 7, 1),
                                  occupation=occupation, experience=tags, user=get_user_model().objects.get(pk=user_id))]
    taken = {name}
    kinds = list(OCCUPATIONS)
    while len(out) < MEMBERS:
        full = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if full in taken:
            continue
        taken.add(full)
        # An ageing village branch: a third of its members are past sixty.
        years = rng.choice((rng.randint(23, 45), rng.randint(40, 60), rng.randint(60, 82)))
        born = today - dt.timedelta(days=years * 365 + rng.randint(0, 364))
        joined = born + dt.timedelta(days=rng.randint(20, max(21, years - 2)) * 365)
        tags = rng.sample(kinds, rng.choice((1, 1, 2, 2, 3)))
        female = full[-1] in "兰英红丽燕婷敏"
        out.append(services.member_create(
            viewer=secretary, branch=branch, name=full, gender="female" if female else "male", birth_date=born,
            joined_on=min(joined, today), occupation=OCCUPATIONS[tags[0]], experience=tags,
            phone=f"139{rng.randint(10_000_000, 99_999_999)}"))
    return out


def _pick(members: list[PartyMember], tag: str, skip: int) -> PartyMember:
    with_tag = [m for m in members[1:] if tag in m.experience]
    return with_tag[0] if with_tag else members[skip]


def _poor_households(rng: random.Random, branch: Unit, start: dt.date) -> list[Resident]:
    """程濛濛 (the report's), and two more households of the village flagged 贫困户."""
    with clock.frozen_at(_at(start - dt.timedelta(days=40))):
        cheng = Resident.objects.filter(name="程濛濛", region_path__startswith=branch.region_path).first()
        if cheng is None:
            cheng = resident_create(name="程濛濛", phone=f"137{rng.randint(10_000_000, 99_999_999)}",
                                    region=branch.region, birth_date=dt.date(1976, 9, 3),
                                    address=f"{branch.region.name}5组18号")
        others = list(Resident.objects.filter(region_path__startswith=branch.region_path, user__isnull=True,
                                              birth_date__lt=dt.date(1965, 1, 1))
                      .exclude(pk=cheng.pk).order_by("id")[:2])
        while len(others) < 2:
            others.append(resident_create(name=f"程{rng.choice(GIVEN)}", phone=f"137{rng.randint(10_000_000, 99_999_999)}",
                                          region=branch.region, birth_date=dt.date(1950 + len(others), 3, 1)))
        for resident in [cheng, *others]:
            resident_update(resident=resident, poverty=True)
    return [cheng, *others]


def _story(rng: random.Random, made: dict, branch: Unit, secretary: Viewer, member: PartyMember,
           resident: Resident, began: dt.date, ending: str, needs: str, today: dt.date) -> None:
    """One pair, its steps in time order: visits, measures, monthly income, 脱贫, monitoring."""
    with clock.frozen_at(_at(began, 9)):
        pair = services.pair_create(viewer=secretary, branch=branch, member_id=member.id, resident_id=resident.id,
                                    needs=needs)
    made["pairs"] += 1
    steps: list[tuple[dt.datetime, Callable[[], None]]] = []

    def step(day: dt.date, hour: int, fn: Callable[[], None]) -> None:
        if day < today:
            steps.append((_at(day, hour), fn))

    def visit(text: str) -> Callable[[], None]:
        def run():
            services.pair_visit(viewer=secretary, pair_id=pair.id, version=_version(pair), comment=text)
            made["visits"] += 1
        return run

    def measure(kind: str, text: str, **subsistence) -> Callable[[], None]:
        def run():
            done = services.pair_measure_add(viewer=secretary, pair_id=pair.id, version=_version(pair), kind=kind,
                                             description=text, **subsistence)
            made["measures"] += 1
            if done.application is not None:
                made["applications"] += 1
                _decide_application(done.application)
        return run

    def income(year: int, month: int, source: str, amount: Decimal) -> Callable[[], None]:
        def run():
            services.pair_income_record(viewer=secretary, pair_id=pair.id, version=_version(pair), year=year,
                                        month=month, amount=amount, source=source)
            made["incomes"] += 1
        return run

    def exit_(text: str) -> Callable[[], None]:
        return lambda: services.pair_declare_exit(viewer=secretary, pair_id=pair.id, version=_version(pair),
                                                  comment=text)

    def end(text: str) -> Callable[[], None]:
        return lambda: services.pair_end_monitoring(viewer=secretary, pair_id=pair.id, version=_version(pair),
                                                    result=text)

    d = began
    step(d + dt.timedelta(days=2), 15, visit("入户了解家庭收入、劳动力和住房情况，建立帮扶台账。"))
    exit_day = None
    if ending == "exited":
        step(d + dt.timedelta(days=9), 10, measure(MeasureKind.INDUSTRY, "传授蛋鸡养殖经验，帮助将鸡舍迁至村外规划养殖区。"))
        step(d + dt.timedelta(days=16), 10, measure(MeasureKind.LAND_TRANSFER, "协助将6亩承包地流转给果蔬专业合作社，租金按月结算。"))
        step(d + dt.timedelta(days=23), 10, measure(
            MeasureKind.SUBSISTENCE, "家庭人均收入低于当地低保标准，由党支部书记代为申办低保。",
            household_size=4, monthly_income=Decimal("1100"), materials=_required_materials()))
        step(d + dt.timedelta(days=37), 16, measure(MeasureKind.JOB_INFO, "青春之星党小组为其子提供空港物流园区务工信息，已上岗。"))
        exit_day = d + dt.timedelta(days=330)
        step(exit_day, 10, exit_("家庭人均纯收入连续稳定超过当年脱贫标准，经民主评议宣布脱贫。"))
    elif ending == "ended":
        step(d + dt.timedelta(days=8), 10, measure(MeasureKind.MEDICAL, "协助办理大病医疗救助和城乡居民医保报销。"))
        exit_day = d + dt.timedelta(days=210)
        step(exit_day, 10, exit_("医疗救助到位后家庭支出下降，收入稳定达标，宣布脱贫。"))
        step(exit_day + dt.timedelta(days=60), 15, visit("监测回访：收入稳定，无返贫风险。"))
        step(exit_day + dt.timedelta(days=90), 10, end("监测期满，稳定脱贫，帮扶结束。"))
    else:
        step(d + dt.timedelta(days=10), 10, measure(MeasureKind.LAND_TRANSFER, "联系种植大户流转撂荒承包地3亩。"))
    for k, day in enumerate(range(60, (today - d).days, 61)):
        when = d + dt.timedelta(days=day)
        if exit_day is None or when < exit_day or ending == "exited":
            after = exit_day is not None and when > exit_day
            step(when, 15, visit("脱贫监测回访：家庭收入稳定。" if after else
                                 rng.choice(("走访了解近期生产生活情况。", "送去春耕农资，了解用工需求。",
                                             "了解孩子上学和家人就医情况。")) + f"(第{k + 2}次)"))
    for year, month in _months(d, today):
        paid = _after_month(year, month)
        if ending == "ended" and paid >= exit_day + dt.timedelta(days=90):
            break  # the pair has ended: its ledger closes with it
        step(paid, 11, income(year, month, "land_transfer" if ending != "ended" else "farming",
                              Decimal(rng.randint(380, 520))))
        if ending == "exited" and (year, month) > (d.year, d.month):
            step(paid, 11, income(year, month, "wages", Decimal(rng.randint(2600, 3800))))
        if ending == "exited" and exit_day and _after_month(year, month) < exit_day and (year, month) > (d.year, d.month):
            step(paid, 11, income(year, month, "transfer", Decimal("620")))
        if ending == "ended" and exit_day and _after_month(year, month) >= exit_day - dt.timedelta(days=120):
            step(paid, 11, income(year, month, "transfer", Decimal(rng.randint(900, 1300))))
    for moment, fn in sorted(steps, key=lambda s: s[0]):
        with clock.frozen_at(moment):
            fn()


def _required_materials() -> list[str]:
    materials = Matter.objects.filter(code=services.SUBSISTENCE_MATTER).values_list("materials", flat=True).first() or []
    return [m["code"] for m in materials if m.get("required", True)]


def _decide_application(application: Case) -> None:
    """The civil-affairs handler accepts and approves the 低保 application a little later, if there is one."""
    staff = Staff.objects.filter(unit_id=application.holder_unit_id, role=Role.HANDLER).select_related("user").first()
    if staff is None:
        return
    handler = viewer_for(staff.user)
    moment = clock.now()
    for hours, action, inputs in [(2, "accept", {}), (26, "decide", {"decision": "approved"}),
                                  (27, "close", {"result": "经入户调查、民主评议和公示，准予享受农村低保。",
                                                 # 办结 says how the result reaches the applicant: as the
                                                 # demo's history does where a department holds it.
                                                 "delivery": {"method": "post", "tracking": f"SF{application.pk:010d}",
                                                              "carrier": "中国邮政EMS"}})]:
        with clock.frozen_at(moment + dt.timedelta(hours=hours)):
            version = Case.objects.values_list("version", flat=True).get(pk=application.pk)
            case_act(viewer=handler, case_id=application.pk, action=action, version=version, **inputs)
