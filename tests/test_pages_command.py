"""The command centre's pages and API: the dispatch board, one-click and bulk dispatch, merge from
the case panel, the incident indicators page."""

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.cases.tasks import run_announcements


@pytest.fixture
def operator(client, world):
    client.login(username="operator_kg", password="pw-operator_kg")
    return client


def report(world, lat=34.405, lng=108.705):
    return case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=lat, lng=lng,
                       title="路口乱停车", channel="grid").case


def test_the_board_lists_reports_with_their_suggested_unit_and_duplicates(operator, world,
                                                                        django_capture_on_commit_callbacks):
    first = report(world)
    with django_capture_on_commit_callbacks(execute=True):
        second = report(world, lat=34.4051)
    assert run_announcements() == 2  # the intake checks: the worker's job, queued with each report
    body = operator.get("/command/").content.decode()
    assert first.number in body and second.number in body
    assert "底张街道综合执法队" in body  # the suggestion for 乱停车 in 幸福里
    assert "疑似重复" in body
    assert operator.get("/command/?tab=nonsense").status_code == 200
    second.refresh_from_db()
    response = operator.post(f"/command/cases/{second.pk}/merge/", {"version": second.version}, follow=True)
    assert f"{second.number} 已合并到 {first.number}" in response.content.decode()
    second.refresh_from_db()
    assert second.state == "merged" and second.parent_id == first.pk
    again = operator.post(f"/command/cases/{first.pk}/merge/", {"version": 1}, follow=True)
    assert "没有被标记为疑似重复" in again.content.decode()


def test_only_operators_see_the_board(client, world):
    case = report(world)
    events = CaseEvent.objects.filter(case=case).count()
    client.login(username="handler_xfl", password="pw-handler_xfl")
    board = client.get("/command/")
    assert board.status_code == 403 and "仅限指挥中心指挥员。" in board.content.decode()
    for url, form in ((f"/command/cases/{case.pk}/dispatch/", {"version": case.version}),
                      ("/command/dispatch/", {"cases": [f"{case.pk}:{case.version}"]})):
        response = client.post(url, form)
        assert response.status_code == 403 and "仅限指挥中心指挥员。" in response.content.decode(), url
    after = Case.objects.get(pk=case.pk)
    assert (after.state, after.version, after.holder_unit_id) == ("reported", case.version, case.holder_unit_id)
    assert CaseEvent.objects.filter(case=case).count() == events


def test_one_click_dispatch_registers_and_dispatches(operator, world):
    case = report(world)
    response = operator.post(f"/command/cases/{case.pk}/dispatch/", {"version": case.version, "tab": "reported"})
    assert response.status_code == 303
    case.refresh_from_db()
    assert case.state == "dispatched" and case.holder_unit.code == "KG-DZ-EN"


def test_a_stale_one_click_says_why_and_changes_nothing(operator, world):
    case = report(world)
    response = operator.post(f"/command/cases/{case.pk}/dispatch/", {"version": 99}, follow=True)
    assert "已被他人更新" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_bulk_dispatch_from_the_board(operator, world):
    a, b = report(world), report(world, lng=108.745)
    response = operator.post("/command/dispatch/", {"cases": [f"{a.pk}:{a.version}", f"{b.pk}:{b.version}", "x:y"],
                                                    "tab": "reported"}, follow=True)
    assert "已派遣 2 件" in response.content.decode()
    assert set(Case.objects.values_list("state", flat=True)) == {"dispatched"}


def test_merge_from_the_case_panel(operator, world):
    parent, child = report(world), report(world, lat=34.4051)
    panel = operator.get(f"/work/cases/{child.number}/").content.decode()
    assert f'<option value="{parent.number}">' in panel  # offered as a likely parent
    operator.post(f"/work/cases/{child.number}/act/merge/", {"version": child.version, "parent_number": parent.number},
                  HTTP_HX_REQUEST="true")
    child.refresh_from_db()
    assert child.state == "merged" and child.parent_id == parent.pk
    assert parent.number in operator.get(f"/work/cases/{child.number}/").content.decode()


def test_the_api_board_and_bulk_dispatch(api, world):
    case = report(world)
    board = api("get", "/command/board?tab=reported", "operator_kg").json()
    assert board["counts"]["reported"] == 1
    assert board["cases"][0] | {"number": case.number, "suggested_unit": "KG-DZ-EN", "region": "KG-DZ-XFL-G1"} \
        == board["cases"][0]
    assert api("get", "/command/board?tab=bogus", "operator_kg").status_code == 422
    assert api("get", "/command/board", "handler_en").status_code == 403
    results = api("post", "/command/dispatch", "operator_kg",
                  {"cases": [{"id": case.pk, "version": case.version}, {"id": 99999, "version": 1}]}).json()
    assert [r["ok"] for r in results] == [True, False] and results[1]["field"] == "number"
    assert api("post", "/command/dispatch", "operator_kg", {"cases": "nope"}).status_code == 422
    assert api("post", "/command/dispatch", "operator_kg", {"cases": []}).status_code == 422


def test_the_api_merges_with_a_parent_number(api, world):
    parent, child = report(world), report(world)
    response = api("post", f"/cases/{child.number}/actions/merge", "operator_kg",
                   {"version": child.version, "parent_number": parent.number})
    assert response.status_code == 200, response.content
    assert CaseEvent.objects.filter(case=parent, action="absorb_duplicate").count() == 1
    bad = api("post", f"/cases/{parent.number}/actions/merge", "operator_kg",
              {"version": Case.objects.get(pk=parent.pk).version, "parent_number": "YW1"})
    assert bad.status_code == 404 and bad.json()["errors"] == {"parent_number": [bad.json()["detail"]]}


def test_the_incident_indicators_page(client, world):
    report(world)
    client.login(username="leader_kg", password="pw-leader_kg")
    body = client.get("/dashboard/incidents/?days=7").content.decode()
    assert 'data-figure="reported"><b>1</b>' in body
    assert "幸福里第一网格" in body
    assert client.get("/dashboard/incidents/?region=QH").status_code == 404


def test_notifications_reach_the_units_workbench_and_can_be_read(client, world):
    from yiwang.cases.models import Notification
    from yiwang.command.services import register_and_dispatch

    case = report(world)
    register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    client.login(username="handler_en", password="pw-handler_en")
    assert '通知 <b class="badge overdue">1</b>' in client.get("/work/").content.decode()
    body = client.get("/work/notifications/?unread=1").content.decode()
    assert "新派遣" in body and case.number in body
    client.post("/work/notifications/", {})
    assert Notification.objects.get().read_at is not None
    client.login(username="clerk_xfl", password="pw-clerk_xfl")  # another unit sees none of it
    assert case.number not in client.get("/work/notifications/").content.decode()


def test_the_reporter_of_a_merged_case_follows_the_parent(client, world):
    from yiwang.cases.models import Notification
    from yiwang.cases.services import case_act

    parent = report(world)
    child = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.4051, lng=108.705,
                        title="门口乱停车").case
    case_act(viewer=world.viewer("operator_kg"), case_id=child.pk, action="merge", version=child.version,
             parent_number=parent.number)
    assert Notification.objects.get(resident=world.residents["wang"]).kind == "merged"
    client.login(username="resident_wang", password="pw-wang")
    page = client.get(f"/cases/{child.number}/").content.decode()
    assert parent.number in page and "当前进度：已上报" in page
    assert "消息" in client.get("/me/cases/").content.decode()
