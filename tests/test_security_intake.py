"""Who may set what when a case is opened, and which files a case may cite.

A hostile tester filed an application citing another resident's ID-card file by its storage path and
then read it through the new case; marked her own uploads "窗口核验原件" from the API; chose the clerk;
and filed "at the window" under a stranger's name and phone. Each refusal here names the field, and
nothing is written.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import Case, Upload
from yiwang.org.services import token_create

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.4\n%victim's ID card\n"
FORM = {"birth_date": "1950-01-01"}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def upload(client, media):
    """POST /api/v1/uploads as a user; the answer."""
    tokens: dict[str, str] = {}

    def send(username: str, data: bytes = PNG, name: str = "id.png"):
        tokens.setdefault(username, token_create(username=username))
        return client.post("/api/v1/uploads", {"file": SimpleUploadedFile(name, data)},
                           HTTP_AUTHORIZATION=f"Bearer {tokens[username]}")

    return send


def apply(api, username: str, materials: list, **fields):
    body = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "form": FORM, "materials": materials, **fields}
    return api("post", "/cases", username, body)


def refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.content
    assert field in response.json()["errors"], response.json()


# --- material files --------------------------------------------------------------------------


def test_an_upload_answers_a_handle_bound_to_the_uploader(upload, world):
    response = upload("resident_wang")
    assert response.status_code == 201, response.content
    body = response.json()
    row = Upload.objects.get(token=body["upload"])
    assert row.user == world.users["resident_wang"] and row.case is None and row.path.startswith("materials/")
    assert "reference" not in body and row.path not in response.content.decode()


def test_an_upload_is_checked_by_its_content_and_needs_a_login(upload, client, world):
    refused(upload("resident_wang", b"<html><script>alert(1)</script>", "id.png"), 422, "file")
    assert client.post("/api/v1/uploads", {"file": SimpleUploadedFile("a.png", PNG)}).status_code == 401
    assert Upload.objects.count() == 0


def test_a_case_cites_the_callers_own_upload_and_keeps_its_file(api, upload, world):
    token = upload("resident_wang").json()["upload"]
    response = apply(api, "resident_wang", [{"code": "id_card", "upload": token}, {"code": "photo"}])
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    [material, _photo] = case.materials
    assert material["name"] == "身份证" and material["reference"].startswith("materials/")
    assert Upload.objects.get(token=token).case == case


def test_a_material_never_cites_a_storage_path(api, upload, world):
    victim = upload("resident_li", PDF, "id.pdf").json()["upload"]
    path = Upload.objects.get(token=victim).path
    for material in ({"code": "id_card", "reference": path}, {"code": "id_card", "url": "javascript:alert(1)"}):
        key = next(k for k in material if k != "code")
        refused(apply(api, "resident_wang", [material, {"code": "photo"}]), 422, f"materials.0.{key}")
    assert Case.objects.count() == 0


def test_a_material_never_cites_another_persons_upload(api, upload, world):
    victim = upload("resident_li", PDF, "id.pdf").json()["upload"]
    for who in ("resident_wang", "clerk_xfl", "admin"):
        fields = {"channel": "hall", "applicant_name": "王大爷", "applicant_phone": "13800000001"} if who != \
            "resident_wang" else {}
        refused(apply(api, who, [{"code": "id_card", "upload": victim}, {"code": "photo"}], **fields), 422,
                "materials.0.upload")
    assert Case.objects.count() == 0 and Upload.objects.get(token=victim).case is None


def test_an_upload_is_cited_by_one_case_only(api, upload, world):
    token = upload("resident_wang").json()["upload"]
    first = apply(api, "resident_wang", [{"code": "id_card", "upload": token}, {"code": "photo"}])
    assert first.status_code == 201
    refused(apply(api, "resident_wang", [{"code": "id_card", "upload": token}, {"code": "photo"}]), 422,
            "materials.0.upload")
    refused(apply(api, "resident_wang", [{"code": "id_card", "upload": "x" * 32}, {"code": "photo"}]), 422,
            "materials.0.upload")
    assert Case.objects.count() == 1


def test_the_workbench_serves_only_files_the_case_cites(client, api, upload, world, media):
    """The clerk of the attacker's case cannot reach the victim's file through it (by index or path)."""
    victim_token = upload("resident_li", PDF, "id.pdf").json()["upload"]
    victim_case = apply(api, "resident_li", [{"code": "id_card", "upload": victim_token}, {"code": "photo"}],
                        region_code="QH-WC-SPD").json()["number"]
    own = upload("resident_wang").json()["upload"]
    mine = apply(api, "resident_wang", [{"code": "id_card", "upload": own}, {"code": "photo"}]).json()["number"]
    client.force_login(world.users["clerk_xfl"])
    served = client.get(f"/work/cases/{mine}/materials/0/")
    assert served.status_code == 200 and b"".join(served.streaming_content if served.streaming else
                                                  [served.content]) == PNG
    declared = client.get(f"/work/cases/{mine}/materials/1/")  # declared, no file
    assert declared.status_code == 404 and "页面不存在" in declared.content.decode()
    theirs = client.get(f"/work/cases/{victim_case}/materials/0/")
    assert theirs.status_code == 404
    page = theirs.content.decode()
    assert "页面不存在" in page and b"victim's ID card" not in theirs.content and victim_case not in page
    assert b"victim's ID card" not in declared.content


# --- 窗口核验原件 ---------------------------------------------------------------------------------


def test_only_a_window_clerk_taking_it_at_the_window_attests_an_original(api, world):
    seen = [{"code": "id_card", "original_seen": True}, {"code": "photo"}]
    on_behalf = {"applicant_name": "王大爷", "applicant_phone": "13800000001"}
    refused(apply(api, "resident_wang", seen), 403, "materials.0.original_seen")
    refused(apply(api, "clerk_xfl", seen, channel="online", **on_behalf), 403, "materials.0.original_seen")
    refused(apply(api, "clerk_xfl", seen, channel="phone", **on_behalf), 403, "materials.0.original_seen")
    # A handler or a leader is not at a window, even of a hall's unit.
    refused(apply(api, "handler_dz", seen, channel="hall", **on_behalf), 403, "materials.0.original_seen")
    refused(apply(api, "leader_kg", seen, channel="hall", **on_behalf), 403, "materials.0.original_seen")
    assert Case.objects.count() == 0
    response = apply(api, "clerk_xfl", seen, channel="hall", **on_behalf)
    assert response.status_code == 201, response.content
    assert Case.objects.get().materials[0] == {"code": "id_card", "name": "身份证", "reference": "window"}


def test_a_resident_cannot_reach_the_window_badge_through_a_reference(api, world):
    refused(apply(api, "resident_wang", [{"code": "id_card", "reference": "window"}, {"code": "photo"}]), 422,
            "materials.0.reference")
    assert Case.objects.count() == 0


# --- fields only staff may set -----------------------------------------------------------------


@pytest.mark.parametrize("fields,status,field", [
    ({"assignee": "clerk_xfl"}, 403, "assignee"),
    ({"channel": "hall"}, 403, "channel"),
    ({"channel": "system"}, 422, "channel"),
    ({"applicant_name": "邻居张三"}, 403, "applicant_name"),
    ({"applicant_phone": "13911112222"}, 403, "applicant_phone"),
    ({"unit_code": "KG-DZ-XFL-SH"}, 403, "unit_code"),
    ({"supervisor_unit_code": "KG-OF"}, 403, "supervisor_unit_code"),
    ({"due_at": "2030-01-01T00:00:00+08:00"}, 403, "due_at"),
    ({"applicant_id": 999999}, 404, "applicant_id"),
])
def test_a_resident_cannot_set_staff_only_fields(api, world, fields, status, field):
    refused(apply(api, "resident_wang", [{"code": "id_card"}, {"code": "photo"}], **fields), status, field)
    assert Case.objects.count() == 0


def test_a_residents_case_carries_her_own_name_and_phone(api, world):
    response = apply(api, "resident_wang", [{"code": "id_card"}, {"code": "photo"}])
    assert response.status_code == 201
    case = Case.objects.get()
    assert (case.applicant_name, case.applicant_phone, case.channel) == ("王大爷", "13800000001", "online")


def test_staff_choose_an_assignee_only_for_their_own_units_cases(api, world):
    on_behalf = {"channel": "hall", "applicant_name": "王大爷", "applicant_phone": "13800000001"}
    # 幸福里's clerk files for 三普东 (通办): routed to 三普东's hall, whose people are not hers to assign.
    refused(apply(api, "clerk_xfl", [{"code": "id_card"}, {"code": "photo"}], region_code="QH-WC-SPD",
                  assignee="clerk_spd", **on_behalf), 403, "assignee")
    response = apply(api, "clerk_xfl", [{"code": "id_card"}, {"code": "photo"}], assignee="handler_xfl", **on_behalf)
    assert response.status_code == 201, response.content
    assert Case.objects.get().assignee == world.users["handler_xfl"]
    refused(apply(api, "clerk_xfl", [{"code": "id_card"}, {"code": "photo"}], channel="system",
                  applicant_name="王大爷"), 422, "channel")
