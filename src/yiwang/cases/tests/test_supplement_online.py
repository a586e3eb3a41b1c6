"""补正 online: the clerk names exactly the missing materials; the applicant brings exactly those (each a
new version of its entry, the old kept for staff) with their words, in one transaction; the clock
resumes. Anything else is refused and changes nothing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.attachments import upload_create
from yiwang.cases.models import Case, Upload
from yiwang.cases.selectors import latest_resubmission, public_timeline, supplement_asked
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.core.errors import DomainError, IllegalTransition, NotFound, ValidationFailed
from yiwang.testing import SENIOR_OK

MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


def upload(world, who: str = "resident_wang", name: str = "photo.png") -> str:
    return upload_create(viewer=world.viewer(who), upload=SimpleUploadedFile(name, PNG)).token


@pytest.fixture
def waiting(world) -> Case:
    """An application waiting for a new photo and the household register."""
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        case = act(world, "clerk_xfl", case, "accept")
    with clock.frozen_at(MONDAY + dt.timedelta(hours=2)):
        return act(world, "clerk_xfl", case, "request_supplement", reply="照片须为近三个月内",
                   missing=["photo", "hukou", "photo"])


def test_the_supplement_names_the_missing_materials_by_the_matters_list(world, waiting):
    assert supplement_asked(waiting) == [{"code": "photo", "name": "一寸照片"}, {"code": "hukou", "name": "户口本"}]
    event = public_timeline(waiting)[-1]
    assert event.payload == {"reply": "照片须为近三个月内", "missing": supplement_asked(waiting)}
    assert waiting.suspended_at is not None


def test_a_material_the_matter_does_not_have_cannot_be_asked_for(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "clerk_xfl", case, "accept")
    with pytest.raises(ValidationFailed) as refused:
        act(world, "clerk_xfl", case, "request_supplement", reply="x", missing=["photo", "=1+1"])
    assert refused.value.field == "missing"


def test_the_applicant_resubmits_exactly_what_was_asked_and_the_clock_resumes(world, waiting):
    due_before = waiting.due_at
    photo, hukou = upload(world), upload(world, name="hukou.png")
    with clock.frozen_at(MONDAY + dt.timedelta(days=1)):
        case = act(world, "resident_wang", waiting, "resubmit", comment="已补交 =1+1",
                   materials=[{"code": "photo", "upload": photo}, {"code": "hukou", "upload": hukou}])
    assert case.state == "accepted" and case.suspended_at is None and case.due_at > due_before
    by_code = [(m["code"], m.get("superseded", False), m.get("version")) for m in case.materials]
    assert by_code == [("id_card", False, None), ("photo", True, None), ("photo", False, 2), ("hukou", False, 1)]
    assert set(Upload.objects.filter(case=case).values_list("token", flat=True)) == {photo, hukou}
    event = case.events.order_by("-seq").first()
    assert event.payload["resubmitted"] == [{"code": "photo", "name": "一寸照片"}, {"code": "hukou", "name": "户口本"}]
    assert latest_resubmission(case, list(case.events.order_by("seq"))).seq == event.seq
    act(world, "handler_xfl", case, "claim")  # claiming is not acting on it: still new
    assert latest_resubmission(case, list(case.events.order_by("seq"))) is not None


@pytest.mark.parametrize("materials", [
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}], id="one-missing"),
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}, {"code": "hukou", "upload": upload(w)},
                            {"code": "id_card", "upload": upload(w)}], id="one-not-asked"),
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}, {"code": "hukou"}], id="one-without-file"),
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}, {"code": "hukou", "upload": upload(w, "resident_li")}],
                 id="another-residents-upload"),
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}, {"code": "hukou", "original_seen": True}],
                 id="a-resident-attesting-the-original"),
    pytest.param(lambda w: [{"code": "photo", "upload": upload(w)}, {"code": "hukou", "reference": "materials/x"}],
                 id="a-storage-path"),
])
def test_a_resubmission_other_than_exactly_the_asked_files_changes_nothing(world, waiting, materials):
    with pytest.raises(DomainError):
        act(world, "resident_wang", waiting, "resubmit", materials=materials(world))
    fresh = Case.objects.get(pk=waiting.pk)
    assert (fresh.state, fresh.version, fresh.materials) == ("supplement", waiting.version, waiting.materials)
    assert not Upload.objects.filter(case=fresh).exists()


def test_only_the_applicant_of_a_case_waiting_for_a_supplement_may_resubmit(world, waiting):
    with pytest.raises(NotFound):
        act(world, "resident_li", waiting, "resubmit", materials=[{"code": "photo", "upload": upload(world, "resident_li")}])
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    with pytest.raises(IllegalTransition):
        act(world, "resident_wang", case, "resubmit", materials=[{"code": "photo", "upload": upload(world)}])


def test_a_window_clerk_takes_the_supplement_with_the_originals_seen(world, waiting):
    case = act(world, "clerk_xfl", waiting, "resubmit",
               materials=[{"code": "photo", "original_seen": True}, {"code": "hukou", "original_seen": True}])
    assert [m.get("reference") for m in case.materials if not m.get("superseded")][-2:] == ["window", "window"]


def test_a_supplement_of_words_only_is_answered_with_words(world):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "clerk_xfl", case, "accept")
    case = act(world, "clerk_xfl", case, "request_supplement", reply="请说明申请原因")
    with pytest.raises(ValidationFailed):
        act(world, "resident_wang", case, "resubmit", materials=[{"code": "photo", "upload": upload(world)}])
    case = act(world, "resident_wang", case, "resubmit", comment="因行动不便")
    assert case.state == "accepted"


def test_through_the_api_the_clerk_asks_and_the_applicant_answers_with_uploaded_files(world, api):
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    case = act(world, "clerk_xfl", case, "accept")
    # A resident's token cannot ask; a clerk of a neighbouring community cannot even see the case.
    body = {"version": case.version, "reply": "请补交照片", "missing": ["photo"]}
    assert api("post", f"/cases/{case.number}/actions/request_supplement", "resident_wang", body).status_code == 403
    assert api("post", f"/cases/{case.number}/actions/request_supplement", "clerk_spd", body).status_code == 404
    asked = api("post", f"/cases/{case.number}/actions/request_supplement", "clerk_xfl", body)
    assert asked.status_code == 200 and asked.json()["state"] == "supplement"

    token = upload(world)
    wrong = api("post", f"/cases/{case.number}/actions/resubmit", "resident_wang",
                {"version": asked.json()["version"], "materials": [{"code": "photo", "upload": token, "reference": "x"}]})
    assert wrong.status_code == 422 and "materials" in str(wrong.json()["errors"])
    done = api("post", f"/cases/{case.number}/actions/resubmit", "resident_wang",
               {"version": asked.json()["version"], "comment": "已补", "materials": [{"code": "photo", "upload": token}]})
    assert done.status_code == 200 and done.json()["state"] == "accepted"
    resubmitted = done.json()["timeline"][-1]["payload"]
    assert resubmitted["resubmitted"] == [{"code": "photo", "name": "一寸照片"}] and "note" not in resubmitted
