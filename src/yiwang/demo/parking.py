"""Demo parking for an already-loaded demo: zones around schools, shopping streets and hospitals with
their tariffs, a week of entries and exits, and three months of 乱停车 with the patterns the report
describes (学校、商场附近, 交通高峰时段) run through the whole loop — camera, patrol or resident
report → case → dispatch → penalty → payment or appeal → verify and close. Everything is written
through parking.services and cases.services, walking the one clock; reproducible from ``rng``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

from django.db.models import Q

from yiwang.cases import routing
from yiwang.cases.models import Case
from yiwang.cases.services import case_act, register_and_dispatch
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create
from yiwang.core import clock
from yiwang.core.errors import DomainError
from yiwang.demo.incidents import close_incident
from yiwang.org.models import Level, Region, Role, Staff, UnitKind
from yiwang.org.selectors import Viewer, viewer_for
from yiwang.parking import services
from yiwang.parking.models import PenaltyRule, Zone
from yiwang.parking.plates import PROVINCES

HISTORY_DAYS = 60
SESSION_DAYS = 2
MAX_STAYS_A_DAY = 12
MAX_PARKED_NOW = 30
OPERATOR_NAME = "西咸新区停车运营管理有限公司"

# (community code, kind, name): the places where parking trouble gathers.
PLACES = (
    ("KG-DZ-XFL", "school", "幸福里小学"), ("KG-DZ-XFL", "mall", "幸福里商业街"),
    ("KG-DZ-CJC", "school", "程家村小学"), ("KG-BD-BDS", "school", "北杜中学"),
    ("KG-BD-BDS", "hospital", "空港新城北杜卫生院"), ("QH-WC-SPD", "school", "渭城第二小学"),
    ("QH-WC-SPD", "mall", "渭城购物广场"), ("QH-ZY-ZYS", "hospital", "秦汉新城正阳医院"),
    ("JH-JG-JHS", "school", "泾河新城第一中学"), ("JH-JG-JHS", "mall", "泾华商业街"),
    ("FD-WS-WSS", "hospital", "沣东新城王寺医院"), ("FD-SQ-SQS", "mall", "三桥商业广场"),
    ("FX-DW-KDH", "school", "沣西实验学校"),
)
STREET_BANDS = [
    {"name": "白天", "start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_price": "1.00"},
    {"name": "夜间", "start": "20:00", "end": "08:00", "unit_minutes": 60, "unit_price": "1.00", "cap": "5.00"},
]
LOT_BANDS = [
    {"name": "白天", "start": "07:00", "end": "22:00", "unit_minutes": 60, "unit_price": "2.00"},
    {"name": "夜间", "start": "22:00", "end": "07:00", "unit_minutes": 60, "unit_price": "1.00", "cap": "5.00"},
]
RULES = (
    dict(name="首次违停警告", decision="warning"),
    dict(name="再次违停罚款", decision="fine", amount="50", min_repeat=1),
    dict(name="屡次违停从重", decision="fine", amount="200", min_repeat=3),
    dict(name="学校周边违停", decision="fine", amount="100", place_kind="school"),
    dict(name="医院周边违停", decision="fine", amount="100", place_kind="hospital"),
    dict(name="路内泊位外违停", decision="fine", amount="50", zone_kind="on_street", min_repeat=1),
)
# When violations gather at each kind of place: (weekday hours, weekend hours, weekday rate, weekend rate).
PATTERNS = {
    "school": ((7, 7, 7, 8, 16, 17, 17), (), 1.4, 0.0),
    "mall": ((18, 19, 19, 20, 21), (11, 12, 14, 15, 16, 17, 18, 19, 20), 0.5, 1.4),
    "hospital": ((8, 8, 9, 9, 10, 11, 14), (9, 10), 0.8, 0.3),
}
NOTES = ("驾驶人不在现场，已张贴违停告知单", "占用人行道停放", "双排停放，影响通行", "占用公交站台停车")
APPEAL_REASONS = ("送病人就医临时停靠", "车辆故障等待救援", "告知单张贴时驾驶人已在车旁准备驶离")


class Demo:
    def __init__(self, rng: random.Random, log: Callable[[str], None]):
        self.rng = rng
        self.log = log
        self.now = clock.now()
        self.made: Counter = Counter()
        self.viewers: dict[str, Viewer] = {}
        self.admin = self._first(Q(is_superuser=True))

    # who acts

    def _first(self, q: Q) -> Viewer:
        from django.contrib.auth import get_user_model

        return self.viewer(get_user_model().objects.filter(q).order_by("id").first())

    def viewer(self, user) -> Viewer:
        if user.username not in self.viewers:
            self.viewers[user.username] = viewer_for(user)
        return self.viewers[user.username]

    def staff(self, unit_id: int, role: str) -> Viewer | None:
        row = Staff.objects.filter(unit_id=unit_id, role=role, user__is_active=True).select_related("user").first()
        return self.viewer(row.user) if row else None

    def unit_staff(self, region: Region, kind: str, role: str) -> Viewer | None:
        """Staff of the nearest unit of ``kind`` up ``region``'s chain."""
        while region is not None:
            row = (Staff.objects.filter(unit__region=region, unit__kind=kind, role=role, unit__active=True)
                   .select_related("user").order_by("id").first())
            if row:
                return self.viewer(row.user)
            region = region.parent
        return None

    # building

    def point_in(self, grid: Region, spread: float = 0.35) -> tuple[float, float]:
        ring = grid.boundary["coordinates"][0]
        lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
        clat, clng = (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2
        return (round(clat + self.rng.uniform(-spread, spread) * (max(lats) - min(lats)), 6),
                round(clng + self.rng.uniform(-spread, spread) * (max(lngs) - min(lngs)), 6))

    def near(self, lat: float, lng: float, metres: float) -> tuple[float, float]:
        d = metres / 111_320
        return round(lat + self.rng.uniform(-d, d), 6), round(lng + self.rng.uniform(-d, d), 6)

    def catalogue(self) -> None:
        if not Matter.objects.filter(code=services.PARKING_MATTER).exists():
            matter_create(code=services.PARKING_MATTER, name="乱停车", kind="incident", handling_levels=["city"],
                          responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.ENFORCEMENT,
                          time_limit=2, time_unit="workdays", keywords="乱停车 违停 占道停车 堵车")
        if not PenaltyRule.objects.exists():
            for rule in RULES:
                services.penalty_rule_create(viewer=self.admin, **rule)
                self.made["rules"] += 1

    def places(self) -> list[dict]:
        """Tag the places and open a zone beside each (a car park too beside malls and hospitals)."""
        out = []
        for community_code, kind, name in PLACES:
            grids = list(Region.objects.filter(level=Level.GRID, parent__code=community_code,
                                               boundary__isnull=False).order_by("code"))
            if not grids:
                continue
            grid = self.rng.choice(grids)
            lat, lng = self.point_in(grid)
            place = services.tagged_place_create(viewer=self.admin, name=name, kind=kind, lat=lat, lng=lng)
            self.made["places"] += 1
            zones = []
            n = Zone.objects.filter(code__startswith=community_code + "-P").count()
            street_lat, street_lng = self.near(lat, lng, 60)
            zones.append(services.zone_create(
                viewer=self.admin, code=f"{community_code}-P{n + 1}", name=f"{name}路内泊位", kind="on_street",
                region_code=grid.code, capacity=self.rng.choice((12, 16, 20, 24)), bands=STREET_BANDS,
                lat=street_lat, lng=street_lng, address=f"{name}门前道路两侧", operator=OPERATOR_NAME,
                free_minutes=15, daily_cap="30.00"))
            if kind in ("mall", "hospital"):
                lot_lat, lot_lng = self.near(lat, lng, 120)
                zones.append(services.zone_create(
                    viewer=self.admin, code=f"{community_code}-P{n + 2}", name=f"{name}停车场", kind="lot",
                    region_code=grid.code, capacity=self.rng.choice((80, 120, 200)), bands=LOT_BANDS, lat=lot_lat,
                    lng=lot_lng, address=f"{name}地面停车场", operator=OPERATOR_NAME, free_minutes=30,
                    daily_cap="20.00", spaces=20))
            self.made["zones"] += len(zones)
            out.append({"place": place, "grid": grid, "zones": zones})
        return out

    def plate(self, pool: list[str] | None = None) -> str:
        if pool and self.rng.random() < 0.35:
            return self.rng.choice(pool)  # the regulars: a few vehicles park badly again and again
        province = "陕" if self.rng.random() < 0.9 else self.rng.choice(PROVINCES)
        city = self.rng.choice("AADDEK") if province == "陕" else self.rng.choice("ABC")
        tail = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        if self.rng.random() < 0.2:  # new energy: 8 characters
            return f"{province}{city}{self.rng.choice('DF')}{tail[0]}{self.rng.randint(0, 9999):04d}"
        return f"{province}{city}{self.rng.randint(0, 9)}{tail}"

    def sessions(self, spots: list[dict]) -> None:
        """A week of entries and exits in every zone, and the vehicles parked there now."""
        for spot in spots:
            for zone in spot["zones"]:
                desk = self.admin
                for day in range(SESSION_DAYS, 0, -1):
                    for _ in range(self.rng.randint(MAX_STAYS_A_DAY // 3, min(zone.capacity, MAX_STAYS_A_DAY))):
                        hour = self.rng.choice((7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21))
                        entered = (self.now - dt.timedelta(days=day)).replace(
                            hour=hour, minute=self.rng.randint(0, 59), second=0, microsecond=0)
                        stay = dt.timedelta(minutes=int(self.rng.lognormvariate(4.3, 0.9)))  # median ≈ 74 min
                        exited = min(entered + stay, self.now - dt.timedelta(minutes=5))
                        if exited <= entered:
                            continue
                        try:
                            session = services.session_enter(viewer=desk, zone_code=zone.code, plate=self.plate(),
                                                             at=entered)
                            session = services.session_exit(viewer=desk, zone_code=zone.code, plate=session.plate,
                                                            at=exited)
                        except DomainError:  # a made-up plate that happens to be parked elsewhere now
                            continue
                        self.made["sessions"] += 1
                        self.made["fees_fen"] += int(session.fee * 100)
                for _ in range(min(int(zone.capacity * self.rng.uniform(0.4, 0.95)), MAX_PARKED_NOW)):
                    entered = self.now - dt.timedelta(minutes=self.rng.randint(5, 300))
                    try:
                        services.session_enter(viewer=desk, zone_code=zone.code, plate=self.plate(), at=entered)
                    except DomainError:
                        continue
                    self.made["parked_now"] += 1

    def violation_plan(self, spots: list[dict]) -> list[tuple[dt.datetime, float, float, dict]]:
        plan = []
        start = self.now - dt.timedelta(days=HISTORY_DAYS)
        for day in range(HISTORY_DAYS + 1):
            date = start + dt.timedelta(days=day)
            weekend = date.weekday() >= 5
            for spot in spots:
                weekday_hours, weekend_hours, weekday_rate, weekend_rate = PATTERNS[spot["place"].kind]
                hours, rate = (weekend_hours, weekend_rate) if weekend else (weekday_hours, weekday_rate)
                count = int(rate * self.rng.random() * 1.6) if hours else 0
                for _ in range(count):
                    moment = date.replace(hour=self.rng.choice(hours), minute=self.rng.randint(0, 59), second=0,
                                          microsecond=0)
                    lat, lng = self.near(spot["place"].lat, spot["place"].lng, 150)
                    plan.append((moment, lat, lng, spot))
                if self.rng.random() < 0.12:  # the odd one anywhere in the grid, at any daytime hour
                    moment = date.replace(hour=self.rng.randint(8, 22), minute=self.rng.randint(0, 59), second=0,
                                          microsecond=0)
                    lat, lng = self.point_in(spot["grid"], 0.45)
                    plan.append((moment, lat, lng, spot))
        return sorted((p for p in plan if p[0] < self.now - dt.timedelta(minutes=10)), key=lambda p: p[0])

    def violations(self, spots: list[dict]) -> None:
        residents = [self.viewer(u) for u in _resident_users()]
        regulars = [self.plate() for _ in range(25)]
        for moment, lat, lng, spot in self.violation_plan(spots):
            grid = spot["grid"]
            roll = self.rng.random()
            if roll < 0.5:
                source, who = "camera", self.unit_staff(grid, UnitKind.COMMAND_CENTRE, Role.OPERATOR)
            elif roll < 0.85 or not residents:
                source, who = "patrol", self.unit_staff(grid, UnitKind.ENFORCEMENT, Role.HANDLER)
            else:
                source, who = "report", self.rng.choice(residents)
            if who is None:
                continue
            with clock.frozen_at(moment):
                violation = services.violation_record(
                    viewer=who, plate=self.plate(regulars), lat=lat, lng=lng, source=source,
                    address=f"{spot['place'].name}附近", description=self.rng.choice(NOTES))
            self.made["violations"] += 1
            self.made[f"source_{source}"] += 1
            self.follow(violation, moment)

    def follow(self, violation, t: dt.datetime) -> None:
        """Run the case as far as the time allows: dispatch, penalty, payment or appeal, verify, close."""
        case = Case.objects.get(pk=violation.case_id)
        # The command centre that registered it (or holds it still): it dispatches, verifies and closes.
        operator = self.staff(case.supervisor_unit_id or case.holder_unit_id, Role.OPERATOR)
        if case.state == "reported" and operator is not None:
            t = self.step(t, 20, 120)
            if t is None:
                return
            with clock.frozen_at(t):
                suggestion = routing.case_dispatch_suggestion(case)
                if suggestion is None:
                    return
                case = register_and_dispatch(viewer=operator, case_id=case.pk, version=case.version,
                                             unit_code=suggestion.unit.code)
        if case.state != "dispatched":
            return
        enforcer = self.staff(case.holder_unit_id, Role.HANDLER)
        t = self.step(t, 40, 300)
        if t is None or enforcer is None:
            return
        with clock.frozen_at(t):
            penalty = services.penalty_decide(viewer=enforcer, violation_id=violation.pk,
                                              note=self.rng.choice(NOTES))
        self.made[f"penalty_{penalty.decision}"] += 1
        decided = t
        pending = False
        if self.rng.random() < 0.06:
            t_appeal = self.step(decided, 600, 3000)
            if t_appeal is not None:
                with clock.frozen_at(t_appeal):
                    appeal = services.appeal_file(viewer=enforcer, penalty_id=penalty.pk,
                                                  reason=self.rng.choice(APPEAL_REASONS))
                self.made["appeals"] += 1
                judge = self.unit_staff(violation.region, UnitKind.OFFICE, Role.LEADER) or self.admin
                t_judge = self.step(t_appeal, 1440, 4320)
                pending = t_judge is None
                if t_judge is not None:
                    overturn = self.rng.random() < 0.4
                    with clock.frozen_at(t_judge):
                        services.appeal_decide(viewer=judge, appeal_id=appeal.pk,
                                               outcome="overturned" if overturn else "upheld",
                                               note="经核实情况属实，撤销处罚" if overturn else "证据确凿，维持原处罚")
                    self.made["overturned" if overturn else "upheld"] += 1
                    penalty.refresh_from_db()
                    decided = t_judge
        if penalty.state == "unpaid" and not pending and self.rng.random() < 0.75:
            t_paid = self.step(decided, 60, 10 * 1440)
            if t_paid is not None:
                with clock.frozen_at(t_paid):
                    services.penalty_pay(viewer=enforcer, penalty_id=penalty.pk,
                                         reference=f"ZF{t_paid:%Y%m%d}{penalty.pk:06d}")
                self.made["paid"] += 1
        case.refresh_from_db()
        if operator is not None and case.state == "handled" and self.rng.random() < 0.85:
            t = self.step(t, 60, 1440)
            if t is None:
                return
            with clock.frozen_at(t):
                case = case_act(viewer=operator, case_id=case.pk, action="verify", version=case.version)
                close_incident(viewer=operator, case_id=case.pk)
            self.made["closed"] += 1

    def step(self, t: dt.datetime, low_minutes: int, high_minutes: int) -> dt.datetime | None:
        """A moment some minutes after ``t``, or None when it would lie in the future."""
        moment = t + dt.timedelta(minutes=self.rng.randint(low_minutes, high_minutes))
        return moment if moment < self.now else None


def _resident_users() -> list:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(resident__isnull=False, is_active=True).order_by("id"))


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add parking to the loaded demo; return how much of each was made."""
    demo = Demo(rng, log)
    demo.catalogue()
    spots = demo.places()
    demo.sessions(spots)
    demo.violations(spots)
    made = dict(demo.made)
    log(f"  parking: {made.get('zones', 0)} zones at {made.get('places', 0)} tagged places, "
        f"{made.get('sessions', 0)} past stays (¥{made.get('fees_fen', 0) / 100:.2f}), "
        f"{made.get('parked_now', 0)} vehicles parked now, {made.get('violations', 0)} violations, "
        f"{made.get('penalty_fine', 0)} fines, {made.get('penalty_warning', 0)} warnings, "
        f"{made.get('appeals', 0)} appeals")
    return made
