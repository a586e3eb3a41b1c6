"""The schedule page with its preview, a member's shifts tonight, and a patrol's track."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import Case
from yiwang.cases.tests.photos import jpeg
from yiwang.core import clock
from yiwang.org.selectors import viewer_for
from yiwang.patrol import services
from yiwang.patrol.models import PatrolLog, Shift, ShiftState
from yiwang.patrol.tests.conftest import IN_XFL_G1, MONDAY

JPEG = jpeg()  # a photo that decodes: photos are re-encoded from their pixels


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def week(patrol, frozen):
    return services.shifts_generate(viewer=viewer_for(patrol.secretary), team=patrol.team, start=MONDAY,
                                    end=MONDAY + dt.timedelta(days=6), seed=1)


def test_the_schedule_page_shows_a_month_of_shifts_and_the_turn_counts(client, patrol, week):
    body = login(client, patrol.secretary).get(f"/patrol/teams/{patrol.team.pk}/?month=2026-06").content.decode()
    assert patrol.team.name in body and "06-01" in body and "06-30" in body
    assert body.count("待巡逻") == 7
    assert "队员轮值次数" in body and "党员xfl1" in body
    assert 'name="preview"' in body  # the secretary may draw


def test_the_preview_shows_the_proposal_and_saving_it_keeps_it(client, patrol, frozen):
    c = login(client, patrol.secretary)
    url = f"/patrol/teams/{patrol.team.pk}/?preview=1&start=2026-06-01&end=2026-06-03&seed=11"
    body = c.get(url).content.decode()
    assert "预览" in body and "共 3 个班次" in body and "保存这个排班" in body
    assert not Shift.objects.exists()
    response = c.post(f"/patrol/teams/{patrol.team.pk}/generate/", {"start": "2026-06-01", "end": "2026-06-03",
                                                                     "seed": "11"})
    assert response.status_code == 302 and response["Location"].endswith("?month=2026-06")
    assert set(Shift.objects.values_list("seed", flat=True)) == {11} and Shift.objects.count() == 3


def test_the_preview_explains_nights_already_planned(client, patrol, week):
    body = login(client, patrol.secretary).get(
        f"/patrol/teams/{patrol.team.pk}/?preview=1&start=2026-06-05&end=2026-06-09").content.decode()
    assert "这些夜晚已有班次" in body and "保存这个排班" not in body


def test_a_bad_preview_range_is_explained_on_the_page(client, patrol, frozen):
    body = login(client, patrol.secretary).get(
        f"/patrol/teams/{patrol.team.pk}/?preview=1&start=2026-06-09&end=x").content.decode()
    assert "日期格式应为 YYYY-MM-DD" in body


def test_a_member_sees_the_schedule_but_cannot_draw(client, patrol, week):
    response = login(client, patrol.members[0]).get(f"/patrol/teams/{patrol.team.pk}/")
    assert response.status_code == 200 and 'name="preview"' not in response.content.decode()
    response = client.post(f"/patrol/teams/{patrol.team.pk}/generate/", {"start": "2026-06-10", "end": "2026-06-11"})
    assert response.status_code == 302 and Shift.objects.count() == 7


def test_another_branchs_team_is_not_found(client, patrol, world, frozen):
    c = login(client, world.users["secretary_spd"])
    page = c.get(f"/patrol/teams/{patrol.team.pk}/")
    assert page.status_code == 404
    assert patrol.team.name not in page.content.decode() and "党员xfl1" not in page.content.decode()
    assert patrol.team.name not in c.get("/patrol/").content.decode()
    drawn = c.post(f"/patrol/teams/{patrol.team.pk}/generate/", {"start": "2026-06-01", "end": "2026-06-03"})
    assert drawn.status_code == 404 and not Shift.objects.exists()


def test_tonights_shift_is_started_checked_in_reported_and_finished_from_my_shifts(client, patrol, week, settings,
                                                                                   tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tonight = week[0]
    member = tonight.assignments.first().user
    c = login(client, member)
    body = c.get("/patrol/me/").content.decode()
    assert "今晚" in body and "出发" in body and 'data-geo="lat"' in body
    with clock.frozen_at(tonight.starts_at):
        assert c.post(f"/patrol/shifts/{tonight.pk}/start/", {"lat": "34.405", "lng": "108.705"}).status_code == 302
        log = PatrolLog.objects.get()
        c.post(f"/patrol/logs/{log.pk}/check-in/", {"lat": "34.406", "lng": "108.706"})
        body = c.get("/patrol/me/").content.decode()
        assert "已签到 2 个点" in body and "上报发现" in body
        response = c.post(f"/patrol/logs/{log.pk}/findings/", {
            "category": "INC_THEFT", "description": "可疑车辆", "lat": str(IN_XFL_G1[0]), "lng": str(IN_XFL_G1[1]),
            "photo": SimpleUploadedFile("p.jpg", JPEG), "idempotency_key": "f1"})
        assert response.status_code == 302
        case = Case.objects.get()
        assert case.channel == "patrol" and case.materials[0]["content_type"] == "image/jpeg"
        c.post(f"/patrol/logs/{log.pk}/finish/")
    assert Shift.objects.get(pk=tonight.pk).state == ShiftState.DONE
    page = c.get(f"/patrol/logs/{log.pk}/").content.decode()
    assert "可疑车辆" in page and case.number in page and 'data-map-config="map-config"' in page
    assert "34.40600" in page


def test_an_error_on_my_shifts_is_shown_not_raised(client, patrol, week):
    tonight = week[0]
    c = login(client, tonight.assignments.first().user)
    response = c.post(f"/patrol/shifts/{tonight.pk}/start/", {"lat": "34.405", "lng": "108.705"}, follow=True)
    assert "还没到出发时间" in response.content.decode()


def test_someone_elses_shift_and_log_are_not_found(client, patrol, week, world):
    tonight = week[0]
    c = login(client, world.users["spd_member1"])
    with clock.frozen_at(tonight.starts_at):  # when its own members could start it
        started = c.post(f"/patrol/shifts/{tonight.pk}/start/", {"lat": "34.405", "lng": "108.705"})
    assert started.status_code == 404
    assert Shift.objects.get(pk=tonight.pk).state == ShiftState.PLANNED and not PatrolLog.objects.exists()
    log = services.patrol_start(viewer=world.viewer("gridder_xfl"), lat=34.405, lng=108.705)
    page = c.get(f"/patrol/logs/{log.pk}/")
    body = page.content.decode()
    assert page.status_code == 404 and "34.40500" not in body and "gridder_xfl" not in body
    assert c.post(f"/patrol/logs/{log.pk}/check-in/", {"lat": "34.406", "lng": "108.706"}).status_code == 404
    assert c.post(f"/patrol/logs/{log.pk}/finish/").status_code == 404
    log.refresh_from_db()
    assert len(log.track) == 1 and log.ended_at is None


def test_a_grid_worker_gets_the_check_in_partial_on_my_shifts(client, world, frozen):
    body = login(client, world.users["gridder_xfl"]).get("/patrol/me/").content.decode()
    assert "巡查签到" in body and "今晚没有您的班次" in body


def test_pages_need_a_login(client, patrol, week, world):
    log = services.patrol_start(viewer=world.viewer("gridder_xfl"), lat=34.405, lng=108.705)
    for url in ("/patrol/", "/patrol/me/", f"/patrol/teams/{patrol.team.pk}/", f"/patrol/logs/{log.pk}/",
                "/patrol/check-in/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == f"/login/?next={url}", url
        assert patrol.team.name not in response.content.decode(), url
    with clock.frozen_at(week[0].starts_at):
        for url in (f"/patrol/shifts/{week[0].pk}/start/", f"/patrol/logs/{log.pk}/check-in/", "/patrol/check-in/"):
            response = client.post(url, {"lat": "34.406", "lng": "108.706"})
            assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    log.refresh_from_db()
    assert len(log.track) == 1 and PatrolLog.objects.count() == 1
    assert Shift.objects.get(pk=week[0].pk).state == ShiftState.PLANNED


def test_the_index_lists_the_teams_in_scope(client, patrol, world):
    body = login(client, world.users["operator_area"]).get("/patrol/").content.decode()
    assert patrol.team.name in body and patrol.other_team.name in body
