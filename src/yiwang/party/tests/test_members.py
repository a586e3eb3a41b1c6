"""The branch's register of members."""

import datetime as dt

import pytest

from yiwang.core.errors import IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.party import selectors, services
from yiwang.party.models import GroupMembership, PartyMember

pytestmark = pytest.mark.django_db


def test_a_secretary_enters_a_member_with_experience_tags(world, branch):
    member = services.member_create(viewer=world.viewer("secretary_cjc"), branch=branch, name=" 张保权 ",
                                    gender="male", birth_date=dt.date(1968, 4, 2), occupation="家庭农场主",
                                    experience="养殖，经商、养殖", phone="13900000001")
    assert member.name == "张保权" and member.experience == ["养殖", "经商"]
    assert member.region_path == branch.region_path == "/XX/KG/KG-DZ/KG-DZ-CJC/"
    assert member.active


@pytest.mark.parametrize("fields,field", [
    ({"name": ""}, "name"),
    ({"gender": "x"}, "gender"),
    ({"birth_date": dt.date(2015, 1, 1)}, "birth_date"),
    ({"birth_date": "1970-01-01"}, "birth_date"),
    ({"joined_on": dt.date(1960, 1, 1)}, "joined_on"),
    ({"phone": "12345"}, "phone"),
    ({"experience": ["x" * 30]}, "experience"),
    ({"experience": 5}, "experience"),
])
def test_bad_member_fields_are_refused_with_the_field(world, branch, fields, field):
    base = {"name": "李娟", "gender": "female", "birth_date": dt.date(1990, 6, 1)}
    with pytest.raises(ValidationFailed) as err:
        services.member_create(viewer=world.viewer("secretary_cjc"), branch=branch, **{**base, **fields})
    assert field in err.value.errors
    assert not PartyMember.objects.exists()


def test_a_member_is_updated_and_deactivated_leaving_their_group(world, branch, members):
    secretary = world.viewer("secretary_cjc")
    member = services.member_update(viewer=secretary, member=members[3], occupation="电商主播", experience=["电商", "直播"])
    assert member.occupation == "电商主播" and member.experience == ["电商", "直播"]
    proposal = selectors.grouping_proposal(viewer=secretary, branch=branch, n=2)
    services.grouping_save(viewer=secretary, branch=branch, groups=services.proposal_as_groups(proposal))
    services.member_deactivate(viewer=secretary, member=member)
    member.refresh_from_db()
    assert not member.active and not GroupMembership.objects.filter(member=member).exists()
    assert member not in selectors.member_list(viewer=secretary, branch=branch)


def test_a_member_with_an_open_pair_cannot_be_deactivated(world, pair):
    with pytest.raises(IllegalTransition):
        services.member_deactivate(viewer=world.viewer("secretary_cjc"), member=pair.member)


def test_a_member_cannot_be_entered_in_a_unit_that_is_no_branch(world):
    with pytest.raises((ValidationFailed, PermissionDenied)):
        services.member_create(viewer=world.viewer("admin"), branch=world.units["dz_en"], name="某",
                               gender="male", birth_date=dt.date(1970, 1, 1))
