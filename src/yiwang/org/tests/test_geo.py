"""Point → grid → community lookup: inside, on a border, outside, and after a grid is redrawn."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yiwang.core.errors import ValidationFailed
from yiwang.org.geo import check_point, locate
from yiwang.org.models import Level
from yiwang.org.services import region_create, region_update
from yiwang.testing import square

pytestmark = pytest.mark.django_db


def test_a_point_inside_a_grid_finds_the_grid_and_its_community(world):
    where = locate(34.405, 108.705)
    assert where.grid.code == "KG-DZ-XFL-G1"
    assert where.community.code == "KG-DZ-XFL"
    assert where.region == where.grid
    assert not where.off_grid


def test_a_point_on_a_shared_border_goes_to_one_grid_always_the_same(world):
    answers = {locate(34.405, 108.71).grid.code for _ in range(5)}
    assert answers == {"KG-DZ-XFL-G1"}


def test_a_corner_point_counts_as_inside(world):
    assert locate(34.40, 108.70).grid.code == "KG-DZ-XFL-G1"


def test_a_point_outside_every_grid_goes_to_the_nearest_community_flagged(world):
    # 程家村's grid spans lng 108.74–108.75; this point lies 0.005° east of it.
    where = locate(34.405, 108.755)
    assert where.off_grid
    assert where.grid is None
    assert where.region.code == "KG-DZ-CJC"
    assert 0.3 < where.distance_km < 0.6


def test_a_community_without_grids_is_found_by_its_centre(world):
    where = locate(34.331, 108.701)
    assert where.off_grid and where.region.code == "QH-WC-SPD"


def test_a_redrawn_grid_is_seen_by_the_next_lookup(world):
    assert locate(34.405, 108.735).off_grid
    grid = world.regions["cjc_g1"]
    region_update(region=grid, boundary=square(108.73, 34.40, 0.02))
    where = locate(34.405, 108.735)
    assert where.grid.code == "KG-DZ-CJC-G1"


def test_a_new_grid_is_seen_by_the_next_lookup(world):
    region_create(code="KG-DZ-CJC-G2", name="程家村第二网格", level=Level.GRID, parent=world.regions["cjc"],
                  boundary=square(108.75, 34.40, 0.01))
    assert locate(34.405, 108.755).grid.code == "KG-DZ-CJC-G2"


def test_a_self_crossing_outline_is_refused(world):
    bow_tie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(ValidationFailed) as err:
        region_update(region=world.regions["cjc_g1"], boundary=bow_tie)
    assert err.value.field == "boundary"


@pytest.mark.parametrize("lat,lng,field", [("x", 1, "lat"), (91, 1, "lat"), (1, 181, "lng"), (1, float("nan"), "lng")])
def test_bad_coordinates_name_the_field(lat, lng, field):
    with pytest.raises(ValidationFailed) as err:
        check_point(lat, lng)
    assert err.value.field == field


# The lookup only reads, so one world serves every example.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.floats(0.0005, 0.0095), y=st.floats(0.0005, 0.0095))
def test_every_interior_point_of_a_grid_is_found_in_it(world, x, y):
    assert locate(34.40 + y, 108.71 + x).grid.code == "KG-DZ-XFL-G2"
