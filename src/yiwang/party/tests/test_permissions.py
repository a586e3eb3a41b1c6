"""Only the branch's secretary or a leader over its region changes a branch's records; the rest of
the staff in scope may read; staff elsewhere see nothing."""

import datetime as dt

import pytest

from yiwang.core.errors import NotFound, PermissionDenied
from yiwang.org.models import Role, UnitKind
from yiwang.org.services import staff_grant, unit_create, user_create
from yiwang.party import selectors, services
from yiwang.party.models import PartyMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_branch(world):
    """玻璃厂三普东社区's branch in 秦汉新城, with its own secretary and a 秦汉 leader."""
    unit = unit_create(code="QH-WC-SPD-DZB", name="三普东社区党支部", kind=UnitKind.PARTY_BRANCH,
                       region=world.regions["spd"])
    for username, role, where in [("secretary_spd", Role.SECRETARY, unit), ("leader_qh", Role.LEADER, unit)]:
        world.users[username] = user_create(username=username, password="pw-" + username)
        staff_grant(user=world.users[username], unit=where, role=role)
    return unit


def add_member(world, who, branch):
    return services.member_create(viewer=world.viewer(who), branch=branch, name="某党员", gender="male",
                                  birth_date=dt.date(1970, 1, 1))


@pytest.mark.parametrize("who", ["secretary_cjc", "leader_kg", "admin"])
def test_the_secretary_and_leaders_over_the_region_manage_the_branch(world, branch, who):
    assert selectors.may_manage(world.viewer(who), branch)
    assert add_member(world, who, branch).branch_id == branch.id


@pytest.mark.parametrize("who", ["handler_en", "clerk_xfl", "gridder_xfl", "operator_kg", "secretary_spd",
                                 "leader_qh"])
def test_other_staff_cannot_change_the_branch(world, branch, other_branch, members, who):
    viewer = world.viewer(who)
    assert not selectors.may_manage(viewer, branch)
    with pytest.raises(PermissionDenied):
        add_member(world, who, branch)
    with pytest.raises(PermissionDenied):
        services.grouping_save(viewer=viewer, branch=branch, groups=[
            {"name": "甲", "kind": "custom", "members": [m.id for m in members]}])
    with pytest.raises(PermissionDenied):
        services.member_update(viewer=viewer, member=members[0], occupation="x")


def test_a_town_handler_reads_the_branch_but_the_other_city_does_not_see_it(world, branch, other_branch, members):
    assert selectors.branch_get(viewer=world.viewer("handler_en"), code=branch.code) == branch
    for who in ("secretary_spd", "leader_qh", "clerk_xfl"):
        with pytest.raises(NotFound):
            selectors.branch_get(viewer=world.viewer(who), code=branch.code)
        assert not selectors.member_list(viewer=world.viewer(who), branch=branch).exists()
    assert selectors.branch_list(viewer=world.viewer("secretary_spd")) == [other_branch]


def test_a_pair_of_another_branch_is_not_found(world, pair, other_branch):
    for who in ("secretary_spd", "leader_qh"):
        with pytest.raises(NotFound):
            services.pair_visit(viewer=world.viewer(who), pair_id=pair.id, version=pair.case.version, comment="x")


def test_residents_see_no_branch(world, branch, pair):
    viewer = world.viewer("resident_wang")
    assert selectors.branch_list(viewer=viewer) == []
    with pytest.raises(NotFound):
        selectors.pair_get(viewer=viewer, pair_id=pair.id)


def test_the_api_refuses_the_other_tenant(api, world, branch, other_branch, members, pair):
    assert api("get", f"/party/branches/{branch.code}", "secretary_spd").status_code == 404
    assert api("get", f"/party/pairs/{pair.id}", "secretary_spd").status_code == 404
    assert api("post", f"/party/members/{members[0].id}/deactivate", "secretary_spd").status_code == 404
    body = {"name": "某", "gender": "male", "birth_date": "1970-01-01"}
    assert api("post", f"/party/branches/{branch.code}/members", "handler_en", body).status_code == 403
    assert api("post", f"/party/branches/{branch.code}/members", "secretary_spd", body).status_code == 404
    assert api("patch", f"/party/members/{members[0].id}", "secretary_spd", {"name": "x"}).status_code == 404
    member = PartyMember.objects.get(pk=members[0].id)
    assert (member.name, member.active) == (members[0].name, True)  # the refused writes changed nothing
    assert PartyMember.objects.filter(branch=branch).count() == len(members)
