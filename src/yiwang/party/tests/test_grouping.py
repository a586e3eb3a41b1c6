"""The grouping proposal (party.grouping): pure, deterministic, balanced."""

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.core.errors import ValidationFailed
from yiwang.party.grouping import Candidate, imbalance, propose

TAGS = ["养殖", "种植", "务工", "电商", "经商", "教师"]

candidates = st.lists(
    st.builds(Candidate, id=st.integers(1, 10_000), birth_date=st.dates(dt.date(1930, 1, 1), dt.date(2005, 1, 1)),
              tags=st.frozensets(st.sampled_from(TAGS), max_size=3)),
    min_size=1, max_size=40, unique_by=lambda c: c.id,
)


@st.composite
def members_and_n(draw):
    members = draw(candidates)
    return members, draw(st.integers(1, len(members)))


@given(members_and_n())
@settings(max_examples=150, deadline=None)
def test_every_member_is_in_exactly_one_group_and_sizes_differ_by_at_most_one(case):
    members, n = case
    groups = propose(members, n)
    assert len(groups) == n
    placed = [i for g in groups for i in g]
    assert sorted(placed) == sorted(c.id for c in members)
    sizes = [len(g) for g in groups]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


@given(members_and_n(), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_the_proposal_does_not_depend_on_the_input_order(case, rnd):
    members, n = case
    shuffled = list(members)
    rnd.shuffle(shuffled)
    assert propose(shuffled, n) == propose(members, n)


@given(members_and_n())
@settings(max_examples=100, deadline=None)
def test_swapping_never_spreads_experience_worse_than_the_plain_deal(case):
    members, n = case
    by_id = {c.id: c for c in members}
    proposed = [[by_id[i] for i in g] for g in propose(members, n)]
    stripped = [Candidate(c.id, c.birth_date) for c in members]
    plain = [[by_id[i] for i in g] for g in propose(stripped, n)]  # no tags: the deal alone
    assert imbalance(proposed) <= imbalance(plain)


@given(members_and_n())
@settings(max_examples=100, deadline=None)
def test_each_group_gets_one_member_of_every_age_round(case):
    """Dealt by age: with N groups, the k-th N eldest members land in N different groups."""
    members, n = case
    ordered = sorted(members, key=lambda c: (c.birth_date, c.id))
    group_of = {i: g for g, ids in enumerate(propose(members, n)) for i in ids}
    for start in range(0, len(ordered), n):
        rnd = ordered[start:start + n]
        assert len({group_of[c.id] for c in rnd}) == len(rnd)


def test_thirty_five_members_in_four_groups_as_in_chengjia_village():
    rng = random.Random(7)
    members = [Candidate(i, dt.date(1945 + rng.randint(0, 55), 1 + rng.randint(0, 11), 1),
                         frozenset(rng.sample(TAGS, rng.randint(0, 2)))) for i in range(1, 36)]
    groups = propose(members, 4)
    assert sorted(len(g) for g in groups) == [8, 9, 9, 9]
    by_id = {c.id: c for c in members}
    # Every group has both young and old members: the age spread of each is most of the branch's.
    years = [c.birth_date.year for c in members]
    for g in groups:
        ys = [by_id[i].birth_date.year for i in g]
        assert max(ys) - min(ys) >= (max(years) - min(years)) * 0.7


def test_tags_are_spread_when_a_swap_can_spread_them():
    day = dt.date(1980, 1, 1)
    # Two rounds of two; the plain snake deal puts both 养殖 members in group 0.
    members = [Candidate(1, day, frozenset({"养殖"})), Candidate(2, day.replace(year=1981)),
               Candidate(3, day.replace(year=1982)), Candidate(4, day.replace(year=1983), frozenset({"养殖"}))]
    groups = propose(members, 2)
    assert [sum(1 for i in g if i in (1, 4)) for g in groups] == [1, 1]


@pytest.mark.parametrize("n", [0, -1, 10, "2", 2.0, True])
def test_a_bad_group_count_is_refused_on_the_groups_field(n):
    members = [Candidate(i, dt.date(1970, 1, i)) for i in range(1, 10)]
    with pytest.raises(ValidationFailed) as err:
        propose(members, n)
    assert err.value.field == "groups"


def test_no_members_cannot_be_grouped():
    with pytest.raises(ValidationFailed) as err:
        propose([], 1)
    assert err.value.field == "groups"
