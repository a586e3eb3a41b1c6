"""智能派单 in use: suggestions on the board and through the API, and 自动派遣 of confident reports."""

import datetime as dt
import zoneinfo

import pytest

from yiwang.cases.models import Case, CaseEvent, Notification
from yiwang.cases.services import case_act, case_opened
from yiwang.cases.tasks import run_announcements
from yiwang.command import selectors, services
from yiwang.command.tests.conftest import report
from yiwang.core import clock
from yiwang.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
PARKED = "学校门口车辆乱停，堵住了出入口"


def enable(threshold: float) -> None:
    services.dispatch_settings_update(auto_enabled=True, auto_threshold=threshold, min_training_cases=200)


def fire(case: Case) -> None:
    """What the worker's job (cases.tasks.case_opened_task) does once the report is committed."""
    case_opened.send(sender=Case, case_id=case.pk, kind=case.kind)


def test_without_a_model_there_is_no_suggestion_and_no_error(world, api):
    enable(0.0)
    case = report(world, title=PARKED)
    assert selectors.smart_suggestion(case) is None
    fire(case)
    assert Case.objects.get(pk=case.pk).state == "reported"
    board = api("get", "/command/board", "operator_kg").json()
    assert board["cases"][0]["smart"] is None and board["cases"][0]["suggested_unit"] == "KG-DZ-EN"
    answer = api("post", "/dispatch/suggest", "operator_kg", {"text": PARKED})
    assert answer.status_code == 200 and answer.json() == {"model": None, "categories": [], "units": []}


def test_a_confident_report_is_registered_and_dispatched_once_by_the_system(world, model):
    with clock.frozen_at(MONDAY):
        probe_case = report(world, title=PARKED)
        probe = selectors.smart_suggestion(probe_case)
        # Dismissed, so the real report at the same spot is not flagged as its duplicate.
        case_act(viewer=world.viewer("operator_kg"), case_id=probe_case.pk, action="dismiss",
                 version=probe_case.version, comment="探测")
        assert probe.unit.code == "KG-DZ-EN" and probe.category.code == "INC_PARKING"
        enable(round(probe.confidence - 0.01, 4))
        case = report(world, title=PARKED)
        assert Case.objects.get(pk=case.pk).state == "reported"  # nothing in the reporter's request
        assert run_announcements() == 2  # the worker's jobs (the probe's too) send the signal: the receiver is connected
        fire(case)  # a second delivery finds nothing left to do
    case.refresh_from_db()
    assert case.state == "dispatched" and case.holder_unit_id == world.units["dz_en"].id
    assert case.supervisor_unit_id == world.units["kg_cc"].id and case.due_at is not None
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [(e.action, e.actor_id, e.payload["capacity"]) for e in events[1:]] == [
        ("register", None, "system"), ("dispatch", None, "system")]
    details = events[2].payload["smart_dispatch"]
    assert details["model"] == model.pk and details["category"] == "INC_PARKING"
    assert details["confidence"] == pytest.approx(probe.confidence, abs=1e-4)
    assert f"模型 v{model.pk}" in events[2].payload["comment"]
    assert Notification.objects.filter(case=case, kind="dispatched").count() == 1


def test_below_the_threshold_nothing_happens(world, model):
    case = report(world, title=PARKED)
    enable(min(1.0, round(selectors.smart_suggestion(case).confidence + 0.01, 4)))
    fire(case)
    assert services.auto_dispatch(case_id=case.pk) is None
    case.refresh_from_db()
    assert case.state == "reported" and case.event_count == 1


def test_nothing_happens_while_automatic_dispatch_is_off(world, model):
    services.dispatch_settings_update(auto_enabled=False, auto_threshold=0.0, min_training_cases=200)
    case = report(world, title=PARKED)
    fire(case)
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_when_the_model_disagrees_with_the_reporter_a_person_decides(world, model):
    enable(0.0)
    case = report(world, matter="INC_THEFT", title=PARKED)  # reported as theft, reads as parking
    assert selectors.smart_suggestion(case).category.code == "INC_PARKING"
    fire(case)
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_a_unit_out_of_the_centres_reach_is_left_to_the_operator(world, model, monkeypatch):
    enable(0.0)
    case = report(world, title=PARKED)
    real = selectors.smart_suggestion

    def elsewhere(c):
        s = real(c)
        from yiwang.org.selectors import hierarchy

        h = hierarchy()
        return selectors.SmartSuggestion(s.model, s.categories, [(h.unit("QH-WC-SH"), 0.99)])

    monkeypatch.setattr(selectors, "smart_suggestion", elsewhere)
    fire(case)
    case.refresh_from_db()
    assert case.state == "reported" and case.event_count == 1  # the registration rolled back with it


