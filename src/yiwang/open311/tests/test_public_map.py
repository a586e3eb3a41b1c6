"""The public map of incidents (/open/map/, /api/v1/public/incidents): rounded locations, no personal
data, and staff moderation of what it shows, with a log."""

import datetime as dt
import json
import zoneinfo

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.command.services import register_and_dispatch
from yiwang.core import clock
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.open311.models import PublicText, PublicTextLog
from yiwang.open311.selectors import MAP_CELL_DEGREES, cell_centre, public_map_incidents
from yiwang.open311.services import public_text_set
from yiwang.org.models import Role
from yiwang.org.services import staff_grant, user_create

pytestmark = pytest.mark.django_db
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
SECRET = "欧阳秘密 110101199003077777 13912345678 =1+1"
HOME = (34.405123, 108.705678)  # a front door


def report(world, lat=HOME[0], lng=HOME[1], matter="INC_PARKING"):
    return case_create(viewer=world.viewer("gridder_xfl"), matter_code=matter, lat=lat, lng=lng, title=SECRET,
                       description=SECRET, address=SECRET, channel="grid").case


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


def closed_report(world, **kw):
    case = report(world, **kw)
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result=SECRET, reply=SECRET)
    act(world, "operator_kg", case, "verify")
    return act(world, "operator_kg", case, "close", reply=SECRET)


def neighbour(world):
    """A handler in 程家村, the community beside the reports' 幸福里 in the same town."""
    if "handler_cjc" not in world.users:
        world.users["handler_cjc"] = user_create(username="handler_cjc", password="pw-handler_cjc")
        staff_grant(user=world.users["handler_cjc"], unit=world.units["cjc_branch"], role=Role.HANDLER)
    return world.viewer("handler_cjc")


@pytest.fixture
def reports(world):
    with clock.frozen_at(MONDAY):
        open_one = report(world)
        closed_one = closed_report(world, lat=34.40501, lng=108.70501)
    with clock.frozen_at(MONDAY - dt.timedelta(days=60)):
        old = closed_report(world, lng=108.745)
    return {"open": open_one, "closed": closed_one, "old": old}


def test_a_location_is_published_as_the_centre_of_its_cell():
    assert MAP_CELL_DEGREES == 0.001
    assert cell_centre(34.405123) == pytest.approx(34.4055)
    assert cell_centre(34.405999) == pytest.approx(34.4055)  # the whole cell shows at one point
    assert cell_centre(108.7) == pytest.approx(108.7005)  # a value on a cell edge belongs to the cell above
    assert cell_centre(-0.0004) == pytest.approx(-0.0005)


def test_open_and_recently_closed_reports_show_rounded_with_no_text(world, reports):
    with clock.frozen_at(MONDAY + dt.timedelta(days=1)):
        data = public_map_incidents()
    assert len(data["features"]) == 2  # the one closed 60 days ago is gone
    for feature in data["features"]:
        lng, lat = feature["geometry"]["coordinates"]
        assert (lat, lng) == (34.4055, 108.7055)  # both reports share their cell's centre
        assert feature["properties"]["category"] == "INC_PARKING" and feature["properties"]["text"] is None
    assert {f["properties"]["status"] for f in data["features"]} == {"open", "closed"}
    with clock.frozen_at(MONDAY + dt.timedelta(days=31)):
        assert [f["properties"]["status"] for f in public_map_incidents()["features"]] == ["open"]


def test_staff_hide_a_report_and_edit_its_text_and_each_change_is_logged(world, reports):
    number = reports["open"].number
    with clock.frozen_at(MONDAY + dt.timedelta(hours=1)):
        public_text_set(viewer=world.viewer("operator_kg"), number=number, hidden=False, text="路口车辆已劝离中")
        public_text_set(viewer=world.viewer("operator_kg"), number=number, hidden=False, text="路口车辆已劝离中")
        with clock.frozen_at(MONDAY + dt.timedelta(hours=2)):
            shown = [f["properties"]["text"] for f in public_map_incidents()["features"]]
        assert "路口车辆已劝离中" in shown
        public_text_set(viewer=world.viewer("operator_kg"), number=number.lower(), hidden=True, text="")
        assert all(f["properties"]["status"] == "closed" for f in public_map_incidents()["features"])
    log = list(PublicTextLog.objects.filter(case=reports["open"]).order_by("id"))
    assert len(log) == 2  # the repeated save changed nothing and is not logged
    assert (log[0].hidden_before, log[0].text_before, log[0].text_after) == (False, "", "路口车辆已劝离中")
    assert (log[1].hidden_after, log[1].text_before, log[1].text_after) == (True, "路口车辆已劝离中", "")
    assert log[1].actor.username == "operator_kg"


