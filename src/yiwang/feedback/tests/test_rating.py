"""好差评: one rating per finished case; a bad one opens a follow-up the rater can follow."""

import pytest
from django.utils import timezone

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.cases.workdays import add_workdays
from yiwang.core.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from yiwang.feedback.selectors import evaluation_counts, satisfaction_percent
from yiwang.feedback.services import evaluation_create
from yiwang.testing import SENIOR_OK


def finished_case(world):
    wang = world.viewer("resident_wang")
    case = case_create(viewer=wang, matter_code="SENIOR_CARD", **SENIOR_OK).case
    for viewer, action, kw in [("clerk_xfl", "accept", {}), ("handler_xfl", "decide", {"decision": "approved"}),
                               ("handler_xfl", "close", {"delivery": {"method": "post", "tracking": "SF1234567890"}})]:
        case = case_act(viewer=world.viewer(viewer), case_id=case.pk, action=action, version=case.version, **kw)
    return case


def rate(world, case, rating, username="resident_wang", **kw):
    return evaluation_create(viewer=world.viewer(username), case_id=case.pk, rating=rating, **kw)


def test_the_applicant_rates_a_finished_case(world):
    evaluation = rate(world, finished_case(world), 5, comment="很快", tags=["efficiency"])
    assert evaluation.rating == 5
    assert evaluation.handling_unit_id == world.units["xfl_sh"].id
    assert evaluation.follow_up_case is None


def test_a_case_is_rated_once_and_never_edited(world):
    case = finished_case(world)
    rate(world, case, 4)
    with pytest.raises(Conflict):
        rate(world, case, 1)


