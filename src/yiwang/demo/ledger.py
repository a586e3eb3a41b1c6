"""Demo research topics and rectification ledgers for an already-loaded demo, written through the
services (ledger.services, and the case engine for every item).

What the 2019 report counts: 新区、新城、街镇三级领导班子确定调研课题827个，开展调研2500余次; and 两批共65个
软弱涣散基层党组织整顿对象, 逐一建立问题清单和整改台账 — the first batch has passed acceptance, the second
has entered it. Reproducible from ``rng``; every timestamp lies before the clock's now.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create
from yiwang.core import clock
from yiwang.ledger import selectors, services
from yiwang.ledger.models import Field
from yiwang.org.models import Level, Region, Role, Staff, Unit, UnitKind
from yiwang.org.selectors import Viewer, viewer_for

TOPICS = 827
WEAK_ORGANISATIONS = 65
FIRST_BATCH = 33

MATTERS = (
    {"code": "RECT_GRASSROOTS", "name": "基层党组织整改", "time_limit": 30},
    {"code": "RECT_RESEARCH", "name": "调研发现问题整改", "time_limit": 30},
)

TITLES = {
    Field.URBAN: ("{p}停车管理职能空白问题研究", "{p}老旧小区改造推进情况调研", "{p}道路网建设与群众出行调研",
                  "{p}城市管理真空和职能交叉问题调研", "{p}市容环境卫生长效管理调研"),
    Field.ECONOMY: ("{p}稳增长与重点项目落地调研", "{p}营商环境优化调研", "{p}民营企业融资难问题调研",
                    "{p}招商引资项目履约情况调研"),
    Field.INDUSTRY: ("{p}临空产业集聚发展调研", "{p}现代农业与村集体经济调研", "{p}文旅产业融合发展调研",
                     "{p}产业园区配套服务调研"),
    Field.REFORM: ("{p}“三服四化”便民服务改革调研", "{p}综合执法指挥中心体制改革调研", "{p}“互联网+政务服务”推进调研",
                   "{p}托管代管社会事务后管理体制调研"),
    Field.PARTY: ("{p}软弱涣散基层党组织整顿调研", "{p}特色党小组建设调研", "{p}农村党员队伍建设调研",
                  "{p}“不忘初心、牢记使命”主题教育落实调研"),
    Field.LIVELIHOOD: ("{p}学校周边交通拥堵问题调研", "{p}城乡居民医保报销便利化调研", "{p}农村饮水安全调研",
                       "{p}独居老人关爱服务调研", "{p}群众办事“跑多次”问题调研"),
}
FIELD_WEIGHTS = {Field.URBAN: 18, Field.ECONOMY: 14, Field.INDUSTRY: 12, Field.REFORM: 14, Field.PARTY: 20,
                 Field.LIVELIHOOD: 22}
PROBLEMS = {
    Field.URBAN: ("人口密集地段乱停车现象突出，高峰时段拥堵", "部分区域管理职能交叉，出现问题相互推诿"),
    Field.ECONOMY: ("重点项目前期手续办理周期长", "企业反映审批环节多、材料重复提交"),
    Field.INDUSTRY: ("产业链条短，配套企业少", "村集体经济收入来源单一"),
    Field.REFORM: ("便民服务站可办事项少，群众仍需往返街镇", "执法力量分散，指挥调度不畅"),
    Field.PARTY: ("部分党支部组织生活不规范，“三会一课”落实不到位", "党员队伍老化，发展党员后继乏人"),
    Field.LIVELIHOOD: ("群众反映强烈的民生难题解决不及时", "老年人办事不便，线上渠道使用率低"),
}
CRUX = ("职责边界不清，缺少统筹协调机制", "基层力量薄弱，专业人员不足", "制度不健全，考核激励不到位",
        "信息不共享，部门之间各自为政")
PLANS = ("明确职能分工，建立联席会议制度，限期整改", "下沉服务事项，推行“就近办”“一次办”",
         "建立问题清单和整改台账，定期督办销号", "完善长效机制，纳入年度目标考核")
PEOPLE = ("村(社区)两委班子", "群众代表", "企业负责人", "网格员", "党员代表", "窗口工作人员", "学校负责人", "老党员")
FINDINGS = ("群众反映办事需往返多次", "现场发现道路两侧乱停车严重", "村级活动场所利用率不高",
            "部分党员长期不参加组织生活", "企业反映用工难", "便民服务站人员不足", "老旧小区管网老化",
            "村集体经济项目效益不明显")
WEAK_PROBLEMS = (
    ("班子软弱涣散，凝聚力战斗力不强", "调整充实支部班子，选优配强带头人"),
    ("“三会一课”等组织生活制度落实不到位", "建立组织生活台账，每月召开支委会、党员大会"),
    ("党员发展工作停滞，党员队伍老化", "制定发展党员计划，培养入党积极分子"),
    ("村级活动场所设施简陋，作用发挥不充分", "改造提升党群服务中心，规范阵地建设"),
    ("村务公开不及时、不规范", "建立村务公开栏，按季度公开财务收支"),
    ("服务群众意识不强，群众满意度低", "开展党员联系户活动，落实一对一帮扶"),
)


def _ensure_matters() -> None:
    for fields in MATTERS:
        if not Matter.objects.filter(code=fields["code"]).exists():
            matter_create(kind="rectification", handling_levels=["community", "town", "city"],
                          responsible_unit_kind=UnitKind.OFFICE, time_unit="workdays",
                          resident_can_apply=False, **fields)  # opened from a ledger by staff, never applied for


def _at(day: dt.date, rng: random.Random, first_hour: int = 9, last_hour: int = 17) -> dt.datetime:
    minute = rng.randint(first_hour * 60, last_hour * 60)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(minute // 60, minute % 60)))


class _Seeder:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = clock.now()
        self.today = timezone.localdate(self.now)
        self.viewers: dict[str, Viewer] = {}
        self.staff: dict[int, list[tuple[str, str]]] = {}
        for unit_id, role, username in Staff.objects.values_list("unit_id", "role", "user__username").order_by("id"):
            self.staff.setdefault(unit_id, []).append((role, username))
        self.made: Counter = Counter()

    def viewer(self, username: str) -> Viewer:
        if username not in self.viewers:
            from django.contrib.auth import get_user_model

            self.viewers[username] = viewer_for(get_user_model().objects.get(username=username))
        return self.viewers[username]

    def person(self, unit: Unit, *roles: str) -> str | None:
        for role, username in self.staff.get(unit.pk, []):
            if role in roles:
                return username
        return None

    def act(self, case: Case, who: str, action: str, at: dt.datetime, **inputs) -> Case:
        with clock.frozen_at(at):
            case = case_act(viewer=self.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)
        return case

    # research topics

    def topics(self) -> None:
        offices = list(Unit.objects.filter(kind=UnitKind.OFFICE, region__level__in=[Level.AREA, Level.CITY, Level.TOWN])
                       .select_related("region").order_by("region_path"))
        led = [(u, self.person(u, Role.LEADER)) for u in offices]
        led = [(u, leader) for u, leader in led if leader]
        if not led:
            return
        # More topics at the levels with more leading cadres: a 新区 office sets fewer than all towns together.
        weights = [{Level.AREA: 6, Level.CITY: 5, Level.TOWN: 3}[u.region.level] for u, _l in led]
        fields, field_weights = list(FIELD_WEIGHTS), list(FIELD_WEIGHTS.values())
        start = self.today - dt.timedelta(days=150)
        communities: dict[str, list[str]] = {}
        for path, name in Region.objects.filter(level=Level.COMMUNITY).values_list("path", "name"):
            communities.setdefault(path.rsplit("/", 2)[0] + "/", []).append(name)
        self.opened = 0
        for _n in range(TOPICS):
            unit, leader = self.rng.choices(led, weights)[0]
            field = self.rng.choices(fields, field_weights)[0]
            places = [name for path, names in communities.items() if path.startswith(unit.region_path)
                      for name in names] or [unit.region.name]
            # A topic names its leading body's own area, or one village or community it looks into.
            place = unit.region.name if self.rng.random() < 0.5 else self.rng.choice(places)
            created = _at(start + dt.timedelta(days=self.rng.randint(0, 40)), self.rng)
            with clock.frozen_at(created):
                topic = services.topic_create(
                    viewer=self.viewer(leader), unit_code=unit.code, field=field,
                    title=self.rng.choice(TITLES[field]).format(p=place),
                    problem=self.rng.choice(PROBLEMS[field]), crux=self.rng.choice(CRUX), plan=self.rng.choice(PLANS))
            self.made["topics"] += 1
            day = timezone.localdate(created)
            for _v in range(self.rng.choices((1, 2, 3, 4, 5), (10, 22, 35, 20, 13))[0]):
                day = min(self.today - dt.timedelta(days=1), day + dt.timedelta(days=self.rng.randint(1, 25)))
                with clock.frozen_at(_at(day, self.rng, 18, 20)):
                    visit = services.visit_log(
                        viewer=self.viewer(leader), topic_id=topic.pk, visited_on=day, place=self.rng.choice(places),
                        people_met="、".join(self.rng.sample(PEOPLE, 2)), findings=self.rng.choice(FINDINGS))
                self.made["visits"] += 1
                if self.opened < 24 and unit.region.level == Level.TOWN and self.rng.random() < 0.05:
                    self.finding_item(unit, leader, visit, day)

    def finding_item(self, office: Unit, leader: str, visit, day: dt.date) -> None:
        """立行立改 what a town leader found on a visit: the town's enforcement or sanitation unit acts."""
        units = [u for u in Unit.objects.filter(region_id=office.region_id, kind__in=[UnitKind.ENFORCEMENT,
                                                                                      UnitKind.SANITATION])]
        if not units:
            return
        unit = self.rng.choice(units)
        immediate = self.rng.random() < 0.6
        at = _at(day, self.rng, 18, 20) + dt.timedelta(minutes=30)
        with clock.frozen_at(at):
            item = services.visit_item_open(
                viewer=self.viewer(leader), visit_id=visit.pk, problem=visit.findings,
                measures=self.rng.choice(PLANS), unit_code=unit.code, immediate=immediate,
                due_at=day + dt.timedelta(days=15 if immediate else 90), matter_code="RECT_RESEARCH")
        self.opened += 1
        self.made["finding_items"] += 1
        worker = self.person(unit, Role.HANDLER)
        if worker is None:
            return
        case = item.case
        t = at + dt.timedelta(days=1)
        for action, inputs in (("start", {}), ("report_progress", {"comment": "已组织人员现场整治"}),
                               ("submit_acceptance", {"result": "已整改到位，附现场照片"})):
            if t >= self.now or self.rng.random() < 0.15:
                return
            case = self.act(case, worker, action, t, **inputs)
            t += dt.timedelta(days=self.rng.randint(1, 6))
        if t < self.now:
            self.act(case, leader, "approve", t)

    # the two batches of weak grassroots party organisations

    def batches(self) -> None:
        area_office = Unit.objects.filter(kind=UnitKind.OFFICE, region__level=Level.AREA).select_related("region").first()
        chief = self.person(area_office, Role.LEADER) if area_office else None
        if chief is None:
            return
        targets = self.targets()[:WEAK_ORGANISATIONS]
        first, second = targets[:FIRST_BATCH], targets[FIRST_BATCH:]
        plans = [("软弱涣散基层党组织整顿（第一批）", first, 300, True), ("软弱涣散基层党组织整顿（第二批）", second, 100, False)]
        for title, group, days_ago, done in plans:
            opened = _at(self.today - dt.timedelta(days=days_ago), self.rng)
            with clock.frozen_at(opened):
                batch = services.batch_create(viewer=self.viewer(chief), title=title,
                                              region_code=area_office.region.code,
                                              supervisor_unit_code=area_office.code, matter_code="RECT_GRASSROOTS",
                                              due_on=timezone.localdate(opened) + dt.timedelta(days=120))
            self.made["batches"] += 1
            last = opened
            for name, region, unit in group:
                last = max(last, self.organisation(batch, chief, name, region, unit, opened, done))
            if done and selectors.progress_of(list(batch.items.select_related("case"))).all_accepted:
                when = min(self.now - dt.timedelta(days=1), last + dt.timedelta(days=7))
                with clock.frozen_at(when):
                    services.batch_accept(viewer=self.viewer(chief), batch_id=batch.pk,
                                          note="第一批软弱涣散基层党组织整顿工作经逐项验收，全部达到整顿标准，验收通过。")

    def targets(self) -> list[tuple[str, Region, Unit]]:
        """The objects of rectification: village branches first, then community and non-public
        enterprises' party organisations, each with the unit that answers for it."""
        out = []
        for branch in Unit.objects.filter(kind=UnitKind.PARTY_BRANCH).select_related("region").order_by("region_path"):
            out.append((branch.name, branch.region, branch))
        towns = {u.region_id: u for u in Unit.objects.filter(kind=UnitKind.OFFICE, region__level=Level.TOWN)}
        for community in Region.objects.filter(level=Level.COMMUNITY, name__endswith="社区").order_by("path"):
            office = towns.get(community.parent_id)
            if office is not None:
                out.append((f"{community.name}党委", community, office))
        for office in sorted(towns.values(), key=lambda u: u.region_path):
            out.append((f"{office.region.name}非公企业联合党支部", office.region, office))
        self.rng.shuffle(out)
        return out

    def organisation(self, batch, chief: str, name: str, region: Region, unit: Unit, opened: dt.datetime,
                     done: bool) -> dt.datetime:
        at = opened + dt.timedelta(days=self.rng.randint(2, 10), minutes=self.rng.randint(0, 300))
        with clock.frozen_at(at):
            plist = services.problem_list_create(viewer=self.viewer(chief), batch_id=batch.pk,
                                                 title=f"{name}问题清单", region_code=region.code)
        self.made["problem_lists"] += 1
        worker = self.person(unit, Role.SECRETARY, Role.LEADER, Role.HANDLER)
        last = at
        for problem, measures in self.rng.sample(WEAK_PROBLEMS, self.rng.randint(2, 4)):
            immediate = self.rng.random() < 0.4
            at += dt.timedelta(minutes=self.rng.randint(5, 30))
            with clock.frozen_at(at):
                item = services.item_create(
                    viewer=self.viewer(chief), problem_list_id=plist.pk, problem=problem, measures=measures,
                    unit_code=unit.code, immediate=immediate, assignee_username=worker,
                    due_at=timezone.localdate(at) + dt.timedelta(days=self.rng.randint(14, 28) if immediate
                                                                 else self.rng.randint(60, 110)))
            self.made["items"] += 1
            if worker:
                last = max(last, self.work(item.case, worker, chief, at, done))
        return last

    def work(self, case: Case, worker: str, chief: str, at: dt.datetime, done: bool) -> dt.datetime:
        """整改 → 报告进展 → 提交验收 → (退回) → 验收, as far as the batch has got by now."""
        t = at + dt.timedelta(days=self.rng.randint(1, 5))
        case = self.act(case, worker, "start", t)
        for _ in range(self.rng.randint(1, 2)):
            t += dt.timedelta(days=self.rng.randint(5, 20))
            if t >= self.now:
                return t
            case = self.act(case, worker, "report_progress", t, comment=self.rng.choice(
                ("已召开支委会专题研究整改", "已完成班子调整", "已建立组织生活台账", "已开展党员集中学习")))
        if not done and self.rng.random() < 0.2:
            return t  # still at work: the second batch is not yet all in acceptance
        t += dt.timedelta(days=self.rng.randint(3, 15))
        if t >= self.now:
            return t
        case = self.act(case, worker, "submit_acceptance", t, result="已按整改措施逐项整改到位，佐证材料齐全")
        if self.rng.random() < 0.15:
            t += dt.timedelta(days=self.rng.randint(2, 6))
            if t >= self.now:
                return t
            case = self.act(case, chief, "send_back", t, comment="佐证材料不全，请补充会议记录")
            t += dt.timedelta(days=self.rng.randint(3, 8))
            if t >= self.now:
                return t
            case = self.act(case, worker, "submit_acceptance", t, result="已补充会议记录和照片")
        if not done and self.rng.random() < 0.6:
            return t  # 第二批已经进入验收阶段: many items wait for the acceptance team
        t += dt.timedelta(days=self.rng.randint(3, 10))
        if t >= self.now:
            return t
        self.act(case, chief, "approve", t)
        return t


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add the research topics, their visits and the two rectification batches; return the counts."""
    _ensure_matters()
    seeder = _Seeder(rng)
    seeder.topics()
    seeder.batches()
    made = dict(seeder.made)
    log(f"  ledger: {made.get('topics', 0)} research topics, {made.get('visits', 0)} visits "
        f"({made.get('finding_items', 0)} findings opened items), {made.get('batches', 0)} batches of "
        f"{made.get('problem_lists', 0)} problem lists with {made.get('items', 0)} rectification items")
    return made
