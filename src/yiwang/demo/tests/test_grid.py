"""The demo's grid basic data is made through the services and is reproducible."""

import random

from yiwang.demo.grid import seed
from yiwang.grid.models import Building, Camera, HouseholdMember


def test_seed_fills_every_grid(world):
    made = seed(random.Random(1), lambda message: None)
    assert made["buildings"] == Building.objects.count() and made["cameras"] == Camera.objects.count() > 0
    assert HouseholdMember.objects.count() == made["residents"] == 1  # 王大爷: the one community resident with grids
    assert {c.grid.code for c in Camera.objects.all()} == {"KG-DZ-XFL-G1", "KG-DZ-XFL-G2", "KG-DZ-CJC-G1"}
