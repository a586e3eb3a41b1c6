"""Who may draw a team's shifts, who sees a team, and who may write to a patrol's log."""

import datetime as dt

import pytest

from yiwang.core import clock
from yiwang.core.errors import NotFound, PermissionDenied
from yiwang.org.models import Role
from yiwang.org.selectors import viewer_for
from yiwang.org.services import staff_grant
from yiwang.patrol import selectors, services
from yiwang.patrol.tests.conftest import IN_XFL_G1, MONDAY


def generate(user, team):
    return services.shifts_generate(viewer=viewer_for(user), team=team, start=MONDAY, end=MONDAY, seed=1)


@pytest.mark.parametrize("username", ["secretary_xfl", "operator_kg", "operator_area", "leader_kg", "admin"])
def test_it_allows_the_secretary_and_operators_or_leaders_over_the_region(patrol, world, frozen, username):
    assert len(generate(world.users[username], patrol.team)) == 1


@pytest.mark.parametrize("username", ["secretary_spd", "clerk_xfl", "gridder_xfl", "handler_en", "xfl_member1",
                                      "resident_wang"])
def test_it_refuses_everyone_else(patrol, world, frozen, username):
    with pytest.raises(PermissionDenied):
        generate(world.users[username], patrol.team)


def test_a_secretary_of_another_branch_cannot_preview_either(patrol, world, frozen):
    with pytest.raises(PermissionDenied):
        selectors.shift_proposal(viewer=world.viewer("secretary_spd"), team=patrol.team, start=MONDAY, end=MONDAY)


def test_a_secretary_role_elsewhere_over_the_region_is_not_enough(patrol, world, frozen):
    # A secretary is the secretary of the team's own branch, not of anything above it.
    staff_grant(user=world.users["handler_kg"], unit=world.units["kg_sh"], role=Role.SECRETARY)
    with pytest.raises(PermissionDenied):
        generate(world.users["handler_kg"], patrol.team)


def test_teams_are_scoped_to_the_region_and_to_their_members(patrol, world):
    def names(username):
        return {t.name for t in selectors.team_list(viewer=world.viewer(username))}

    assert names("operator_kg") == {patrol.team.name}
    assert names("operator_area") == {patrol.team.name, patrol.other_team.name}
    assert names("xfl_member1") == {patrol.team.name}
    assert names("spd_member1") == {patrol.other_team.name}
    assert names("resident_wang") == set()
    with pytest.raises(NotFound):
        selectors.team_get(viewer=world.viewer("secretary_spd"), team_id=patrol.team.pk)


def test_only_the_shifts_members_may_start_check_in_or_finish(patrol, world, frozen):
    shift = generate(patrol.secretary, patrol.team)[0]
    members = set(shift.assignments.values_list("user_id", flat=True))
    outsider = next(u for u in patrol.members if u.pk not in members)
    insider = next(u for u in patrol.members if u.pk in members)
    with clock.frozen_at(shift.starts_at):
        with pytest.raises(PermissionDenied):
            services.patrol_start(viewer=viewer_for(outsider), shift=shift, lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])
        with pytest.raises(PermissionDenied):
            services.patrol_start(viewer=viewer_for(patrol.secretary), shift=shift, lat=34.405, lng=108.705)
        log = services.patrol_start(viewer=viewer_for(insider), shift=shift, lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])
        for write in (lambda v: services.patrol_check_in(viewer=v, log=log, lat=34.405, lng=108.705),
                      lambda v: services.patrol_finish(viewer=v, log=log),
                      lambda v: services.finding_report(viewer=v, log=log, description="x", category="INC_THEFT",
                                                        lat=34.405, lng=108.705)):
            for user in (outsider, world.users["admin"], world.users["operator_kg"]):
                with pytest.raises(PermissionDenied):
                    write(viewer_for(user))


def test_only_its_own_user_may_write_to_a_check_in_patrol(patrol, world, frozen):
    log = services.patrol_start(viewer=world.viewer("gridder_xfl"), lat=34.405, lng=108.705)
    for username in ("handler_xfl", "admin"):
        with pytest.raises(PermissionDenied):
            services.patrol_check_in(viewer=world.viewer(username), log=log, lat=34.405, lng=108.705)


def test_a_party_member_without_a_staff_role_cannot_start_a_check_in_patrol(patrol, world, frozen):
    with pytest.raises(PermissionDenied):
        services.patrol_start(viewer=world.viewer("xfl_member1"), lat=34.405, lng=108.705)


def test_logs_are_seen_by_members_and_by_staff_over_the_region_only(patrol, world, frozen):
    shift = generate(patrol.secretary, patrol.team)[0]
    member = shift.assignments.first().user
    with clock.frozen_at(shift.starts_at + dt.timedelta(minutes=1)):
        log = services.patrol_start(viewer=viewer_for(member), shift=shift, lat=34.405, lng=108.705)
    for username in ("operator_kg", "secretary_xfl", "admin"):
        assert selectors.log_get(viewer=world.viewer(username), log_id=log.pk) == log
    for username in ("secretary_spd", "resident_wang", "spd_member1"):
        with pytest.raises(NotFound):
            selectors.log_get(viewer=world.viewer(username), log_id=log.pk)
