"""The grid worker's forms read a post as the view did by hand: everything as typed, for the service to
judge (its refusals name the field, and the page shows them beside it)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.core import pages
from yiwang.grid.forms import ReportForm, RevealForm


def test_a_report_form_passes_what_was_typed_and_no_point_when_blank():
    data = pages.cleaned(ReportForm({"category": "INC_PARKING", "description": " 乱停车 ", "lat": "", "lng": ""}))
    assert data == {"category": "INC_PARKING", "description": " 乱停车 ", "lat": None, "lng": None, "address": "",
                    "photo": None, "idempotency_key": None}
    photo = SimpleUploadedFile("p.jpg", b"MZ nope")
    data = pages.cleaned(ReportForm({"lat": "999", "lng": "108", "idempotency_key": "k1"}, {"photo": photo}))
    assert (data["lat"], data["lng"], data["photo"], data["idempotency_key"]) == ("999", "108", photo, "k1")


def test_the_reveal_form_passes_the_reason_as_typed():
    assert pages.cleaned(RevealForm({})) == {"reason": ""}
    assert pages.cleaned(RevealForm({"reason": " 核实身份 "})) == {"reason": " 核实身份 "}


@pytest.mark.django_db
def test_a_reveal_without_a_reason_is_refused_on_the_page(client, world):
    from yiwang.grid import services

    resident = world.residents["wang"]
    household = services.household_create(grid=world.regions["xfl_g1"], address="幸福里1号楼101", number="101")
    services.household_member_set(household=household, resident=resident, relation="head")
    services.resident_flags_set(resident=resident, elderly_alone=True)  # listed on the grid's page
    client.login(username="gridder_xfl", password="pw-gridder_xfl")
    response = client.post(f"/grid/KG-DZ-XFL-G1/residents/{resident.pk}/reveal-id/", {"reason": " "})
    assert response.status_code == 422 and "请填写查看完整证件号的理由。" in response.content.decode()
