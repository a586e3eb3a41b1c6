"""The grid worker's page: my grids and their figures, a report that lands in the grid, read-only for others."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.grid import services
from yiwang.grid.models import Household
from yiwang.grid.selectors import grid_counts, my_grids
from yiwang.org.models import Region


def _real_jpeg() -> bytes:
    # A photo that decodes: reports keep only re-encoded pixels (cases.attachments.photos_store).
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(out, "JPEG")
    return out.getvalue()


JPEG = _real_jpeg()


def login(client, username):
    client.login(username=username, password="pw-" + username.removeprefix("resident_"))
    return client


@pytest.fixture
def basic_data(world):
    g1 = world.regions["xfl_g1"]
    household = services.household_create(grid=g1, address="幸福里1号楼101", number="101")
    services.household_member_set(household=household, resident=world.residents["wang"], relation="head")
    services.resident_flags_set(resident=world.residents["wang"], elderly_alone=True)
    services.building_save(grid=g1, name="1号楼", floors=18)
    services.organisation_save(grid=g1, name="幸福里超市", kind="shop")
    return household


def test_the_grid_worker_sees_the_grids_of_the_community(client, world, basic_data):
    body = login(client, "gridder_xfl").get("/grid/").content.decode()
    assert "幸福里第一网格" in body and "幸福里第二网格" in body and "程家村第一网格" not in body


def test_the_grid_page_shows_figures_map_form_and_masked_vulnerable_residents(client, world, basic_data):
    response = login(client, "gridder_xfl").get("/grid/KG-DZ-XFL-G1/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "王大爷" in body and "6104************3X" in body and "61040219500101123X" not in body
    assert "138****0001" in body and 'name="category"' in body and 'data-map-config="map-config"' in body
    assert "grid/locate.js" in body and "KG-DZ-XFL-G1" in body


def test_a_report_through_the_page_lands_in_the_grid_with_channel_grid(client, world, media):
    response = login(client, "gridder_xfl").post("/grid/KG-DZ-XFL-G1/", {
        "category": "INC_PARKING", "description": "小区门口乱停车", "lat": "34.405", "lng": "108.715",
        "photo": SimpleUploadedFile("p.jpg", JPEG), "idempotency_key": "k1",
    })
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.channel == "grid" and case.kind == "incident"
    assert case.region_path == Region.objects.get(code="KG-DZ-XFL-G2").path  # where the point is
    assert case.materials[0]["content_type"] == "image/jpeg"
    page = client.get("/grid/KG-DZ-XFL-G2/").content.decode()
    assert case.number in page and f"/work/cases/{case.number}/" in page


def test_a_report_without_a_point_stays_in_the_grid_it_was_made_from(client, world):
    login(client, "gridder_xfl").post("/grid/KG-DZ-XFL-G1/", {"category": "INC_PARKING", "description": "乱停车"})
    case = Case.objects.get()
    assert case.region_path == Region.objects.get(code="KG-DZ-XFL-G1").path and case.channel == "grid"


@pytest.mark.parametrize("form, field_text", [
    ({"category": "SENIOR_CARD", "description": "x"}, "事件类别"),
    ({"category": "INC_PARKING", "description": "x", "lat": "999", "lng": "108"}, "坐标超出范围"),
    ({"category": "INC_PARKING", "description": " "}, "请描述"),
    ({"category": "INC_PARKING", "description": "x", "photo": SimpleUploadedFile("p.jpg", b"MZ nope")}, "JPEG 或 PNG"),
])
def test_a_bad_report_is_shown_on_the_form_not_a_500(client, world, media, form, field_text):
    response = login(client, "gridder_xfl").post("/grid/KG-DZ-XFL-G1/", form)
    assert response.status_code == 200 and field_text in response.content.decode()
    assert Case.objects.count() == 0


def test_other_staff_get_a_read_only_view(client, world, basic_data):
    body = login(client, "handler_dz").get("/grid/").content.decode()
    assert "程家村第一网格" in body and "幸福里第一网格" in body
    page = client.get("/grid/KG-DZ-XFL-G1/").content.decode()
    assert 'name="category"' not in page and "王大爷" in page
    client.post("/grid/KG-DZ-XFL-G1/", {"category": "INC_PARKING", "description": "x"})
    assert Case.objects.count() == 0


def test_staff_of_another_region_do_not_see_the_grid(client, world, basic_data):
    login(client, "clerk_spd")
    assert "幸福里" not in client.get("/grid/").content.decode()
    assert client.get("/grid/KG-DZ-XFL-G1/").status_code == 404


def test_residents_and_strangers_are_kept_out(client, world, basic_data):
    report = {"category": "INC_PARKING", "description": "乱停车", "lat": "34.405", "lng": "108.705"}
    stranger = client.get("/grid/")
    assert stranger.status_code == 302 and stranger["Location"] == "/login/?next=/grid/"
    assert client.post("/grid/KG-DZ-XFL-G1/", report)["Location"].startswith("/login/")
    login(client, "resident_wang")
    for url in ("/grid/", "/grid/KG-DZ-XFL-G1/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 403, url
        # Nothing of the grids or their residents comes back; the view's reason does, on the site's 403 page.
        assert "幸福里第一网格" not in body and "王大爷" not in body and "138****0001" not in body, url
        assert "网格页面只对工作人员开放。" in body, url
    refused = client.post("/grid/KG-DZ-XFL-G1/", report)
    assert refused.status_code == 403
    assert Case.objects.count() == 0


def test_counts_add_up_and_are_scoped(world, basic_data):
    case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                channel="grid")
    g1 = world.regions["xfl_g1"]
    counts = grid_counts(viewer=world.viewer("gridder_xfl"), grids=[g1])[g1.id]
    assert (counts.households, counts.residents, counts.elderly_alone, counts.buildings, counts.organisations,
            counts.open_incidents) == (1, 1, 1, 1, 1, 1)
    outsider = grid_counts(viewer=world.viewer("clerk_spd"), grids=[g1])[g1.id]
    assert outsider.households == outsider.residents == outsider.open_incidents == 0


def test_the_api_gives_a_grids_figures_only_in_scope(api, basic_data):
    response = api("get", "/grids/KG-DZ-XFL-G1", "gridder_xfl")
    assert response.status_code == 200 and response.json()["counts"]["households"] == 1
    assert api("get", "/grids/KG-DZ-XFL-G1", "clerk_spd").status_code == 404


def test_an_assigned_grid_worker_keeps_only_their_grids(world):
    services.grid_assign(user=world.users["gridder_xfl"], grid=world.regions["xfl_g2"])
    assert [g.code for g in my_grids(viewer=world.viewer("gridder_xfl"))] == ["KG-DZ-XFL-G2"]


def test_moving_house_moves_the_membership(world, basic_data):
    other = services.household_create(grid=world.regions["xfl_g2"], address="幸福里2号楼")
    services.household_member_set(household=other, resident=world.residents["wang"], relation="head")
    assert basic_data.members.count() == 0 and Household.objects.get(pk=other.pk).head_name == "王大爷"


def test_the_grid_worker_checks_in_on_patrol_from_the_grid_page(client, world):
    from yiwang.patrol.models import PatrolLog

    login(client, "gridder_xfl")
    page = client.get("/grid/").content.decode()
    assert 'id="patrol-check-in"' in page and "patrol/locate.js" in page
    client.post("/patrol/check-in/", {"lat": "34.405", "lng": "108.705"}, HTTP_HX_REQUEST="true")
    log = PatrolLog.objects.get()
    assert log.shift_id is None and log.user.username == "gridder_xfl" and len(log.track) == 1


# --- a report's POST reads the grid from the cached hierarchy, not its row (bench/incident_intake.py) ----


def test_a_report_to_a_grid_out_of_reach_or_not_a_grid_is_not_found_and_opens_nothing(client, world):
    report = {"category": "INC_PARKING", "description": "乱停车"}
    login(client, "clerk_spd")  # staff of another region
    assert client.post("/grid/KG-DZ-XFL-G1/", report).status_code == 404
    login(client, "gridder_xfl")
    for code in ("KG-DZ-XFL", "KG-DZ-CJC-G1", "NO-SUCH-GRID", "KG-DZ-XFL-G1%00"):  # a community, another's grid, junk
        response = client.post(f"/grid/{code}/", report)
        assert response.status_code == 404, code
    assert Case.objects.count() == 0


def test_a_refused_report_shows_the_page_with_the_grid_and_the_field(client, world, basic_data):
    response = login(client, "gridder_xfl").post("/grid/KG-DZ-XFL-G1/", {"category": "INC_PARKING",
                                                                        "description": "x", "lat": "999"})
    body = response.content.decode()
    assert response.status_code == 200 and "坐标超出范围" in body and "王大爷" in body and 'name="category"' in body


def test_a_report_reads_no_more_than_the_session_the_user_and_their_roles(client, world, django_assert_max_num_queries):
    login(client, "gridder_xfl")
    report = {"category": "INC_PARKING", "description": "乱停车", "lat": "34.405", "lng": "108.705"}
    client.post("/grid/KG-DZ-XFL-G1/", report)  # the caches (hierarchy, catalogue, routing) filled
    # 4 reads (session, user, resident, staff) and the case's transaction (BEGIN, the case, its event,
    # three tallies, the queued job, COMMIT): no grid row, no matter list, no savepoint, no session write.
    with django_assert_max_num_queries(12):
        response = client.post("/grid/KG-DZ-XFL-G1/", report)
    assert response.status_code == 302 and Case.objects.count() == 2
