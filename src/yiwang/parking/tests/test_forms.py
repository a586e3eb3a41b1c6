"""The parking pages' forms read a post as the views did by hand, and refuse beside the same field."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.tests.photos import jpeg
from yiwang.core import pages
from yiwang.core.errors import ValidationFailed
from yiwang.parking.forms import VIOLATION_RENAME, GateForm, JudgeForm, PayForm, ViolationForm
from yiwang.parking.models import Penalty, Violation
from yiwang.parking.tests.conftest import XFL_G1

JPEG = jpeg()  # a photo that decodes: photos are re-encoded from their pixels


def test_the_gate_form_reads_an_entry_unless_told_exit():
    data = pages.cleaned(GateForm({"zone": "XFL-P1", "plate": "陕A12345", "space": " 3 "}))
    assert data["direction"] == "entry" and data["space"] == "3" and data["plate"] == "陕A12345"
    assert pages.cleaned(GateForm({"direction": "exit"}))["direction"] == "exit"


def test_a_violation_without_a_place_on_the_map_is_refused_beside_the_map():
    for lat, lng in (("", ""), ("34.4", "abc"), ("nan", "108.7"), ("inf", "108.7")):
        with pytest.raises(ValidationFailed) as refused:
            pages.cleaned(ViolationForm({"plate": "陕A12345", "lat": lat, "lng": lng}), rename=VIOLATION_RENAME)
        assert refused.value.field == "location" and refused.value.errors == {"location": ["请在地图上点选位置。"]}


def test_a_violation_form_cuts_long_text_and_checks_the_photo():
    post = {"lat": "34.405", "lng": "108.705", "address": "路" * 300, "description": "x" * 3000, "idempotency_key": ""}
    data = pages.cleaned(ViolationForm(post), rename=VIOLATION_RENAME)
    assert (data["lat"], data["lng"]) == (34.405, 108.705)
    assert len(data["address"]) == 200 and len(data["description"]) == 2000
    assert data["photo"] is None and data["idempotency_key"] is None
    photo = SimpleUploadedFile("p.jpg", JPEG, content_type="image/jpeg")
    _upload, content_type, ext = pages.cleaned(ViolationForm(post, {"photo": photo}))["photo"]
    assert (content_type, ext) == ("image/jpeg", "jpg")
    for bad in (SimpleUploadedFile("p.gif", b"GIF89a" + b"\x00" * 32), SimpleUploadedFile("e.jpg", b"")):
        with pytest.raises(ValidationFailed) as refused:
            pages.cleaned(ViolationForm(post, {"photo": bad}))
        assert refused.value.field == "photo" and f"文件 {bad.name} 不是 JPEG 或 PNG。" == refused.value.message


def test_a_penalty_step_names_the_bad_row_id():
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(PayForm({"penalty": "x"}))
    assert refused.value.field == "penalty" and "penalty" in refused.value.message
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(JudgeForm({"outcome": "upheld"}))
    assert refused.value.field == "appeal"
    assert pages.cleaned(JudgeForm({"appeal": "7", "outcome": "upheld"})) == {"appeal": 7, "outcome": "upheld", "note": ""}


@pytest.mark.django_db
def test_the_pages_refuse_a_bad_field_with_its_message_and_write_nothing(client, world, parking):
    client.force_login(world.users["gridder_xfl"])
    r = client.post("/parking/violations/", {"plate": "陕A12345", "source": "patrol", "lat": str(XFL_G1[0]),
                                             "lng": str(XFL_G1[1]),
                                             "photo": SimpleUploadedFile("p.gif", b"GIF89a" + b"\x00" * 32)})
    assert r.status_code == 200 and "文件 p.gif 不是 JPEG 或 PNG。" in r.content.decode()
    assert not Violation.objects.exists()
    client.force_login(world.users["handler_en"])
    from yiwang.parking import services

    v = services.violation_record(viewer=world.viewer("operator_kg"), plate="陕A12345", source="camera",
                                  lat=XFL_G1[0], lng=XFL_G1[1])
    client.post(f"/parking/violations/{v.pk}/penalty/", {"note": "驾驶人不在现场"})
    r = client.post(f"/parking/violations/{v.pk}/payment/", {"penalty": "abc", "reference": "R1"}, follow=True)
    assert "请填写整数（penalty：0 到 9223372036854775807）。" in r.content.decode()
    assert Penalty.objects.get().state == "unpaid"
    missing = client.get("/parking/violations/999999/")
    assert missing.status_code == 404 and "没有找到该违法停车记录，或您无权查看。" in missing.content.decode()
