"""Load the Xixian demo through the services, and wipe it again.

Everything is written by the services an administrator, a clerk or a resident would call:
region_create, unit_create, user_create, staff_grant, resident_create, matter_create, case_create,
case_act, evaluation_create. The history walks the one clock (yiwang.core.clock) forward case by
case, so every timestamp, deadline (in Chinese working days, computed by the services), timeline
hash and indicator is what a real year and a half of use would have produced; `yiwang verify`
must pass afterwards. A seeded random.Random makes the demo reproducible.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from yiwang.cases import routing, workdays
from yiwang.cases.models import Case, Channel, EscalationRule, Kind
from yiwang.cases.services import case_act, case_create
from yiwang.cases.tasks import sweep_deadlines
from yiwang.cases.workflows import CONFIRMATION_WORKING_DAYS, REOPEN_DAYS
from yiwang.catalog.selectors import matter_info
from yiwang.catalog.services import matter_create, search_synonyms_load
from yiwang.core import clock, confcache, idnumber
from yiwang.demo import data, guides
from yiwang.demo.incidents import REOPEN_COMMENTS, ask_reporter, close_incident, close_unanswered, reopen
from yiwang.feedback.models import BAD_REVIEW_MAX, RatingChannel
from yiwang.feedback.services import evaluation_create
from yiwang.messages import services as messages
from yiwang.org.district import district_set
from yiwang.org.models import Level, Region, Resident, Role, Unit, UnitKind
from yiwang.org.selectors import Viewer, hierarchy, viewer_for
from yiwang.org.services import (
    region_create,
    resident_create,
    staff_grant,
    token_create,
    unit_create,
    user_create,
)

HISTORY_DAYS = 548  # about eighteen months before now
PROGRESS_EVERY = 500

# The tables `wipe` keeps: the working-day calendar is seeded by a migration and edited by
# administrators, and the cache versions must keep rising so running processes notice the wipe.
KEPT_TABLES = {"cases_workday", "core_configversion", "django_migrations", "django_content_type",
               "auth_permission", "auth_group", "auth_group_permissions"}
CACHES = ("org.hierarchy", "catalog.matters", "catalog.routing", "org.district")


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    unit: str


@dataclass
class Place:
    """One community with everything the history needs about it."""

    city: data.City
    town: data.Town
    community: data.Community
    region: Region
    grids: list[Region]
    hall: Unit | None  # the community's 便民服务站, if it has one
    town_hall: Unit
    branch: Unit | None
    weight: int

    @property
    def prefix(self) -> str:
        return self.community.code.lower()

    @property
    def intake_hall(self) -> Unit:
        """Where a resident of this community walks in: the nearest 便民服务站/中心."""
        return self.hall or self.town_hall


@dataclass
class Loaded:
    regions: dict[str, Region] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    staff: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # username → [(role, unit code)]
    residents: list[Resident] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    cases: int = 0
    seconds: float = 0.0
    token: str = ""
    extras: dict = field(default_factory=dict)  # what each app's demo seed() made

    def logins(self, usernames: list[str] | None = None) -> list[Login]:
        role_labels = dict(Role.choices)
        out = []
        for username in usernames if usernames is not None else sorted(self.staff):
            if username == data.ADMIN_USERNAME:
                out.append(Login(username, "系统管理员(superuser)", "全部"))
            elif username in self.staff:
                role, unit_code = self.staff[username][0]
                out.append(Login(username, str(role_labels[role]), self.units[unit_code].name))
            elif username in self.users:
                out.append(Login(username, "居民", next((r.name for r in self.residents
                                                          if r.user_id == self.users[username].pk), "")))
        return out


# The accounts `yiwang demo` prints and docs/demo.md lists; every other account follows the pattern.
KEY_LOGINS = [
    "admin", "area_leader", "area_operator", "area_clerk", "area_fund", "area_medical",
    "kg_leader", "kg_operator", "kg_clerk", "kg_enforcer", "kg_civil", "kg_police",
    "dz_clerk", "dz_handler", "dz_enforcer", "dz_police", "dz_sanitation", "dz_leader",
    "xfl_clerk", "xfl_handler", "xfl_grid", "cjc_secretary",
    "qh_operator", "wc_handler", "spd_clerk", "spd_handler",
    "jh_operator", "jg_handler", "jg_police", "rnc_secretary", "rnc_grid",
    "fd_operator", "fx_operator",
    "resident_wang", "resident_li", "resident_cheng", "resident_gao", "resident_zhao", "resident_liu",
]


def mobile(rng: random.Random, taken: set[str]) -> str:
    """A mainland mobile number (1xx xxxx xxxx) not yet in ``taken``."""
    while True:
        phone = f"1{rng.choice('35789')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        if phone not in taken:
            taken.add(phone)
            return phone


def database_has_data() -> bool:
    return Region.objects.exists()


def wipe() -> None:
    """Empty every table the demo fills (as `flush` would), keeping the calendar and cache versions."""
    tables = [t for t in connection.introspection.django_table_names(only_existing=True, include_views=False)
              if t not in KEPT_TABLES]
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    if connection.vendor == "postgresql":
        # PostgreSQL refuses to TRUNCATE a table with deferred foreign-key checks still pending in the
        # transaction (rows written earlier in it): run those checks first, then defer again as Django does.
        statements = ["SET CONSTRAINTS ALL IMMEDIATE", *statements, "SET CONSTRAINTS ALL DEFERRED"]
    connection.ops.execute_sql_flush(statements)
    with transaction.atomic():
        for name in CACHES:
            confcache.bump(name)
    confcache.clear_all()


# Each app that keeps data of its own adds its demo rows after the case history, in the same
# transaction: a grid's basic data, patrol teams and their nights, ledgers, party groups, parking.
# The seeds live here, not in the apps, so no production app imports the demo.
APP_SEEDS = ("yiwang.demo.grid", "yiwang.demo.patrol", "yiwang.demo.party", "yiwang.demo.ledger",
             "yiwang.demo.parking", "yiwang.demo.open311", "yiwang.demo.replies",
             "yiwang.demo.command")  # last: it trains the dispatch model on every closed incident


def seed_name(module: str) -> str:
    """The app a seed module (yiwang.demo.<app>) is for. The name also seeds its random generator
    ("<seed>-<app>"), as it did when the seeds lived in the apps, so the demo data is unchanged."""
    return module.rsplit(".", 1)[-1]


def load(*, cases: int = 3000, seed: int = 2019, now: dt.datetime | None = None,
         log: Callable[[str], None] | None = None, apps: tuple[str, ...] | None = None) -> Loaded:
    """Load the whole demo into an empty database, in one transaction; return what was made.

    The history ends at ``now`` (default: the present). The clock is left unfrozen afterwards.
    """
    started = time.monotonic()
    log = log or (lambda message: None)
    now = now or clock.now()
    try:
        # The demo's past tells no one: its residents were not sent years of notices at once.
        with transaction.atomic(), messages.quiet():
            # Xixian is the demo's district, not the code's: its name, map and SMS signature are data.
            district_set(**data.DISTRICT)
            builder = Builder(seed=seed, now=now, log=log)
            loaded = builder.build()
            History(loaded, seed=seed, now=now, log=log).run(cases)
            clock.set_frozen(now)
            # Tests of the base demo, or of one app's seed, skip the other apps' (a full load is slow).
            for module in APP_SEEDS if apps is None else apps:
                name = seed_name(module)
                log(f"  {name} …")
                loaded.extras[name] = importlib.import_module(module).seed(random.Random(f"{seed}-{name}"), log)
            loaded.token = token_create(username=data.ADMIN_USERNAME, name="demo")
    finally:
        clock.set_frozen(None)
    confcache.clear_all()
    loaded.seconds = time.monotonic() - started
    return loaded


def routing_problems() -> list[str]:
    """Every matter must reach a unit of its responsible kind, never the fallback, from every community."""
    from yiwang.catalog.selectors import matter_cache

    h = hierarchy()
    problems = []
    communities = [r for r in h.regions.values() if r.level == Level.COMMUNITY]
    for info in matter_cache.get().by_code.values():
        if info.kind in ("rectification", "assistance"):
            continue  # given to a named unit by staff (a ledger, a party branch), never routed
        for region in communities:
            route = routing.route(info, region, h)
            if route.reason != "lowest_level" or route.unit.kind != info.responsible_unit_kind:
                problems.append(f"{info.code} from {region.name} goes to {route.unit.name} ({route.reason})")
    return problems


# --- regions, units, staff, residents, catalogue ---------------------------------------------


class Builder:
    def __init__(self, *, seed: int, now: dt.datetime, log: Callable[[str], None]):
        self.rng = random.Random(f"{seed}-org")
        self.now = now
        self.log = log
        self.out = Loaded()
        self.phones: set[str] = set()
        self.id_serial = 0

    def build(self) -> Loaded:
        clock.set_frozen(self.now - dt.timedelta(days=HISTORY_DAYS + 30))
        self._regions_and_units()
        self._residents()
        self._catalogue()
        # Incidents left overdue a day move up a level (超期自动上报); the final sweep applies it.
        EscalationRule.objects.create(name="事件超期24小时自动上报", kind=Kind.INCIDENT, after_hours=24)
        problems = routing_problems()
        if problems:
            raise RuntimeError("demo data routes wrongly: " + "; ".join(problems[:5]))
        # Hashing one password takes half a second (PBKDF2); hash the shared one once for everyone.
        get_user_model().objects.filter(pk__in=[u.pk for u in self.out.users.values()]).update(
            password=make_password(data.DEMO_PASSWORD)
        )
        self.log(f"  {len(self.out.regions)} regions, {len(self.out.units)} units, {len(self.out.users)} accounts, "
                 f"{len(self.out.residents)} residents, {len(data.APPLICATIONS) + len(data.CONSULTATIONS) + len(data.INCIDENTS)} matters")
        return self.out

    # regions and units

    def _region(self, code: str, name: str, level: str, parent: Region | None, lat: float, lng: float) -> Region:
        region = region_create(code=code, name=name, level=level, parent=parent, lat=round(lat, 5), lng=round(lng, 5))
        self.out.regions[code] = region
        return region

    def _grid(self, community: Region, i: int, count: int, lat: float, lng: float) -> Region:
        """Grid i of a community: squares of about 550 m side by side, centred on the community."""
        side = 0.005
        west = lng + (i - count / 2) * side
        ring = [[west, lat - side / 2], [west + side, lat - side / 2], [west + side, lat + side / 2],
                [west, lat + side / 2], [west, lat - side / 2]]
        boundary = {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}
        code = f"{community.code}-G{i + 1}"
        region = region_create(code=code, name=data.GRID_NAMES[i], level=Level.GRID, parent=community,
                               lat=round(lat, 5), lng=round(west + side / 2, 5), boundary=boundary)
        self.out.regions[code] = region
        return region

    def _jitter(self, lat: float, lng: float, spread: float) -> tuple[float, float]:
        return lat + self.rng.uniform(-spread, spread), lng + self.rng.uniform(-spread, spread)

    def _phone(self, city_digit: str) -> str:
        return f"029-3{city_digit}{self.rng.randint(100000, 999999)}"

    def _unit(self, spec: data.UnitSpec, region: Region, prefix: str, names: dict, address: str,
              city_digit: str) -> Unit:
        lat, lng = self._jitter(region.lat, region.lng, 0.003)
        unit = unit_create(
            code=f"{region.code}-{spec.suffix}", name=spec.name.format(**names), kind=spec.kind, region=region,
            address=address, phone=self._phone(city_digit), hours=spec.hours, lat=round(lat, 5), lng=round(lng, 5),
        )
        self.out.units[unit.code] = unit
        for suffix, role in data.STAFF_BY_KIND.get(spec.kind, ()):
            self._staff(f"{prefix}_{suffix}", unit, role)
        return unit

    def _staff(self, username: str, unit: Unit, role: str) -> None:
        user = self.out.users.get(username)
        if user is None:
            full_name = data.NAMED_STAFF.get(username) or self._name(self.rng.random() < 0.6)
            user = user_create(username=username, full_name=full_name)
            self.out.users[username] = user
        staff_grant(user=user, unit=unit, role=role)
        self.out.staff.setdefault(username, []).append((role, unit.code))

    def _name(self, male: bool) -> str:
        return self.rng.choice(data.SURNAMES) + self.rng.choice(data.GIVEN_MALE if male else data.GIVEN_FEMALE)

    def _regions_and_units(self) -> None:
        area = self._region(data.AREA_CODE, data.AREA_NAME, Level.AREA, None, data.AREA_LAT, data.AREA_LNG)
        names = {"area": data.AREA_NAME}
        for spec in data.UNITS_BY_LEVEL[Level.AREA]:
            self._unit(spec, area, "area", names, "陕西省西咸新区沣西新城康定路与开元路十字西北角", "3")
        admin = user_create(username=data.ADMIN_USERNAME, full_name="系统管理员", is_superuser=True)
        self.out.users[data.ADMIN_USERNAME] = admin
        for n, city in enumerate(data.CITIES):
            digit = str(3 + n)
            city_region = self._region(city.code, city.name, Level.CITY, area, city.lat, city.lng)
            names = {"area": data.AREA_NAME, "city": city.name}
            for spec in data.UNITS_BY_LEVEL[Level.CITY]:
                address = f"陕西省西咸新区{city.name}{city.roads[0]}{self.rng.randint(1, 300)}号"
                self._unit(spec, city_region, city.code.lower(), names, address, digit)
            for town in city.towns:
                self._town(city, city_region, town, digit)

    def _town(self, city: data.City, city_region: Region, town: data.Town, digit: str) -> None:
        town_region = self._region(f"{city.code}-{town.code}", town.name, Level.TOWN, city_region, town.lat, town.lng)
        names = {"area": data.AREA_NAME, "city": city.name, "town": town.name, "short": data.town_short(town.name)}
        road = self.rng.choice(city.roads)
        units = {}
        for spec in data.UNITS_BY_LEVEL[Level.TOWN]:
            address = f"{city.name}{town.name}{road}{self.rng.randint(1, 200)}号"
            units[spec.kind] = self._unit(spec, town_region, town.code.lower(), names, address, digit)
        for community in town.communities:
            lat, lng = self._jitter(town.lat, town.lng, 0.018)
            region = self._region(f"{town_region.code}-{community.code}", community.name, Level.COMMUNITY,
                                  town_region, lat, lng)
            grids = [self._grid(region, i, community.grids, lat, lng) for i in range(community.grids)]
            prefix = community.code.lower()
            names = {**names, "community": community.name}
            address = f"{city.name}{town.name}{community.name}党群服务中心一楼"
            hall = self._unit(data.COMMUNITY_HALL, region, prefix, names, address, digit) if community.has_hall else None
            branch = (self._unit(data.VILLAGE_BRANCH, region, prefix, names, address, digit)
                      if community.is_village else None)
            home = hall or branch
            if home is not None:
                self._staff(f"{prefix}_{data.GRID_WORKER_SUFFIX}", home, Role.GRID_WORKER)
            self.out.places.append(Place(
                city=city, town=town, community=community, region=region, grids=grids, hall=hall,
                town_hall=units[UnitKind.SERVICE_HALL], branch=branch, weight=community.grids,
            ))

    # residents

    def _id_number(self, city: data.City, birth: dt.date, male: bool) -> str:
        self.id_serial += 1
        serial = (self.id_serial * 2 + (1 if male else 0)) % 1000
        first17 = f"{city.id_prefix}{birth:%Y%m%d}{serial:03d}"
        return first17 + idnumber.check_digit(first17)

    def mobile(self) -> str:
        return mobile(self.rng, self.phones)

    def _address(self, place: Place) -> str:
        if place.community.is_village:
            return f"{place.community.name}{self.rng.randint(1, 12)}组{self.rng.randint(1, 80)}号"
        return (f"{place.community.name}{self.rng.randint(1, 24)}号楼{self.rng.randint(1, 4)}单元"
                f"{self.rng.randint(1, 18)}{self.rng.randint(1, 4):02d}室")

    def _resident(self, *, place: Place, name: str, birth: dt.date, male: bool, user=None) -> Resident:
        resident = resident_create(
            name=name, phone=self.mobile(), region=place.region, id_number=self._id_number(place.city, birth, male),
            birth_date=birth, address=self._address(place), user=user,
        )
        self.out.residents.append(resident)
        return resident

    def _residents(self) -> None:
        by_code = {p.community.code: p for p in self.out.places}
        for account in data.RESIDENT_ACCOUNTS:
            user = user_create(username=account.username, full_name=account.name)
            self.out.users[account.username] = user
            self._resident(place=by_code[account.community], name=account.name,
                           birth=dt.date.fromisoformat(account.birth), male=account.male, user=user)
        weights = [p.weight for p in self.out.places]
        today = timezone.localdate(self.now)
        for _ in range(data.RESIDENTS_TOTAL - len(data.RESIDENT_ACCOUNTS)):
            place = self.rng.choices(self.out.places, weights)[0]
            # An ageing countryside: about a third of the residents are 60 or older.
            age = self.rng.choice((self.rng.randint(18, 59), self.rng.randint(18, 59), self.rng.randint(60, 95)))
            birth = today - dt.timedelta(days=age * 365 + self.rng.randint(0, 364))
            male = self.rng.random() < 0.5
            self._resident(place=place, name=self._name(male), birth=birth, male=male)

    # catalogue

    def _catalogue(self) -> None:
        for fields in data.APPLICATIONS:
            matter_create(kind="application", **fields)
        for fields in data.CONSULTATIONS:
            matter_create(kind="consultation", **fields)
        for spec in data.INCIDENTS:
            matter_create(**data.incident_matter_fields(spec))
        search_synonyms_load()  # the default synonyms residents' words need (catalog/synonyms.py)
        guides.documents_create()  # the guides' blank forms and samples to download


# --- the history -----------------------------------------------------------------------------


@dataclass
class Plan:
    """One case to generate: what, where, by whom, when."""

    at: dt.datetime
    code: str
    kind: str
    place: Place
    channel: str
    submitter: str  # username that submits (a resident account or a staff member)
    resident: Resident | None = None
    walk_in: tuple[str, str, dt.date] | None = None  # (name, phone, birth) of an applicant without a record
    grid: Region | None = None


MORNING = (9 * 60, 12 * 60)
RECENT = dt.timedelta(days=45)  # only recent cases are left stuck: an old one would have been chased
AFTERNOON = (14 * 60, 17 * 60 + 30)
INCIDENT_SPECS = {spec.code: spec for spec in data.INCIDENTS}


class Stop(Exception):
    """The next step of a case lies after now: the case stays where it is."""


class History:
    def __init__(self, loaded: Loaded, *, seed: int, now: dt.datetime, log: Callable[[str], None]):
        self.out = loaded
        self.rng = random.Random(f"{seed}-history")
        self.now = now
        self.log = log
        self.start = now - dt.timedelta(days=HISTORY_DAYS)
        self.viewers: dict[str, Viewer] = {}
        self.staff_of: dict[int, dict[str, list[str]]] = {}
        for username, grants in loaded.staff.items():
            for role, unit_code in grants:
                self.staff_of.setdefault(loaded.units[unit_code].pk, {}).setdefault(role, []).append(username)
        self.unit_by_id = {u.pk: u for u in loaded.units.values()}
        self.account_of = {resident.pk: username for username, resident in self._accounts()}
        self.ratings = 0
        self.bad_reviews = 0
        self.phones = {r.phone for r in loaded.residents}
        self.today = timezone.localdate(now)

    def _accounts(self):
        by_user = {r.user_id: r for r in self.out.residents if r.user_id}
        return [(username, by_user[u.pk]) for username, u in self.out.users.items() if u.pk in by_user]

    def mobile(self) -> str:
        return mobile(self.rng, self.phones)

    # the clock

    def at(self, moment: dt.datetime) -> dt.datetime:
        if moment > self.now:
            raise Stop
        clock.set_frozen(moment)
        return moment

    def office(self, day: dt.date, after: dt.datetime | None = None) -> dt.datetime:
        """A moment in office hours on the first working day on or after ``day`` (and after ``after``)."""
        while not workdays.is_workday(day):
            day += dt.timedelta(days=1)
        span = self.rng.choice((MORNING, AFTERNOON, AFTERNOON))
        minute = self.rng.randint(span[0], span[1] - 1)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute,
                                                                                      seconds=self.rng.randint(0, 59)))
        if after is not None and moment <= after:
            moment = after + dt.timedelta(minutes=self.rng.randint(3, 40), seconds=self.rng.randint(0, 59))
        return moment

    def after_workdays(self, moment: dt.datetime, n: int) -> dt.datetime:
        return self.office(workdays.add_workdays(timezone.localdate(moment), n), after=moment)

    def later(self, moment: dt.datetime, low_minutes: float, high_minutes: float) -> dt.datetime:
        return moment + dt.timedelta(minutes=self.rng.uniform(low_minutes, high_minutes))

    # who acts

    def viewer(self, username: str) -> Viewer:
        if username not in self.viewers:
            self.viewers[username] = viewer_for(self.out.users[username])
        return self.viewers[username]

    def staff(self, unit_id: int, *roles: str) -> Viewer | None:
        by_role = self.staff_of.get(unit_id, {})
        for role in roles:
            if by_role.get(role):
                return self.viewer(self.rng.choice(by_role[role]))
        return None

    def act(self, case: Case, viewer: Viewer, action: str, **inputs) -> Case:
        return case_act(viewer=viewer, case_id=case.pk, action=action, version=case.version, **inputs)

    # planning

    def run(self, count: int) -> None:
        plans = sorted((self.plan() for _ in range(count)), key=lambda p: p.at)
        for i, plan in enumerate(plans, start=1):
            self.one(plan)
            if i % PROGRESS_EVERY == 0 or i == count:
                self.log(f"  {i}/{count} cases")
        self.out.cases = count + self.out.outcomes["follow_up"]
        clock.set_frozen(self.now)
        swept = sweep_deadlines()
        self.out.outcomes["marked_overdue"] = swept["red"]
        self.out.outcomes["marked_due_soon"] = swept["yellow"]

    def plan(self) -> Plan:
        codes = list(data.WEIGHTS)
        code = self.rng.choices(codes, [data.WEIGHTS[c] for c in codes])[0]
        kind = "incident" if code in INCIDENT_SPECS else ("consultation" if code.startswith("ASK_") else "application")
        # Volume grows over the period as more people learn they can apply near home.
        day = timezone.localdate(self.start) + dt.timedelta(days=int((HISTORY_DAYS + 1) * self.rng.random() ** 0.8))
        plan = self.plan_incident(code, day) if kind == "incident" else self.plan_request(code, kind, day)
        if plan.at >= self.now:  # later today, or a weekend pushed it into next week: make it this morning's
            plan.at = self.now - dt.timedelta(minutes=self.rng.randint(5, 300))
        return plan

    def pick_resident(self, code: str) -> Resident | None:
        low, high = data.AGE_RANGES.get(code, data.DEFAULT_AGES)
        fitting = [r for r in self.out.residents if low <= self.age(r.birth_date) <= high]
        return self.rng.choice(fitting) if fitting else None

    def age(self, birth: dt.date) -> int:
        return (self.today - birth).days // 365

    def place_of(self, resident: Resident) -> Place:
        return next(p for p in self.out.places if p.region.pk == resident.region_id)

    def plan_request(self, code: str, kind: str, day: dt.date) -> Plan:
        resident = self.pick_resident(code) if self.rng.random() < 0.55 else None
        account = self.account_of.get(resident.pk) if resident else None
        if resident is not None:
            place = self.place_of(resident)
            walk_in = None
        else:
            place = self.rng.choices(self.out.places, [p.weight for p in self.out.places])[0]
            low, high = data.AGE_RANGES.get(code, data.DEFAULT_AGES)
            age = self.rng.randint(low, high)
            male = self.rng.random() < 0.5
            birth = self.today - dt.timedelta(days=age * 365 + self.rng.randint(0, 364))
            walk_in = (self.rng.choice(data.SURNAMES) + self.rng.choice(data.GIVEN_MALE if male else data.GIVEN_FEMALE),
                       self.mobile(), birth)
        hall = place.intake_hall
        clerk = self.rng.choice(self.staff_of[hall.pk][Role.CLERK])
        if account and self.rng.random() < 0.7:
            channel, submitter = Channel.ONLINE, account
            at = self.any_time(day, 7, 23)
        elif kind == "consultation" and self.rng.random() < 0.35:
            channel, submitter = Channel.PHONE, clerk
            at = self.office(day)
        else:
            channel, submitter = Channel.HALL, clerk
            at = self.office(day)
        return Plan(at=at, code=code, kind=kind, place=place, channel=channel, submitter=submitter,
                    resident=resident, walk_in=walk_in)

    def any_time(self, day: dt.date, first_hour: int, last_hour: int) -> dt.datetime:
        minute = self.rng.randint(first_hour * 60, last_hour * 60 - 1)
        return timezone.make_aware(dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute))

    def plan_incident(self, code: str, day: dt.date) -> Plan:
        villages = [p for p in self.out.places if p.community.is_village]
        if code in ("INC_THEFT", "INC_BURNING") and self.rng.random() < 0.7:
            place = self.rng.choice(villages)
        else:
            place = self.rng.choices(self.out.places, [p.weight for p in self.out.places])[0]
        grid = self.rng.choice(place.grids)
        city = place.city.code.lower()
        roll = self.rng.random()
        resident = None
        if code == "INC_THEFT" and place.branch is not None and roll < 0.4:
            channel, submitter = Channel.PATROL, f"{place.prefix}_secretary"  # the party members' night patrol
            at = self.any_time(day, 0, 5)
        elif roll < 0.4 and f"{place.prefix}_{data.GRID_WORKER_SUFFIX}" in self.out.users:
            channel, submitter = Channel.GRID, f"{place.prefix}_{data.GRID_WORKER_SUFFIX}"
            at = self.office(day)
        elif roll < 0.5:
            channel, submitter = Channel.CAMERA, f"{city}_operator2"
            at = self.any_time(day, 0, 24)
        elif roll < 0.58:
            username, resident = self.rng.choice(self._accounts())
            place = self.place_of(resident)
            grid = self.rng.choice(place.grids)
            channel, submitter = Channel.ONLINE, username
            at = self.any_time(day, 7, 23)
        else:
            channel, submitter = Channel.PHONE, f"{place.city.code.lower()}_operator"  # 12345 hotline
            at = self.any_time(day, 7, 23)
            resident = self.rng.choice(self.out.residents) if self.rng.random() < 0.3 else None
        walk_in = None
        if channel == Channel.PHONE and resident is None:
            walk_in = (self.rng.choice(data.SURNAMES) + self.rng.choice(("先生", "女士")), self.mobile(), self.today)
        return Plan(at=at, code=code, kind="incident", place=place, channel=channel, submitter=submitter,
                    resident=resident, walk_in=walk_in, grid=grid)

    # running one case

    def one(self, plan: Plan) -> None:
        try:
            self.at(plan.at)
        except Stop:
            return
        if plan.kind == "incident":
            case = self.submit_incident(plan)
            flow = self.incident
        else:
            case = self.submit_request(plan)
            flow = self.application if plan.kind == "application" else self.consultation
        try:
            case = flow(case, plan)
        except Stop:
            self.out.outcomes[f"{plan.kind}_open"] += 1
            return
        with contextlib.suppress(Stop):
            self.rate(case, plan)

    def form(self, schema: dict, birth: dt.date | None) -> dict:
        out = {}
        required = set(schema.get("required", []))
        for name, spec in (schema.get("properties") or {}).items():
            if name not in required and self.rng.random() < 0.5:
                continue
            if spec.get("format") == "date":
                if birth is None:
                    continue
                out[name] = birth.isoformat()
            elif "enum" in spec:
                out[name] = self.rng.choice(spec["enum"])
            elif spec["type"] == "integer":
                low, high = spec.get("minimum", 0), spec.get("maximum", 10)
                value = int(self.rng.triangular(low, high, low))
                out[name] = max(low, round(value, -2)) if high - low > 500 else value
            elif spec["type"] == "number":
                low, high = spec.get("minimum", 0), spec.get("maximum", 10000)
                out[name] = round(self.rng.triangular(low, high, low + (high - low) * 0.01), 2)
            elif spec["type"] == "string":
                out[name] = self.rng.choice(data.FORM_SAMPLES.get(name, ("见附件",)))
        return out

    def submit_request(self, plan: Plan) -> Case:
        info = matter_info(plan.code)
        matter = next(m for m in (*data.APPLICATIONS, *data.CONSULTATIONS) if m["code"] == plan.code)
        birth = plan.resident.birth_date if plan.resident else plan.walk_in[2]
        materials = [{"code": m["code"]} for m in matter.get("materials", [])
                     if m.get("required", True) or self.rng.random() < 0.4]
        kwargs = {}
        if plan.resident is None:
            kwargs = {"applicant_name": plan.walk_in[0], "applicant_phone": plan.walk_in[1],
                      "region_code": plan.place.region.code}
        elif plan.channel != Channel.ONLINE:
            kwargs = {"applicant": plan.resident}
        description = "" if info.kind == "application" else self.rng.choice(
            ("请问需要带哪些材料？", "在村里能办吗？", "报销比例是多少？", "多长时间能办好？"))
        created = case_create(
            viewer=self.viewer(plan.submitter), matter_code=plan.code, channel=plan.channel, description=description,
            form=self.form(matter.get("form_schema") or {}, birth), materials=materials, **kwargs,
        )
        return created.case

    def submit_incident(self, plan: Plan) -> Case:
        spec = INCIDENT_SPECS[plan.code]
        lat, lng = plan.grid.lat + self.rng.uniform(-0.002, 0.002), plan.grid.lng + self.rng.uniform(-0.002, 0.002)
        title = self.rng.choice(spec.titles)
        kwargs = {}
        if plan.resident is not None and plan.channel != Channel.ONLINE:
            kwargs["applicant"] = plan.resident
        elif plan.walk_in is not None:
            kwargs.update(applicant_name=plan.walk_in[0], applicant_phone=plan.walk_in[1])
        created = case_create(
            viewer=self.viewer(plan.submitter), matter_code=plan.code, region_code=plan.grid.code, title=title,
            description=f"{plan.place.community.name}{plan.grid.name}：{title}，请尽快处理。", channel=plan.channel,
            lat=round(lat, 6), lng=round(lng, 6),
            address=f"{plan.place.city.name}{plan.place.town.name}{plan.place.community.name}{self.rng.choice(plan.place.city.roads)}附近",
            **kwargs,
        )
        return created.case

    # applications

    def application(self, case: Case, plan: Plan) -> Case:
        info = matter_info(plan.code)
        rng = self.rng
        holder = case.holder_unit_id
        outcome = rng.random()
        account = self.account_of.get(plan.resident.pk) if plan.resident else None
        applicant = self.viewer(account) if account else None  # only residents with a login act themselves
        t = case.created_at
        intake = plan.place.intake_hall
        walked_in_here = plan.channel == Channel.HALL and intake.pk == holder

        def when_accepting(t):
            return self.later(t, 2, 10) if walked_in_here else self.after_workdays(t, rng.choice((0, 0, 1)))

        if outcome < 0.02:  # 不予受理
            t = self.at(when_accepting(t))
            case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "reject",
                            comment=rng.choice(data.REJECT_REASONS))
            self.out.outcomes["application_rejected"] += 1
            return case
        if outcome < 0.035 and applicant is not None:  # the applicant changes their mind
            t = self.at(self.later(t, 30, 2000))
            case = self.act(case, applicant, "withdraw")
            self.out.outcomes["application_withdrawn"] += 1
            return case
        if outcome < 0.055 and self.unit_by_id[holder].kind == UnitKind.SERVICE_HALL and \
                self.unit_by_id[holder].pk == intake.pk and plan.place.hall is not None:
            t = self.at(self.later(t, 10, 120))  # 转办: the community station hands it to the town centre
            case = self.act(case, self.staff(holder, Role.CLERK), "transfer", unit_code=plan.place.town_hall.code,
                            comment=data.TRANSFER_COMMENTS["application"])
            holder = case.holder_unit_id
            self.out.outcomes["application_transferred"] += 1
            walked_in_here = False
        t = self.at(when_accepting(t))
        case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "accept")
        if info.is_instant:
            t = self.at(self.later(t, 3, 25))
            case = self.act(case, self.staff(holder, Role.HANDLER), "decide", decision="approved",
                            result=rng.choice(data.APPROVE_RESULTS))
            t = self.at(self.later(t, 1, 5))
            case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "close",
                            delivery=self.delivery(case, holder))
            self.out.outcomes["application_closed"] += 1
            return case
        roll = rng.random()
        if roll < 0.015 and self.unit_by_id[holder].kind == UnitKind.SERVICE_HALL and \
                self.unit_by_id[holder].region_id != self.out.regions[data.AREA_CODE].pk:
            t = self.at(self.after_workdays(t, rng.choice((0, 1))))  # 上报 to the hall one level up
            case = self.act(case, self.staff(holder, Role.HANDLER, Role.CLERK), "escalate",
                            comment=data.ESCALATE_COMMENTS["application"])
            holder = case.holder_unit_id
            self.out.outcomes["application_escalated"] += 1
        elif roll < 0.1:
            resubmitter = applicant or self.staff(holder, Role.CLERK)
            if resubmitter is not None:  # 一次性告知: everything missing at once; the clock stops
                t = self.at(self.after_workdays(t, rng.choice((0, 1, 1, 2))))
                case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "request_supplement",
                                comment=rng.choice(data.SUPPLEMENT_REASONS))
                t = self.at(self.later(t, 60 * 20, 60 * 24 * 6))
                if applicant is None:
                    t = self.at(self.office(timezone.localdate(t), after=t))
                case = self.act(case, resubmitter, "resubmit")
                self.out.outcomes["application_supplemented"] += 1
        if self.now - case.created_at < RECENT and rng.random() < 0.05:
            self.out.outcomes["application_stalled"] += 1
            raise Stop  # the handler has not got to it: overdue, or soon to be
        due_day = timezone.localdate(case.due_at)
        if rng.random() < 0.02:  # late
            t = self.at(self.office(workdays.add_workdays(due_day, rng.randint(1, 4)), after=t))
            self.out.outcomes["application_late"] += 1
        else:
            start_day = timezone.localdate(t)
            span = max(workdays.workdays_between(start_day, due_day), 0)
            # Most are decided well ahead; some only on the last day (so a few open cases are due soon).
            k = span if rng.random() < 0.15 else min(int(span * rng.betavariate(1.3, 2.6)), max(span - 1, 0))
            t = self.at(self.office(workdays.add_workdays(start_day, k), after=t))
        denied = rng.random() < (0.08 if info.responsible_unit_kind == UnitKind.CIVIL_AFFAIRS else 0.01)
        case = self.act(case, self.staff(holder, Role.HANDLER), "decide", decision="denied" if denied else "approved",
                        result=rng.choice(data.DENY_RESULTS if denied else data.APPROVE_RESULTS))
        t = self.at(self.later(t, 5, 90))
        case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "close",
                        delivery=self.delivery(case, holder))
        self.out.outcomes["application_closed"] += 1
        return case

    def delivery(self, case: Case, holder: int) -> dict:
        """How the result reaches the applicant: collected at the hall that holds it, else posted
        (a tracking number made from the case, so the random history is unchanged)."""
        unit = self.unit_by_id[holder]
        if unit.kind == UnitKind.SERVICE_HALL:
            return {"method": "pickup", "hall": unit.code}
        return {"method": "post", "tracking": f"SF{case.pk:010d}", "carrier": "中国邮政EMS"}

    def consultation(self, case: Case, plan: Plan) -> Case:
        rng = self.rng
        holder = case.holder_unit_id
        t = case.created_at
        if rng.random() < 0.03 and self.unit_by_id[holder].kind == UnitKind.SERVICE_HALL and plan.place.hall is not None \
                and holder == plan.place.hall.pk:
            t = self.at(self.later(t, 10, 90))
            case = self.act(case, self.staff(holder, Role.CLERK), "escalate", comment="需上级窗口答复，上报街镇")
            holder = case.holder_unit_id
            self.out.outcomes["consultation_escalated"] += 1
        if plan.channel == Channel.HALL and holder == plan.place.intake_hall.pk:
            t = self.at(self.later(t, 3, 20))
        else:
            t = self.at(self.after_workdays(t, rng.choice((0, 0, 0, 1, 1, 2))))
        case = self.act(case, self.staff(holder, Role.CLERK, Role.HANDLER), "answer", result=rng.choice(data.ANSWERS))
        self.out.outcomes["consultation_answered"] += 1
        return case

    # incidents (GB/T 30428: register → dispatch → acknowledge → handle → verify → close)

    def incident(self, case: Case, plan: Plan) -> Case:
        rng = self.rng
        spec = INCIDENT_SPECS[plan.code]
        centre = case.holder_unit_id
        operator = self.staff(centre, Role.OPERATOR)
        t = case.created_at
        t = self.at(self.later(t, 3, 45))
        roll = rng.random()
        if roll < 0.04:
            case = self.act(case, operator, "dismiss", comment=rng.choice(data.DISMISS_REASONS))
            self.out.outcomes["incident_dismissed"] += 1
            return case
        if roll < 0.055:  # 转办 to the area's command centre, which coordinates across cities
            area_centre = self.out.units[f"{data.AREA_CODE}-CC"]
            case = self.act(case, operator, "transfer", unit_code=area_centre.code,
                            comment=data.TRANSFER_COMMENTS["incident"])
            centre = area_centre.pk
            operator = self.staff(centre, Role.OPERATOR)
            t = self.at(self.later(t, 10, 60))
            self.out.outcomes["incident_transferred"] += 1
        case = self.act(case, operator, "register")
        due = case.due_at
        town_code = plan.place.region.code.rsplit("-", 1)[0]
        region_code = town_code if spec.dispatch_level == "town" else plan.place.city.code
        suffix = {UnitKind.ENFORCEMENT: "EN", UnitKind.PUBLIC_SECURITY: "PS", UnitKind.SANITATION: "SN"}[spec.dispatch_kind]
        target = self.out.units[f"{region_code}-{suffix}"]
        t = self.at(self.later(t, 3, 30))
        case = self.act(case, operator, "dispatch", unit_code=target.code)
        worker = target.pk
        if rng.random() < 0.03 and spec.dispatch_level == "town" and spec.dispatch_kind != UnitKind.SANITATION:
            t = self.at(self.later(t, 20, 120))
            case = self.act(case, self.staff(worker, Role.HANDLER), "escalate", comment=data.ESCALATE_COMMENTS["incident"])
            worker = case.holder_unit_id
            self.out.outcomes["incident_escalated"] += 1
        t = self.at(self.later(t, 5, 90))
        case = self.act(case, self.staff(worker, Role.HANDLER), "acknowledge")
        if self.now - case.created_at < RECENT and rng.random() < 0.03:
            self.out.outcomes["incident_stalled"] += 1
            raise Stop
        late = rng.random() < 0.03
        t = self.at(self.handle_moment(t, due, spec, late))
        results = data.HANDLE_RESULTS[spec.dispatch_kind]
        case = self.act(case, self.staff(worker, Role.HANDLER), "handle", result=rng.choice(results))
        if rng.random() < 0.05:  # 返工: the operator's check finds it not done
            t = self.at(self.later(t, 20, 180))
            case = self.act(case, operator, "rework", comment=rng.choice(data.REWORK_REASONS))
            t = self.at(self.later(t, 10, 60))
            case = self.act(case, self.staff(worker, Role.HANDLER), "acknowledge")
            t = self.at(self.later(t, 30, 240))
            case = self.act(case, self.staff(worker, Role.HANDLER), "handle", result=rng.choice(results))
            self.out.outcomes["incident_reworked"] += 1
        t = self.at(self.verify_moment(t, due, spec))
        case = self.act(case, operator, "verify")
        t = self.at(self.later(t, 2, 20))
        # A few reporters never answer 已解决吗？ and a few say the problem came back: at least one of
        # each in every demo (the first reachable reporter), about 2 % after that.
        outcomes = self.out.outcomes
        if case.reporter_reachable and (not outcomes["incident_unconfirmed"] or rng.random() < 0.02):
            case = ask_reporter(viewer=operator, case_id=case.pk)
            self.at(self.after_workdays(t, CONFIRMATION_WORKING_DAYS + 1))  # past the time to answer
            case = close_unanswered(case_id=case.pk)
            outcomes["incident_unconfirmed"] += 1
            outcomes["incident_closed"] += 1
            return case
        case = close_incident(viewer=operator, case_id=case.pk)  # asking the reporter when there is one
        outcomes["incident_closed"] += 1
        if case.reporter_reachable and (not outcomes["incident_reopened"] or rng.random() < 0.02):
            t = self.at(self.later(t, 60 * 24, 60 * 24 * (REOPEN_DAYS - 2)))
            case = reopen(case_id=case.pk, comment=rng.choice(REOPEN_COMMENTS))
            outcomes["incident_reopened"] += 1
            worker = case.holder_unit_id
            t = self.at(self.later(t, 10, 120))
            case = self.act(case, self.staff(worker, Role.HANDLER), "acknowledge")
            t = self.at(self.later(t, 60, 60 * 24))
            case = self.act(case, self.staff(worker, Role.HANDLER), "handle", result=rng.choice(results))
            t = self.at(self.later(t, 10, 150))
            case = self.act(case, operator, "verify")
            t = self.at(self.later(t, 2, 20))
            case = close_incident(viewer=operator, case_id=case.pk)
        return case

    def handle_moment(self, t: dt.datetime, due: dt.datetime, spec: data.IncidentSpec, late: bool) -> dt.datetime:
        if spec.time_unit == "hours":
            if late:
                return due + dt.timedelta(minutes=self.rng.uniform(30, 600))
            room = (due - t).total_seconds() / 60
            return self.later(t, max(room * 0.1, 10), max(room * 0.6, 15))
        due_day = timezone.localdate(due)
        if late:
            return self.office(workdays.add_workdays(due_day, self.rng.randint(1, 3)), after=t)
        span = workdays.workdays_between(timezone.localdate(t), due_day)
        k = self.rng.randint(0, max(span - 1, 0))
        return self.office(workdays.add_workdays(timezone.localdate(t), k), after=t)

    def verify_moment(self, t: dt.datetime, due: dt.datetime, spec: data.IncidentSpec) -> dt.datetime:
        moment = self.later(t, 10, 150)
        if t < due < moment + dt.timedelta(minutes=20):
            moment = t + (due - t) / 3
        return moment

    # ratings (好差评) and follow-ups

    def rate(self, case: Case, plan: Plan) -> None:
        rng = self.rng
        if case.closed_at is None or case.state == "withdrawn" or case.state == "dismissed":
            return
        if plan.kind == "incident" and plan.resident is None and plan.walk_in is None:
            return  # reported by a grid worker, a camera or a patrol: nobody to ask
        if rng.random() > (0.5 if case.state == "rejected" else 0.88):
            return
        t = self.at(self.later(case.closed_at, 5, 60 * 24 * 2))
        handling = case.handling_unit_id or case.holder_unit_id
        account = self.account_of.get(plan.resident.pk) if plan.resident else None
        if account and rng.random() < 0.7:
            viewer, channel = self.viewer(account), rng.choice((RatingChannel.ONLINE, RatingChannel.ONLINE, RatingChannel.SMS))
        else:
            staff = self.staff(handling, Role.CLERK, Role.HANDLER, Role.OPERATOR)
            is_hall = self.unit_by_id[handling].kind == UnitKind.SERVICE_HALL and plan.channel == Channel.HALL
            viewer, channel = staff, (rng.choice((RatingChannel.PAD, RatingChannel.PAD, RatingChannel.KIOSK))
                                      if is_hall else RatingChannel.HOTLINE)
        self.ratings += 1
        # 满意率 around 99.9%: one bad review in about twelve hundred ratings.
        bad = self.ratings % 1200 == 20
        if bad:
            rating = rng.choice((1, 2))
        else:
            roll = rng.random()
            rating = 5 if roll < 0.82 else (4 if roll < 0.975 else 3)
        offline = channel in (RatingChannel.PAD, RatingChannel.KIOSK, RatingChannel.HOTLINE)
        pool = ("overall", "speed", "competence", "attitude") if offline else ("overall", "efficiency", "guide", "convenience")
        tags = sorted(rng.sample(pool, rng.randint(0, 2)))
        comment = rng.choice(data.BAD_COMMENTS) if rating <= BAD_REVIEW_MAX else rng.choice(data.GOOD_COMMENTS)
        evaluation = evaluation_create(viewer=viewer, case_id=case.pk, rating=rating, channel=channel, tags=tags,
                                       comment=comment)
        self.out.outcomes["rated"] += 1
        if evaluation.follow_up_case is not None:
            self.out.outcomes["follow_up"] += 1
            self.bad_reviews += 1
            with contextlib.suppress(Stop):
                self.follow_up(evaluation.follow_up_case, t, full=self.bad_reviews % 2 == 1)

    def follow_up(self, case: Case, t: dt.datetime, *, full: bool) -> None:
        holder = case.holder_unit_id
        actor = self.staff(holder, Role.LEADER, Role.HANDLER, Role.CLERK)
        t = self.at(self.after_workdays(t, self.rng.randint(1, 2)))
        case = self.act(case, actor, "call_back", comment=self.rng.choice(data.CALL_BACK_NOTES))
        self.out.outcomes["follow_up_called_back"] += 1
        if not full:
            return
        t = self.at(self.after_workdays(t, self.rng.randint(2, 6)))
        self.act(case, actor, "report_back", result=self.rng.choice(data.REPORT_BACK_NOTES))
        self.out.outcomes["follow_up_closed"] += 1


