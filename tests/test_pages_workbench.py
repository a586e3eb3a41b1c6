"""Staff workbench pages: the queue, the case panel and its htmx actions."""

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.testing import SENIOR_OK


@pytest.fixture
def clerk(client, world):
    client.login(username="clerk_xfl", password="pw-clerk_xfl")
    return client


def new_case(world, region="KG-DZ-XFL"):
    return case_create(viewer=world.viewer("admin"), matter_code="SENIOR_CARD", region_code=region,
                       applicant_name="王大爷", applicant_phone="13800000001", **SENIOR_OK).case


def test_the_queue_lists_what_my_unit_holds_and_not_the_neighbours(clerk, world):
    mine, other = new_case(world), new_case(world, "QH-WC-SPD")
    body = clerk.get("/work/").content.decode()
    assert mine.number in body and other.number not in body


def test_overdue_cases_come_first_and_are_counted(clerk, world):
    import datetime as dt

    from django.utils import timezone

    from yiwang.core import clock

    with clock.frozen_at(timezone.make_aware(dt.datetime(2019, 9, 2, 9))):
        late = new_case(world)
        late = case_act(viewer=world.viewer("clerk_xfl"), case_id=late.pk, action="accept", version=1)
    fresh = new_case(world)
    case_act(viewer=world.viewer("clerk_xfl"), case_id=fresh.pk, action="accept", version=1)
    body = clerk.get("/work/").content.decode()
    assert body.index(late.number) < body.index(fresh.number)
    overdue_tab = clerk.get("/work/?tab=overdue").content.decode()
    assert late.number in overdue_tab and fresh.number not in overdue_tab


def test_the_queue_filters_by_state(clerk, world):
    a, b = new_case(world), new_case(world)
    case_act(viewer=world.viewer("clerk_xfl"), case_id=a.pk, action="accept", version=1)
    body = clerk.get("/work/", {"state": "submitted"}).content.decode()
    assert b.number in body and a.number not in body


def test_the_case_panel_offers_exactly_the_allowed_actions(clerk, world):
    case = new_case(world)
    body = clerk.get(f"/work/cases/{case.number}/").content.decode()
    assert "/act/accept/" in body and "/act/reject/" in body and "/act/close/" not in body


def test_an_htmx_action_answers_the_refreshed_panel(clerk, world):
    case = new_case(world)
    response = clerk.post(f"/work/cases/{case.number}/act/accept/", {"version": 1}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and "已受理" in body
    assert Case.objects.get(pk=case.pk).state == "accepted"


def test_a_stale_form_shows_a_conflict_message(clerk, world):
    case = new_case(world)
    clerk.post(f"/work/cases/{case.number}/act/accept/", {"version": 1})
    response = clerk.post(f"/work/cases/{case.number}/act/request_supplement/", {"version": 1, "comment": "缺"},
                          HTTP_HX_REQUEST="true")
    assert "请刷新后重试" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "accepted"


def test_a_resident_cannot_open_the_workbench(client, world):
    case = new_case(world)
    client.login(username="resident_wang", password="pw-wang")
    for url in ("/work/", f"/work/cases/{case.number}/"):
        response = client.get(url)
        assert response.status_code == 403 and "仅限工作人员。" in response.content.decode(), url
    acted = client.post(f"/work/cases/{case.number}/act/accept/", {"version": 1}, HTTP_HX_REQUEST="true")
    assert acted.status_code == 403 and "仅限工作人员。" in acted.content.decode()
    after = Case.objects.get(pk=case.pk)
    assert (after.state, after.version) == ("submitted", 1)


def test_another_communitys_case_page_is_a_404(clerk, world):
    other = new_case(world, "QH-WC-SPD")
    page = clerk.get(f"/work/cases/{other.number}/")
    assert page.status_code == 404
    assert other.number not in page.content.decode() and "王大爷" not in page.content.decode()
    assert other.number not in clerk.get("/work/").content.decode()
    acted = clerk.post(f"/work/cases/{other.number}/act/accept/", {"version": 1}, HTTP_HX_REQUEST="true")
    assert acted.status_code == 404 and other.number not in acted.content.decode()
    after = Case.objects.get(pk=other.pk)
    assert (after.state, after.version) == ("submitted", 1)


def test_a_home_visit_is_scheduled_from_the_panel(clerk, world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", home_visit=True,
                       **SENIOR_OK).case
    page = clerk.get(f"/work/cases/{case.number}/").content.decode()
    assert "申请上门服务" in page and "/act/schedule_visit/" in page
    response = clerk.post(f"/work/cases/{case.number}/act/schedule_visit/",
                          {"version": 1, "assignee": "handler_xfl", "slot": "2099-01-05T09:30"}, HTTP_HX_REQUEST="true")
    assert "上门时间" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assignee.username == "handler_xfl"


def test_a_naive_api_slot_is_read_as_district_time(world, client):
    import json

    from yiwang.org.services import token_create

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", home_visit=True,
                       **SENIOR_OK).case
    token = token_create(username="clerk_xfl")
    response = client.post(f"/api/v1/cases/{case.number}/actions/schedule_visit",
                           data=json.dumps({"version": 1, "assignee": "handler_xfl", "slot": "2099-01-05T09:30:00"}),
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    visit = case.events.get(action="schedule_visit")
    assert visit.payload["slot"] == "2099-01-05T09:30:00+08:00"  # Asia/Shanghai wall-clock time, not UTC


def test_a_handler_claims_a_case_and_finds_it_under_mine(client, world):
    client.login(username="handler_xfl", password="pw-handler_xfl")
    case = new_case(world)
    client.post(f"/work/cases/{case.number}/act/claim/", {"version": 1}, HTTP_HX_REQUEST="true")
    assert Case.objects.get(pk=case.pk).assignee.username == "handler_xfl"
    assert case.number in client.get("/work/?tab=mine").content.decode()
    again = client.post(f"/work/cases/{case.number}/act/claim/", {"version": 2}, HTTP_HX_REQUEST="true")
    assert "您已认领该案件" in again.content.decode()


def test_the_queue_exports_to_excel_with_chinese_headers(clerk, world):
    import io
    import re

    from openpyxl import load_workbook

    mine = new_case(world)
    body = clerk.get("/work/").content.decode()
    link = re.search(r'href="(/dashboard/cases/export\.xlsx\?[^"]+)"', body).group(1).replace("&amp;", "&")
    response = clerk.get(link)
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)).active.values)
    assert rows[0][0] == "办件编号"
    assert any(r[0] == mine.number for r in rows[1:])
