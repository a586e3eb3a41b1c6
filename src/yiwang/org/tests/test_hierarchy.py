"""Regions form a five-level tree with materialized paths; scoping follows the subtree."""

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.core import idnumber
from yiwang.core.errors import ValidationFailed
from yiwang.org.models import Level
from yiwang.org.selectors import hierarchy, scope_q
from yiwang.org.services import region_create, resident_create
from yiwang.testing import SENIOR_OK


def test_a_path_is_the_chain_of_codes(world):
    assert world.regions["xfl"].path == "/XX/KG/KG-DZ/KG-DZ-XFL/"


def test_a_level_cannot_be_skipped(world):
    with pytest.raises(ValidationFailed):
        region_create(code="BAD", name="跳级社区", level=Level.COMMUNITY, parent=world.regions["kg"])


def test_a_grid_hangs_under_a_community(world):
    grid = region_create(code="KG-DZ-XFL-G7", name="第七网格", level=Level.GRID, parent=world.regions["xfl"])
    assert [r.code for r in hierarchy().chain(grid.id)] == ["KG-DZ-XFL-G7", "KG-DZ-XFL", "KG-DZ", "KG", "XX"]


def test_the_hierarchy_cache_sees_a_new_region_at_once(world):
    region_create(code="KG-BD", name="北杜街道", level=Level.TOWN, parent=world.regions["kg"])
    assert hierarchy().region("KG-BD").name == "北杜街道"


def test_a_towns_handler_sees_its_communities_cases_but_not_the_neighbours(world):
    mine = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case
    other = case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code="QH-WC-SPD",
                        **SENIOR_OK).case
    visible = set(Case.objects.filter(scope_q(world.viewer("handler_dz"))).values_list("pk", flat=True))
    assert mine.pk in visible and other.pk not in visible


def test_a_residents_id_number_is_checked(world):
    with pytest.raises(ValidationFailed):
        resident_create(name="张三", phone="13900000000", region=world.regions["xfl"], id_number="610402195001011231")


def test_an_id_number_is_masked_for_display():
    assert idnumber.mask("61040219500101123X") == "6104************3X"
    assert idnumber.mask_phone("13800000001") == "138****0001"


SQUARE = {"type": "Polygon", "coordinates": [[[108.75, 34.43], [108.755, 34.43], [108.755, 34.435],
                                              [108.75, 34.435], [108.75, 34.43]]]}


def test_a_grid_keeps_its_outline(world):
    grid = region_create(code="KG-DZ-XFL-G7", name="第七网格", level=Level.GRID, parent=world.regions["xfl"],
                         boundary=SQUARE)
    assert grid.boundary == SQUARE


@pytest.mark.parametrize("boundary", [
    {"type": "Point", "coordinates": [108.75, 34.43]},
    {"type": "Polygon", "coordinates": [[[108.75, 34.43], [108.755, 34.43], [108.75, 34.43]]]},
    {"type": "Polygon", "coordinates": [[[108.75, 34.43], [108.755, 34.43], [108.755, 34.435], [108.75, 34.44]]]},
    {"type": "Polygon", "coordinates": [[[200, 34.43], [108.755, 34.43], [108.755, 34.435], [200, 34.43]]]},
])
def test_a_bad_outline_is_refused(world, boundary):
    with pytest.raises(ValidationFailed) as err:
        region_create(code="KG-DZ-XFL-G9", name="坏网格", level=Level.GRID, parent=world.regions["xfl"],
                      boundary=boundary)
    assert err.value.field == "boundary"
