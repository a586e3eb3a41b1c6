"""locate_many gives, point for point, what locate gives: inside, on borders and corners, off-grid."""

import random

import pytest

from yiwang.org.geo import locate, locate_many

pytestmark = pytest.mark.django_db


def test_locate_many_answers_as_locate_does(world):
    rnd = random.Random(7)
    # The demo world's grids lie within lng 108.69-108.76, lat 34.32-34.42: points around and beyond
    # them, on the 0.005° lattice (borders and corners) and anywhere.
    points = [(34.405, 108.705), (34.405, 108.71), (34.40, 108.70), (34.405, 108.755), (34.331, 108.701)]
    points += [(round(34.30 + 0.005 * rnd.randint(0, 30), 3), round(108.67 + 0.005 * rnd.randint(0, 24), 3))
               for _ in range(300)]
    points += [(rnd.uniform(34.2, 34.5), rnd.uniform(108.6, 108.9)) for _ in range(300)]
    many = locate_many(points)
    assert many == [locate(lat, lng) for lat, lng in points]
    assert any(where.off_grid for where in many) and any(not where.off_grid for where in many)


def test_locate_many_of_nothing_is_nothing(world):
    assert locate_many([]) == []
