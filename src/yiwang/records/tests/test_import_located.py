"""`yiwang import` places a record by its coordinates as case_create would (the chunk located at once)."""

import pytest

from yiwang.cases.models import Case
from yiwang.records.tests.test_import import refused, run_import, senior, verify_passes

pytestmark = pytest.mark.django_db(transaction=True)


def test_records_are_placed_by_their_points(world, tmp_path):
    no_region = {"region": None}
    run_import(
        tmp_path,
        senior("P-1", lat=34.405, lng=108.705, **no_region),  # inside 幸福里's first grid
        senior("P-2", lat=34.405, lng=108.705, **no_region),  # the same point twice in a chunk
        senior("P-3", lat=34.405, lng=108.755, **no_region),  # east of 程家村's grid: off-grid
        senior("P-4", lat=34.405, lng=108.705),  # a pin in a grid of the named community
    )
    cases = {c.idempotency_key[-3:]: c for c in Case.objects.select_related("region")}
    assert cases["P-1"].region.code == cases["P-2"].region.code == cases["P-4"].region.code == "KG-DZ-XFL-G1"
    assert not cases["P-1"].off_grid
    assert cases["P-3"].off_grid and cases["P-3"].region.code == "KG-DZ-CJC"
    off = cases["P-3"].events.get(seq=1).payload["off_grid"]
    assert off["community"] == "KG-DZ-CJC" and 0.3 < off["distance_km"] < 0.6
    verify_passes()


def test_a_bad_coordinate_still_names_its_field(world, tmp_path):
    assert "坐标" in refused(tmp_path, senior("B-1", lat="north", lng=108.7))
