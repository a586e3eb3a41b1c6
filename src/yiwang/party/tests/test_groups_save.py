"""The secretary edits the grouping proposal and saves it, all or nothing."""

import datetime as dt

import pytest

from yiwang.core.errors import ValidationFailed
from yiwang.party import selectors, services
from yiwang.party.models import GroupMembership, PartyGroup

pytestmark = pytest.mark.django_db


def test_the_proposal_names_characteristic_groups_and_suggests_leaders(world, branch, members):
    proposal = selectors.grouping_proposal(viewer=world.viewer("secretary_cjc"), branch=branch, n=4)
    assert [g.name for g in proposal] == ["致富之星党小组", "服务之星党小组", "青春之星党小组", "第四党小组"]
    assert [g.kind for g in proposal] == ["wealth", "service", "youth", "custom"]
    assert sorted(len(g.members) for g in proposal) == [2, 2, 2, 3]
    for g in proposal:
        assert g.leader_id in {m.id for m in g.members}


def test_an_edited_proposal_is_saved_in_one_go(world, branch, members):
    secretary = world.viewer("secretary_cjc")
    groups = services.proposal_as_groups(selectors.grouping_proposal(viewer=secretary, branch=branch, n=3))
    moved = groups[0]["members"].pop()  # the secretary moves one member to the third group
    if groups[0]["leader"] == moved:
        groups[0]["leader"] = groups[0]["members"][0]
    groups[2]["members"].append(moved)
    groups[2]["name"] = "乡村振兴党小组"
    services.grouping_save(viewer=secretary, branch=branch, groups=groups)
    saved = selectors.group_list(viewer=secretary, branch=branch)
    assert [g.name for g in saved] == ["致富之星党小组", "服务之星党小组", "乡村振兴党小组"]
    assert moved in [m.member_id for m in saved[2].memberships.all()]
    assert GroupMembership.objects.count() == len(members)
    assert all(g.region_path == branch.region_path for g in saved)


def test_saving_again_replaces_the_groups(world, branch, members):
    secretary = world.viewer("secretary_cjc")
    for n in (4, 2):
        proposal = selectors.grouping_proposal(viewer=secretary, branch=branch, n=n)
        services.grouping_save(viewer=secretary, branch=branch, groups=services.proposal_as_groups(proposal))
    assert PartyGroup.objects.filter(branch=branch).count() == 2
    assert GroupMembership.objects.count() == len(members)


def _groups(members, split=4):
    ids = [m.id for m in members]
    return [{"name": "甲", "kind": "wealth", "members": ids[:split], "leader": ids[0]},
            {"name": "乙", "kind": "custom", "members": ids[split:], "leader": None}]


@pytest.mark.parametrize("change,field", [
    (lambda g: g[1]["members"].pop(), "groups"),  # someone left out
    (lambda g: g[1]["members"].append(g[0]["members"][0]), "groups.1.members"),  # someone twice
    (lambda g: g[1]["members"].append(999_999), "groups.1.members"),  # not a member
    (lambda g: g[1].update(name="甲"), "groups.1.name"),
    (lambda g: g[1].update(name=" "), "groups.1.name"),
    (lambda g: g[0].update(kind="gold"), "groups.0.kind"),
    (lambda g: g[0].update(leader=g[1]["members"][0]), "groups.0.leader"),
    (lambda g: g[1].update(members="1,2"), "groups.1.members"),
    (lambda g: g.clear(), "groups"),
])
def test_a_bad_grouping_is_refused_and_nothing_changes(world, branch, members, change, field):
    secretary = world.viewer("secretary_cjc")
    services.grouping_save(viewer=secretary, branch=branch, groups=_groups(members))
    groups = _groups(members, split=3)
    change(groups)
    with pytest.raises(ValidationFailed) as err:
        services.grouping_save(viewer=secretary, branch=branch, groups=groups)
    assert field in err.value.errors, err.value.errors
    assert [len(g.memberships.all()) for g in selectors.group_list(viewer=secretary, branch=branch)] == [4, 5]


def test_an_inactive_member_is_not_proposed(world, branch, members):
    secretary = world.viewer("secretary_cjc")
    services.member_deactivate(viewer=secretary, member=members[-1])
    proposal = selectors.grouping_proposal(viewer=secretary, branch=branch, n=2)
    assert members[-1].id not in {m.id for g in proposal for m in g.members}
    with pytest.raises(ValidationFailed) as err:
        selectors.grouping_proposal(viewer=secretary, branch=branch, n=len(members))
    assert err.value.field == "groups"


def test_members_added_after_grouping_must_be_placed_at_the_next_save(world, branch, members):
    secretary = world.viewer("secretary_cjc")
    services.grouping_save(viewer=secretary, branch=branch, groups=_groups(members))
    services.member_create(viewer=secretary, branch=branch, name="新党员", gender="male", birth_date=dt.date(2000, 1, 1))
    with pytest.raises(ValidationFailed) as err:
        services.grouping_save(viewer=secretary, branch=branch, groups=_groups(members))
    assert "新党员" in err.value.errors["groups"][0]
