import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from yiwang.cases import routing
from yiwang.cases.models import Case, Workday
from yiwang.cases.services import case_create
from yiwang.catalog.selectors import matter_info
from yiwang.core import idnumber
from yiwang.demo import data
from yiwang.demo.loader import APP_SEEDS, load, routing_problems, seed_name, wipe
from yiwang.feedback.models import Evaluation
from yiwang.org.district import identity, map_centre
from yiwang.org.models import District, Region, Resident, Unit, UnitKind
from yiwang.org.selectors import hierarchy, viewer_for

NOW = timezone.make_aware(dt.datetime(2026, 6, 15, 10, 30))


def test_region_codes_make_unique_username_prefixes():
    prefixes = ["area"] + [c.code.lower() for c in data.CITIES]
    for city in data.CITIES:
        prefixes += [t.code.lower() for t in city.towns]
        prefixes += [c.code.lower() for t in city.towns for c in t.communities]
    assert len(prefixes) == len(set(prefixes))


def test_the_places_the_report_names_are_there():
    names = {c.name for city in data.CITIES for t in city.towns for c in t.communities}
    assert {"幸福里社区", "玻璃厂三普东社区", "瑞凝村", "程家村"} <= names


def test_a_small_demo_loads_through_the_services(db):
    loaded = load(cases=60, now=NOW, apps=())
    assert Region.objects.filter(level="grid").count() >= 2 * Region.objects.filter(level="community").count()
    assert Case.objects.filter(kind="application").exists()
    assert Case.objects.filter(kind="incident").exists()
    assert Case.objects.filter(closed_at__isnull=False).count() > 40
    assert Evaluation.objects.count() > 20
    assert Case.objects.filter(created_at__gt=NOW).count() == 0
    assert all(idnumber.is_valid(r.id_number) for r in Resident.objects.exclude(id_number=""))
    assert Resident.objects.get(user__username="resident_wang").birth_date.year == 1950
    assert authenticate(username="xfl_clerk", password=data.DEMO_PASSWORD) == loaded.users["xfl_clerk"]
    assert loaded.token.startswith("yw_")
    # Xixian is the demo's identity, set as data like any district's (org.district).
    assert (identity().name, identity().sms_signature) == ("西咸新区", "【西咸新区政务服务】")
    assert map_centre() == [34.38, 108.76]


def test_verify_passes_after_loading_the_whole_demo(db):
    # The one full load in the suite: every app's seed on top of the history, then every chain checked.
    loaded = load(cases=60, now=NOW)
    assert set(loaded.extras) == {seed_name(module) for module in APP_SEEDS}
    out = StringIO()
    call_command("verify", stdout=out)
    assert "all hash chains intact" in out.getvalue()


def test_every_matter_routes_to_a_unit_of_its_kind_from_every_community(db):
    load(cases=0, apps=())
    assert routing_problems() == []
    h = hierarchy()
    communities = [r for r in h.regions.values() if r.level == "community"]
    for code in [m["code"] for m in (*data.APPLICATIONS, *data.CONSULTATIONS)] + [i.code for i in data.INCIDENTS]:
        info = matter_info(code)
        route = routing.route(info, communities[0], h)
        assert route.reason == "lowest_level" and route.unit.kind == info.responsible_unit_kind, code


def test_senior_card_lands_at_the_community_station_or_the_town_centre(db):
    loaded = load(cases=0, apps=())
    h = hierarchy()
    senior = matter_info("SENIOR_CARD")
    assert routing.route(senior, h.region("KG-DZ-XFL"), h).unit.name == "幸福里社区便民服务站"
    assert not Unit.objects.filter(region__code="KG-DZ-PLC", kind=UnitKind.SERVICE_HALL).exists()
    assert routing.route(senior, h.region("KG-DZ-PLC"), h).unit.name == "底张街道便民服务中心"

    wang = viewer_for(loaded.users["resident_wang"])
    case = case_create(viewer=wang, matter_code="SENIOR_CARD", form={"birth_date": "1950-03-15"},
                       materials=[{"code": "id_card"}, {"code": "photo"}]).case
    assert case.holder_unit.name == "幸福里社区便民服务站"


def test_incidents_land_at_the_city_command_centre(db):
    load(cases=0, apps=())
    h = hierarchy()
    route = routing.route(matter_info("INC_PARKING"), h.region("QH-WC-SPD-G1"), h)
    assert route.unit.name == "秦汉新城综合执法指挥中心"


def test_the_same_seed_gives_the_same_history(db):
    first = load(cases=30, now=NOW, seed=7, apps=())
    states = list(Case.objects.order_by("pk").values_list("matter__code", "state", "created_at"))
    wipe()
    second = load(cases=30, now=NOW, seed=7, apps=())
    assert list(Case.objects.order_by("pk").values_list("matter__code", "state", "created_at")) == states
    assert first.outcomes == second.outcomes


def test_the_command_refuses_a_database_that_holds_data(db):
    load(cases=0, apps=())
    with pytest.raises(CommandError, match="--force"):
        call_command("demo", "--cases", "0", "--no-apps", stdout=StringIO())


def test_the_command_reuses_the_database_with_keep_existing(db):
    load(cases=0, apps=())
    regions = Region.objects.count()
    out = StringIO()
    call_command("demo", "--keep-existing", stdout=out)
    assert "reusing it" in out.getvalue()
    assert Region.objects.count() == regions


def test_the_command_loads_an_empty_database_and_prints_the_logins(db):
    out = StringIO()
    call_command("demo", "--cases", "10", "--no-apps", stdout=out)
    text = out.getvalue()
    assert data.DEMO_PASSWORD in text
    assert "xfl_clerk" in text and "kg_operator" in text
    assert "API token for admin: yw_" in text


def test_force_replaces_the_data_and_keeps_the_calendar(db):
    load(cases=5, apps=())
    workdays = Workday.objects.count()
    call_command("demo", "--force", "--cases", "5", "--no-apps", stdout=StringIO())
    assert Region.objects.filter(code=data.AREA_CODE).count() == 1
    assert District.objects.count() == 1  # erased with the rest, then set again
    assert Workday.objects.count() == workdays > 0