def test_a_failure_in_the_receiver_never_reaches_the_reporter(world, model, monkeypatch, caplog):
    enable(0.0)
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "auto_dispatch", broken)
    case = report(world, title=PARKED)  # the report commits with its job queued, the receiver not yet run
    assert calls == []
    assert run_announcements() == 1  # the worker runs the job: the receiver fails, the job does not
    assert calls == [{"case_id": case.pk}]
    case.refresh_from_db()
    assert case.state == "reported" and case.event_count == 1  # the report stands, for the operator
    failure = next(r for r in caplog.records if r.name == "yiwang.command.services")
    assert failure.levelname == "ERROR" and failure.getMessage() == f"intake checks failed for case {case.pk}"
    assert failure.exc_info[0] is RuntimeError


def test_the_board_shows_both_suggestions_and_says_which_is_which(world, model, api, client):
    report(world, title="夜里有人偷电动车电瓶", matter="INC_THEFT")
    row = api("get", "/command/board", "operator_kg").json()["cases"][0]
    assert row["suggested_unit"] is None  # 按类别: no public-security unit in this small world
    assert row["smart"]["model_version"] == model.pk
    assert row["smart"]["category"]["code"] == "INC_THEFT" and row["smart"]["unit"]["code"] == "KG-EN"
    assert 0 < row["smart"]["unit"]["probability"] <= 1
    client.force_login(world.users["operator_kg"])
    page = client.get("/command/").content.decode()
    assert "按类别" in page and "智能" in page and "空港新城综合执法局" in page and "按智能建议派遣" in page
    assert f"模型 v{model.pk}" in page and "自动派遣未开启" in page


def test_suggest_returns_the_top_three_for_a_text(world, model, api):
    answer = api("post", "/dispatch/suggest", "operator_kg", {"text": "小区门口垃圾没人清运", "region_code": "KG-DZ-XFL"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["model"]["version"] == model.pk
    assert body["categories"][0]["code"] == "INC_SANITATION" and len(body["categories"]) == 3
    assert body["units"][0] == {"code": "KG-OF", "name": "空港新城管委会", "probability": body["units"][0]["probability"]}
    probabilities = [c["probability"] for c in body["categories"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    assert body["categories"][0]["name"] == "环境卫生"


def test_suggest_refuses_bad_input_with_a_field(world, model, api):
    for body, field in [({"text": "  "}, "text"), ({"text": "乱" * 2001}, "text"), ({}, "text")]:
        answer = api("post", "/dispatch/suggest", "operator_kg", body)
        assert answer.status_code == 422 and field in answer.json()["errors"], answer.json()
    assert api("post", "/dispatch/suggest", "operator_kg", {"text": "乱停车", "region_code": "NOPE"}).status_code == 404


def test_suggest_is_for_staff_and_only_within_their_regions(world, model, api):
    assert api("post", "/dispatch/suggest", "resident_wang", {"text": "乱停车"}).status_code == 403
    assert api("post", "/dispatch/suggest", None, {"text": "乱停车"}).status_code == 401
    elsewhere = api("post", "/dispatch/suggest", "clerk_spd", {"text": "乱停车", "region_code": "KG-DZ-XFL"})
    assert elsewhere.status_code == 404  # 三普东's clerk cannot see 幸福里
    mine = api("post", "/dispatch/suggest", "clerk_spd", {"text": "乱停车", "region_code": "QH-WC-SPD"}).json()
    assert "KG-DZ-EN" not in {u["code"] for u in mine["units"]}  # 空港's units are out of a 秦汉 clerk's reach


def test_settings_are_validated(world):
    with pytest.raises(ValidationFailed) as refused:
        services.dispatch_settings_update(auto_enabled=True, auto_threshold=1.5, min_training_cases=5)
    assert set(refused.value.errors) == {"auto_threshold", "min_training_cases"}
    with pytest.raises(ValidationFailed):
        services.dispatch_settings_update(auto_enabled=True, auto_threshold=float("nan"), min_training_cases=100)
    services.dispatch_settings_update(auto_enabled=True, auto_threshold=0.8, min_training_cases=50, updated_by="admin")
    assert selectors.dispatch_config() == selectors.DispatchConfig(True, 0.8, 50)
