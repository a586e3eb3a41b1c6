"""Entry and exit (入场/出场): capacity, one stay per vehicle, and the fee at exit."""

import datetime as dt
from decimal import Decimal

import pytest

from yiwang.core import clock
from yiwang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yiwang.parking import selectors, services
from yiwang.parking.tests.conftest import NOW

pytestmark = pytest.mark.django_db


def enter(world, plate="陕A12345", zone="XFL-P1", who="operator_kg", **kw):
    return services.session_enter(viewer=world.viewer(who), zone_code=zone, plate=plate, **kw)


def leave(world, plate="陕A12345", zone="XFL-P1", who="operator_kg", **kw):
    return services.session_exit(viewer=world.viewer(who), zone_code=zone, plate=plate, **kw)


def test_a_stay_across_midnight_is_charged_by_the_zones_bands(world, parking):
    enter(world, at=NOW - dt.timedelta(hours=14))  # 20:00 the evening before
    session = leave(world)  # 10:00: the whole night (capped at 5) and two day hours (4)
    assert session.fee == Decimal("9.00")
    assert [c["band"] for c in session.charges] == ["夜间", "白天"]
    assert session.region_path == parking["street"].region_path


def test_a_short_stay_is_free(world, parking):
    enter(world, at=NOW - dt.timedelta(minutes=10))
    assert leave(world).fee == Decimal("0.00")


def test_a_full_zone_refuses_entry_until_a_vehicle_leaves(world, parking):
    enter(world, plate="陕A00001")
    enter(world, plate="陕A00002")
    with pytest.raises(Conflict) as err:
        enter(world, plate="陕A00003")
    assert err.value.field == "zone"
    leave(world, plate="陕A00001")
    assert enter(world, plate="陕A00003").exited_at is None
    rows = {r.zone.code: r for r in selectors.zone_list(viewer=world.viewer("operator_kg"))}
    assert (rows["XFL-P1"].occupied, rows["XFL-P1"].free, rows["XFL-P1"].rate) == (2, 0, 100)
    assert rows["CJC-L1"].occupied == 0


def test_a_vehicle_cannot_be_in_two_places(world, parking):
    enter(world)
    with pytest.raises(Conflict) as err:
        enter(world, zone="CJC-L1")
    assert err.value.field == "plate"


def test_a_space_holds_one_vehicle(world, parking):
    enter(world, zone="CJC-L1", space_code="001")
    with pytest.raises(Conflict) as err:
        enter(world, plate="陕B22222", zone="CJC-L1", space_code="001")
    assert err.value.field == "space"
    with pytest.raises(ValidationFailed):
        enter(world, plate="陕B22222", zone="CJC-L1", space_code="999")


def test_exit_without_entry_or_before_it_is_refused(world, parking):
    with pytest.raises(Conflict):
        leave(world)
    enter(world)
    with pytest.raises(ValidationFailed) as err:
        leave(world, at=NOW - dt.timedelta(hours=1))
    assert err.value.field == "at"


def test_times_in_the_future_are_refused(world, parking):
    with pytest.raises(ValidationFailed):
        enter(world, at=NOW + dt.timedelta(hours=1))
    with clock.frozen_at(NOW):
        assert enter(world, at=NOW + dt.timedelta(minutes=2)).entered_at > NOW  # a camera's clock a little ahead


def test_staff_of_another_city_do_not_see_the_zone(world, parking):
    with pytest.raises(NotFound):
        enter(world, who="clerk_spd")
    with pytest.raises(NotFound):
        enter(world, who="resident_wang")


def test_a_bad_plate_is_refused(world, parking):
    with pytest.raises(ValidationFailed) as err:
        enter(world, plate="ABC")
    assert err.value.field == "plate"


@pytest.mark.parametrize("fields,field", [
    ({"bands": [{"start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_price": "1"},
                {"start": "19:00", "end": "21:00", "unit_minutes": 30, "unit_price": "1"}]}, "bands"),
    ({"bands": [{"start": "8 点", "end": "20:00", "unit_minutes": 30, "unit_price": "1"}]}, "bands.0"),
    ({"bands": [{"start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_price": "-1"}]}, "bands.0"),
    ({"capacity": 0}, "capacity"),
    ({"kind": "garage"}, "kind"),
    ({"daily_cap": "abc"}, "daily_cap"),
    ({"free_minutes": -5}, "free_minutes"),
])
def test_bad_zones_are_refused_with_the_field(world, fields, field):
    spec = {"code": "Z1", "name": "测试", "kind": "lot", "region_code": "KG-DZ-XFL", "capacity": 10,
            "bands": [{"start": "08:00", "end": "20:00", "unit_minutes": 30, "unit_price": "1"}]}
    spec.update(fields)
    with pytest.raises(ValidationFailed) as err:
        services.zone_create(viewer=world.viewer("leader_kg"), **spec)
    assert err.value.field == field


def test_only_a_leader_of_the_region_creates_zones(world):
    spec = {"code": "Z1", "name": "测试", "kind": "lot", "region_code": "KG-DZ-XFL", "capacity": 10, "bands": []}
    for who in ("operator_kg", "clerk_spd"):
        with pytest.raises(PermissionDenied):
            services.zone_create(viewer=world.viewer(who), **spec)
    assert services.zone_create(viewer=world.viewer("admin"), **spec).region_path.endswith("/KG-DZ-XFL/")