def test_an_open_case_cannot_be_rated(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    with pytest.raises(IllegalTransition):
        rate(world, case, 5)


def test_another_resident_cannot_even_find_the_case_to_rate(world):
    case = finished_case(world)
    with pytest.raises(NotFound):
        rate(world, case, 5, username="resident_li")


def test_staff_cannot_rate_online_for_the_applicant(world):
    case = finished_case(world)
    with pytest.raises(PermissionDenied):
        rate(world, case, 5, username="clerk_xfl")


@pytest.mark.parametrize("channel", ["pad", "kiosk", "hotline"])
def test_a_rater_cannot_pass_her_own_rating_off_as_a_staff_operated_channel(world, channel):
    with pytest.raises(PermissionDenied) as refused:
        rate(world, finished_case(world), 5, channel=channel)
    assert refused.value.field == "channel"


def test_a_window_pad_rating_is_taken_by_the_handling_units_staff(world):
    evaluation = rate(world, finished_case(world), 5, username="clerk_xfl", channel="pad", tags=["attitude"])
    assert evaluation.channel == "pad"


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_outside_one_to_five_is_refused(world, rating):
    with pytest.raises(ValidationFailed):
        rate(world, finished_case(world), rating)


def test_an_online_rating_cannot_tick_offline_tags(world):
    with pytest.raises(ValidationFailed):
        rate(world, finished_case(world), 5, tags=["attitude"])


@pytest.mark.parametrize("rating", [1, 2])
def test_a_bad_review_opens_a_follow_up_due_in_fifteen_working_days(world, rating):
    case = finished_case(world)
    evaluation = rate(world, case, rating, comment="等太久")
    follow_up = evaluation.follow_up_case
    assert follow_up.kind == "follow_up"
    assert follow_up.holder_unit_id == world.units["xfl_sh"].id
    assert follow_up.applicant_id == case.applicant_id
    expected = add_workdays(timezone.localdate(follow_up.created_at), 15)
    assert timezone.localdate(follow_up.due_at) == expected


def test_a_three_is_not_a_bad_review(world):
    assert rate(world, finished_case(world), 3).follow_up_case is None


def test_the_rater_sees_the_follow_up_outcome(world):
    evaluation = rate(world, finished_case(world), 1)
    follow_up = evaluation.follow_up_case
    clerk = world.viewer("clerk_xfl")
    follow_up = case_act(viewer=clerk, case_id=follow_up.pk, action="call_back", version=1, comment="已电话回访")
    case_act(viewer=clerk, case_id=follow_up.pk, action="report_back", version=follow_up.version,
             result="已整改：增加窗口人手")
    seen = Case.objects.filter(pk=follow_up.pk).first()
    assert seen.state == "closed"
    assert seen.result == "已整改：增加窗口人手"


def test_satisfaction_is_good_ratings_over_all_to_three_decimals():
    assert satisfaction_percent(142_847, 142_857) == "99.993"
    assert satisfaction_percent(1, 3) == "33.333"
    assert satisfaction_percent(0, 0) is None


def test_ratings_count_for_the_handling_unit_and_its_region(world):
    rate(world, finished_case(world), 5)
    rate(world, finished_case(world), 2)
    leader = world.viewer("leader_kg")
    counts = evaluation_counts(viewer=leader)
    assert counts == {"ratings": 2, "bad_reviews": 1, "satisfaction_rate": "50.000"}
    assert evaluation_counts(viewer=leader, region_path=world.regions["qh"].path)["ratings"] == 0


def _rectified(world, rating=1):
    """A bad review whose follow-up has been called back and reported back (closed)."""
    evaluation = rate(world, finished_case(world), rating, comment="等太久")
    clerk = world.viewer("clerk_xfl")
    follow_up = case_act(viewer=clerk, case_id=evaluation.follow_up_case.pk, action="call_back", version=1,
                         comment="已电话回访")
    case_act(viewer=clerk, case_id=follow_up.pk, action="report_back", version=follow_up.version,
             result="已整改：增加窗口人手")
    return evaluation, Case.objects.get(pk=follow_up.pk)


def test_the_rater_adds_one_follow_up_rating_once_the_rectification_is_reported(world):
    original, follow_up = _rectified(world)
    second = rate(world, follow_up, 4, comment="改好了", tags=["efficiency"])
    assert second.case_id == follow_up.pk and second.rating == 4
    # It counts for the unit that handled the original case, beside the original rating.
    assert second.handling_unit_id == original.handling_unit_id
    counts = evaluation_counts(viewer=world.viewer("leader_kg"))
    assert (counts["ratings"], counts["bad_reviews"]) == (2, 1)
    with pytest.raises(Conflict):  # one 追评, never edited
        rate(world, follow_up, 5)


def test_a_bad_follow_up_rating_opens_no_second_follow_up(world):
    _, follow_up = _rectified(world)
    second = rate(world, follow_up, 1, comment="还是不行")
    assert second.follow_up_case is None
    assert Case.objects.filter(kind="follow_up").count() == 1


def test_no_follow_up_rating_before_the_outcome_is_reported(world):
    evaluation = rate(world, finished_case(world), 2)
    with pytest.raises(IllegalTransition):
        rate(world, evaluation.follow_up_case, 5)


def test_only_the_rater_adds_the_follow_up_rating(world):
    _, follow_up = _rectified(world)
    with pytest.raises(NotFound):
        rate(world, follow_up, 5, username="resident_li")
    with pytest.raises(PermissionDenied):
        rate(world, follow_up, 5, username="clerk_xfl")


def test_the_case_page_offers_the_follow_up_rating_and_then_shows_it(world, client):
    original, follow_up = _rectified(world)
    client.force_login(world.users["resident_wang"])
    page = client.get(f"/cases/{original.case.number}/").content.decode()
    assert f'href="/cases/{follow_up.number}/#rate"' in page
    form = client.get(f"/cases/{follow_up.number}/").content.decode()
    assert 'id="rate"' in form and "追评" in form
    answer = client.post(f"/cases/{follow_up.number}/action/", {"action": "rate", "rating": "5", "comment": "好"})
    assert answer.status_code == 302
    page = client.get(f"/cases/{original.case.number}/").content.decode()
    assert 'id="follow-up-rating"' in page and "follow-up-rate" not in page
