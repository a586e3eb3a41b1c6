"""The pages of issue 18 items 1-3: the workbench's reply, note, 常用回复, missing materials and delivery;
the resident's 在线补正 on their case page; the decision and delivery on the case page and /lookup/."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import CannedReply, Case, Upload
from yiwang.cases.services import case_act, case_create
from yiwang.org.models import Unit
from yiwang.testing import SENIOR_OK

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
HOSTILE = "=1+1 <script>alert(1)</script> 61040219500101123X"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def act(world, who, case, action, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


def login(client, username):
    client.login(username=username, password="pw-" + username.removeprefix("resident_"))
    return client


@pytest.fixture
def accepted(world) -> Case:
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
    return act(world, "clerk_xfl", case, "accept")


def post_act(client, case, action, **data):
    fresh = Case.objects.get(pk=case.pk)
    return client.post(f"/work/cases/{case.number}/act/{action}/", {"version": fresh.version, **data},
                       HTTP_HX_REQUEST="true")


def test_the_clerk_asks_for_a_supplement_with_a_canned_reply_without_javascript(client, world, accepted):
    canned = CannedReply.objects.create(matter=world.matters["senior"], action="request_supplement",
                                        title="照片不合格", text="请补交近三个月内的一寸免冠照片。")
    login(client, "clerk_xfl")
    page = client.get(f"/work/cases/{accepted.number}/").content.decode()
    assert 'name="missing" value="photo"' in page and "照片不合格" in page and 'name="note"' in page
    fresh = Case.objects.get(pk=accepted.pk)
    response = client.post(f"/work/cases/{accepted.number}/act/request_supplement/",
                           {"version": fresh.version, "canned": canned.pk, "reply": "", "missing": ["photo"],
                            "note": "内部：照片是翻拍的"})
    assert response.status_code == 303
    event = Case.objects.get(pk=accepted.pk).events.order_by("-seq").first()
    assert event.payload["reply"] == canned.text and event.payload["missing"] == [{"code": "photo", "name": "一寸照片"}]
    assert event.payload["note"] == "内部：照片是翻拍的"


def test_a_canned_reply_of_another_matter_is_refused_beside_the_form(client, world, accepted):
    other = CannedReply.objects.create(matter=world.matters["fund"], action="request_supplement", title="x", text="y")
    login(client, "clerk_xfl")
    response = post_act(client, accepted, "request_supplement", canned=other.pk, missing=["photo"])
    assert response.status_code == 200 and "没有这条常用回复" in response.content.decode()
    assert Case.objects.get(pk=accepted.pk).state == "accepted"


def test_the_resident_uploads_exactly_the_missing_material_and_the_clerk_sees_what_changed(client, world, accepted):
    act(world, "clerk_xfl", accepted, "request_supplement", reply="照片不清晰", missing=["photo"], note="内部备注甲")
    login(client, "resident_wang")
    page = client.get(f"/cases/{accepted.number}/").content.decode()
    assert 'name="m_photo"' in page and 'name="m_id_card"' not in page and "照片不清晰" in page
    assert "内部备注甲" not in page
    fresh = Case.objects.get(pk=accepted.pk)
    response = client.post(f"/cases/{accepted.number}/action/", {
        "action": "resubmit", "version": fresh.version, "comment": HOSTILE,
        "m_photo": SimpleUploadedFile("新照片.png", PNG)})
    assert response.status_code == 302
    case = Case.objects.get(pk=accepted.pk)
    assert case.state == "accepted" and Upload.objects.filter(case=case).count() == 1

    client.logout()
    login(client, "clerk_xfl")
    panel = client.get(f"/work/cases/{accepted.number}/").content.decode()
    assert 'id="resubmission"' in panel and "旧版本" in panel and "补正 v2" in panel
    assert "&lt;script&gt;" in panel and "<script>alert" not in panel and "61040219500101123X" not in panel


@pytest.mark.parametrize(("files", "message"), [
    ({"m_photo": ("x.png", b"MZ\x90\x00 not an image")}, "不是 PDF、JPEG 或 PNG"),
    ({}, "请提交要求补正的材料"),
    ({"m_photo": ("x.png", PNG), "m_id_card": ("id.png", PNG)}, "没有要求补正这一材料"),
])
def test_a_wrong_resubmission_is_answered_on_the_page_and_changes_nothing(client, world, accepted, files, message):
    act(world, "clerk_xfl", accepted, "request_supplement", reply="照片不清晰", missing=["photo"])
    login(client, "resident_wang")
    fresh = Case.objects.get(pk=accepted.pk)
    data = {"action": "resubmit", "version": fresh.version,
            **{k: SimpleUploadedFile(name, body) for k, (name, body) in files.items()}}
    response = client.post(f"/cases/{accepted.number}/action/", data)
    assert response.status_code == 422 and message in response.content.decode()
    assert Case.objects.get(pk=accepted.pk).version == fresh.version
    assert not Upload.objects.exists()


def test_another_resident_cannot_resubmit_to_a_case_not_theirs(client, world, accepted):
    act(world, "clerk_xfl", accepted, "request_supplement", reply="照片不清晰", missing=["photo"])
    login(client, "resident_li")
    fresh = Case.objects.get(pk=accepted.pk)
    client.post(f"/cases/{accepted.number}/action/", {
        "action": "resubmit", "version": fresh.version, "m_photo": SimpleUploadedFile("x.png", PNG)})
    assert Case.objects.get(pk=accepted.pk).version == fresh.version and not Upload.objects.exists()
    assert client.get(f"/cases/{accepted.number}/").status_code == 404


def test_the_decision_and_delivery_show_on_the_case_page_and_masked_on_lookup(client, world, accepted):
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(hours="周一至周五 9:00-17:00")
    case = act(world, "handler_xfl", accepted, "decide", decision="denied", reply="年龄未满 60 周岁",
               note="内部：已电话核实")
    login(client, "clerk_xfl")
    refused = post_act(client, case, "close")
    assert "请选择结果送达方式" in refused.content.decode()
    post_act(client, case, "close", delivery_method="post", delivery_tracking="SF1234567890", reply="请注意查收")
    assert Case.objects.get(pk=case.pk).state == "closed"
    client.logout()

    login(client, "resident_wang")
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert 'id="outcome"' in page and "不予" in page and "年龄未满 60 周岁" in page and "SF1234567890" in page
    assert "已电话核实" not in page and "请注意查收" in page
    client.logout()
    lookup = client.get("/lookup/", {"number": case.number, "phone": "13800000001"}).content.decode()
    assert "年龄未满 60 周岁" in lookup and "********7890" in lookup and "SF1234567890" not in lookup
    assert "已电话核实" not in lookup


def test_a_pickup_names_the_hall_and_its_hours(client, world, accepted):
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(hours="周一至周五 9:00-17:00", address="幸福里 1 号")
    case = act(world, "handler_xfl", accepted, "decide", decision="approved")
    login(client, "clerk_xfl")
    post_act(client, case, "close", delivery_method="pickup", delivery_hall="KG-DZ-XFL-SH")
    client.logout()
    lookup = client.get("/lookup/", {"number": case.number, "phone": "13800000001"}).content.decode()
    assert "准予" in lookup and "幸福里社区便民服务站" in lookup and "周一至周五 9:00-17:00" in lookup