@pytest.mark.parametrize("text", ["联系 13912345678", "身份证 110101199003077777", "坏\x00字", "长" * 201])
def test_a_public_text_with_personal_data_or_hostile_characters_is_refused(world, reports, text):
    with pytest.raises(ValidationFailed) as refused:
        public_text_set(viewer=world.viewer("operator_kg"), number=reports["open"].number, hidden=False, text=text)
    assert refused.value.field == "text"
    assert not PublicText.objects.exists() and not PublicTextLog.objects.exists()


def test_who_may_moderate(world, reports):
    number = reports["open"].number
    with pytest.raises(PermissionDenied):  # a resident, even one who could see a case of their own
        public_text_set(viewer=world.viewer("resident_wang"), number=number, hidden=True, text="")
    with pytest.raises(PermissionDenied):  # a clerk does not moderate
        public_text_set(viewer=world.viewer("clerk_spd"), number=number, hidden=True, text="")
    with pytest.raises(NotFound):  # a handler in the neighbouring community of the same town
        public_text_set(viewer=neighbour(world), number=number, hidden=True, text="")
    with pytest.raises(NotFound):  # a guessed number
        public_text_set(viewer=world.viewer("operator_kg"), number="YW2026112300000099999", hidden=True, text="")
    assert not PublicTextLog.objects.exists()


def test_the_workbench_case_page_moderates_and_refuses_others(world, reports, client):
    number = reports["open"].number
    client.force_login(world.users["operator_kg"])
    page = client.get(f"/work/cases/{number}/")
    assert page.status_code == 200 and 'id="public-moderation"' in page.content.decode()
    answer = client.post(f"/work/cases/{number}/public/", {"hidden": "1", "text": ""}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and PublicText.objects.get().hidden
    answer = client.post(f"/work/cases/{number}/public/", {"text": "=1+1 13912345678"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "field-error" in answer.content.decode()
    assert PublicTextLog.objects.count() == 1
    client.force_login(world.users["resident_wang"])
    assert client.post(f"/work/cases/{number}/public/", {"hidden": ""}).status_code == 403
    client.force_login(world.users["clerk_spd"])
    assert client.post(f"/work/cases/{number}/public/", {"hidden": ""}).status_code == 403
    neighbour(world)
    client.force_login(world.users["handler_cjc"])  # the neighbouring community's: not theirs to see
    assert client.post(f"/work/cases/{number}/public/", {"hidden": ""}).status_code == 404
    assert "public-moderation" not in client.get(f"/work/cases/{number}/").content.decode()
    assert PublicText.objects.get().hidden and PublicTextLog.objects.count() == 1


def test_the_public_map_holds_no_personal_data(world, reports, client):
    with clock.frozen_at(MONDAY + dt.timedelta(days=1)):
        answers = [client.get("/open/map/"), client.get("/api/v1/public/incidents")]
    assert all(a.status_code == 200 for a in answers)
    assert len(answers[1].json()["features"]) == 2
    for answer in answers:
        text = answer.content.decode() + json.dumps(answer.json() if "json" in answer["Content-Type"] else "",
                                                      ensure_ascii=False)
        for secret in ("欧阳秘密", "110101199003077777", "13912345678", "1391234", "=1+1", "34.405123",
                       "108.705678", reports["open"].number):
            assert secret not in text, secret


def test_the_admin_moderates_through_the_same_checks_and_log(world, reports, client):
    client.force_login(world.users["admin"])
    url = "/admin/open311/publictext/add/"
    answer = client.post(url, {"case": reports["open"].pk, "text": "车主 13912345678"})
    assert answer.status_code == 200 and "不能含有身份证号或手机号" in answer.content.decode()
    application = Case.objects.exclude(kind="incident").first() or case_create(
        viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL", description="问").case
    answer = client.post(url, {"case": application.pk, "text": "可以公开"})
    assert answer.status_code == 200 and "只有事件会出现在公开地图上" in answer.content.decode()
    assert not PublicText.objects.exists() and not PublicTextLog.objects.exists()
    answer = client.post(url, {"case": reports["open"].pk, "hidden": "on", "text": "已安排处置"})
    assert answer.status_code == 302
    row = PublicText.objects.get()
    assert (row.hidden, row.text, row.updated_by.username) == (True, "已安排处置", "admin")
    log = PublicTextLog.objects.get()
    assert (log.actor.username, log.hidden_after, log.text_after) == ("admin", True, "已安排处置")
    assert client.get(f"/admin/open311/publictextlog/{log.pk}/change/").status_code == 200
    assert client.post(f"/admin/open311/publictextlog/{log.pk}/delete/", {"post": "yes"}).status_code == 403
