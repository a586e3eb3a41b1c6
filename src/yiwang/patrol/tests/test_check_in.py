"""A grid worker's own patrol (巡查签到): no shift, started by the first check-in."""

import datetime as dt

from yiwang.core import clock
from yiwang.patrol import services
from yiwang.patrol.models import PatrolLog
from yiwang.patrol.tests.conftest import AFTERNOON, IN_XFL_G1


def test_a_grid_worker_checks_in_without_a_shift(world, frozen):
    log = services.patrol_start(viewer=world.viewer("gridder_xfl"), lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])
    assert log.shift is None and log.user == world.users["gridder_xfl"]
    assert log.region_id == world.regions["xfl_g1"].id and log.region_path == world.regions["xfl_g1"].path
    services.patrol_check_in(viewer=world.viewer("gridder_xfl"), log=log, lat=34.405, lng=108.715)
    log.refresh_from_db()
    assert len(log.track) == 2


def test_starting_again_while_under_way_continues_the_same_patrol(world, frozen):
    viewer = world.viewer("gridder_xfl")
    assert services.patrol_start(viewer=viewer, lat=34.405, lng=108.705) == services.patrol_start(
        viewer=viewer, lat=34.405, lng=108.706)


def test_a_patrol_forgotten_overnight_is_closed_at_its_last_point_and_a_new_one_starts(world, frozen):
    viewer = world.viewer("gridder_xfl")
    old = services.patrol_start(viewer=viewer, lat=34.405, lng=108.705)
    with clock.frozen_at(AFTERNOON + dt.timedelta(hours=20)):
        new = services.patrol_start(viewer=viewer, lat=34.405, lng=108.705)
    old.refresh_from_db()
    assert new != old and old.ended_at == AFTERNOON and new.is_open


def test_a_point_outside_every_grid_is_kept_in_the_nearest_community(world, frozen):
    log = services.patrol_start(viewer=world.viewer("gridder_xfl"), lat=34.33, lng=108.70)
    assert log.region.level == "community"
    assert PatrolLog.objects.count() == 1


def test_the_check_in_page_partial_starts_and_extends_the_patrol(client, world, frozen):
    client.force_login(world.users["gridder_xfl"])
    response = client.post("/patrol/check-in/", {"lat": "34.405", "lng": "108.705"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="patrol-check-in"' in body and "已签到 1 次" in body and "<html" not in body
    body = client.post("/patrol/check-in/", {"lat": "34.406", "lng": "108.706"}, HTTP_HX_REQUEST="true").content.decode()
    assert "已签到 2 次" in body and "34.40600" in body
    body = client.post("/patrol/check-in/finish/", HTTP_HX_REQUEST="true").content.decode()
    assert "当前没有进行中的巡查" in body
    assert PatrolLog.objects.get().ended_at is not None


def test_the_partial_reports_a_bad_point_without_failing(client, world, frozen):
    client.force_login(world.users["gridder_xfl"])
    response = client.post("/patrol/check-in/", {"lat": "", "lng": "108.7"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "坐标须为数字" in response.content.decode()
    assert not PatrolLog.objects.exists()


def test_without_htmx_the_check_in_goes_back_to_the_page(client, world, frozen):
    client.force_login(world.users["gridder_xfl"])
    response = client.post("/patrol/check-in/", {"lat": "34.405", "lng": "108.705"}, HTTP_REFERER="/work/")
    assert response.status_code == 302 and response["Location"] == "/work/"
    response = client.post("/patrol/check-in/", {"lat": "34.405", "lng": "108.705"},
                           HTTP_REFERER="https://evil.example/")
    assert response["Location"] == "/patrol/me/"


def test_the_partial_can_be_included_in_another_page_and_loads_itself(rf, world):
    from django.template import Context, Template

    request = rf.get("/work/")
    request.user = world.users["gridder_xfl"]
    html = Template('{% include "patrol/_check_in.html" %}').render(Context({"request": request}))
    assert 'hx-get="/patrol/check-in/"' in html and 'hx-trigger="load"' in html


def test_a_resident_cannot_check_in(client, world, frozen):
    client.force_login(world.users["resident_wang"])
    body = client.post("/patrol/check-in/", {"lat": "34.405", "lng": "108.705"}, HTTP_HX_REQUEST="true").content.decode()
    assert "只有网格员等工作人员可以巡查签到" in body
    assert not PatrolLog.objects.exists()
