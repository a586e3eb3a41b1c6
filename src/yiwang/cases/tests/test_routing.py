"""A new case goes to the lowest level that can handle it, or by a rule, or to a command centre."""

from yiwang.cases.models import CaseEvent
from yiwang.cases.services import case_create
from yiwang.catalog.models import RoutingRule
from yiwang.catalog.services import routing_rule_save
from yiwang.testing import SENIOR_OK


def create(world, region, matter="SENIOR_CARD", **kw):
    extra = SENIOR_OK if matter == "SENIOR_CARD" else {}
    return case_create(viewer=world.viewer("admin"), matter_code=matter, region_code=region, **extra, **kw).case


def test_a_senior_card_from_a_community_with_a_hall_stays_in_the_community(world):
    case = create(world, "KG-DZ-XFL")
    assert case.holder_unit_id == world.units["xfl_sh"].id


def test_a_village_without_a_hall_goes_to_its_town(world):
    case = create(world, "KG-DZ-CJC")
    assert case.holder_unit_id == world.units["dz_sh"].id


def test_a_resident_applying_without_a_region_is_routed_from_their_home(world):
    case = case_create(viewer=world.viewer("resident_li"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    assert case.holder_unit_id == world.units["spd_sh"].id


def test_a_city_level_matter_skips_the_lower_levels(world):
    case = create(world, "KG-DZ-XFL", matter="HOUSING_FUND_WITHDRAW", materials=[{"code": "id_card"}])
    assert case.holder_unit_id == world.units["area_hf"].id


def test_an_incident_lands_in_the_city_command_centre(world):
    case = create(world, "KG-DZ-XFL", matter="INC_PARKING")
    # handling levels town, city: the town has no command centre, the city has one
    assert case.holder_unit_id == world.units["kg_cc"].id


def test_a_routing_rule_overrides_the_lowest_level(world):
    routing_rule_save(rule=RoutingRule(name="三普东老年证统一到街道", matter=world.matters["senior"],
                                       region=world.regions["wc"], target_unit=world.units["wc_sh"], priority=1))
    assert create(world, "QH-WC-SPD").holder_unit_id == world.units["wc_sh"].id
    assert create(world, "KG-DZ-XFL").holder_unit_id == world.units["xfl_sh"].id


def test_no_unit_of_the_kind_anywhere_goes_to_the_nearest_command_centre(world):
    from yiwang.catalog.services import matter_create

    matter_create(code="ORPHAN", name="无人承办", kind="application", handling_levels=["community"],
                  responsible_unit_kind="civil_affairs")
    case = create(world, "QH-WC-SPD", matter="ORPHAN")
    assert case.holder_unit_id == world.units["qh_cc"].id


def test_the_routing_reason_is_on_the_first_event(world):
    case = create(world, "KG-DZ-CJC")
    event = CaseEvent.objects.get(case=case, seq=1)
    assert event.payload["routing"]["reason"] == "lowest_level"
    assert event.payload["routing"]["level"] == "town"
    assert "底张街道便民服务中心" in event.payload["note"]


def test_a_reported_point_places_the_incident_in_its_grid(world):
    case = create(world, None, "INC_PARKING", lat=34.405, lng=108.715)
    assert case.region.code == "KG-DZ-XFL-G2"
    assert case.region_path == "/XX/KG/KG-DZ/KG-DZ-XFL/KG-DZ-XFL-G2/"
    assert not case.off_grid
    assert case.holder_unit_id == world.units["kg_cc"].id  # the town has no command centre: the city's


def test_a_point_outside_every_grid_is_kept_in_the_nearest_community_and_flagged(world):
    case = create(world, None, "INC_PARKING", lat=34.405, lng=108.76)
    assert case.region.code == "KG-DZ-CJC"
    assert case.off_grid
    payload = CaseEvent.objects.get(case=case, seq=1).payload
    assert payload["off_grid"]["community"] == "KG-DZ-CJC"
    assert payload["off_grid"]["distance_km"] > 0.9


def test_a_pin_refines_the_named_region_to_its_grid_but_never_moves_it_elsewhere(world):
    inside = create(world, "KG-DZ-XFL", "INC_PARKING", lat=34.405, lng=108.705)
    assert inside.region.code == "KG-DZ-XFL-G1"
    elsewhere = create(world, "QH-WC-SPD", "INC_PARKING", lat=34.405, lng=108.705)
    assert elsewhere.region.code == "QH-WC-SPD" and not elsewhere.off_grid


def test_an_application_keeps_the_applicants_home_whatever_the_pin(world):
    case = case_create(viewer=world.viewer("resident_li"), matter_code="SENIOR_CARD", lat=34.405, lng=108.705,
                       **SENIOR_OK).case
    assert case.region.code == "QH-WC-SPD"
