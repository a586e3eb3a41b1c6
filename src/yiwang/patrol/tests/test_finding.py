"""What a patrol finds becomes an incident case, routed by where it was found, and stays linked."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.tests.photos import gps_jpeg, jpeg, stored_metadata
from yiwang.core import clock
from yiwang.core.errors import IllegalTransition, ValidationFailed
from yiwang.org.selectors import viewer_for
from yiwang.patrol import services
from yiwang.patrol.models import Finding
from yiwang.patrol.tests.conftest import IN_XFL_G1, MONDAY

JPEG = jpeg()  # a photo that decodes: photos are re-encoded from their pixels


@pytest.fixture
def walking(patrol, frozen, settings, tmp_path):
    """A party member (no staff role) out on tonight's shift."""
    settings.MEDIA_ROOT = tmp_path
    shift = services.shifts_generate(viewer=viewer_for(patrol.secretary), team=patrol.team, start=MONDAY,
                                     end=MONDAY, seed=1)[0]
    member = viewer_for(shift.assignments.first().user)
    with clock.frozen_at(shift.starts_at + dt.timedelta(minutes=5)):
        log = services.patrol_start(viewer=member, shift=shift, lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])
        yield member, log


def test_a_finding_becomes_a_patrol_incident_in_the_grid_where_it_was_found(walking, world):
    member, log = walking
    finding = services.finding_report(viewer=member, log=log, description="两名陌生人推车搬门墩石",
                                      category="INC_THEFT", lat=IN_XFL_G1[0], lng=IN_XFL_G1[1])
    case = Case.objects.get()
    assert finding.case == case and finding.log == log and finding.reported_by_id == member.user_id
    assert case.kind == "incident" and case.channel == "patrol" and case.matter.code == "INC_THEFT"
    assert case.region_id == world.regions["xfl_g1"].id and not case.off_grid
    assert case.holder_unit_id == world.units["kg_cc"].id
    assert case.created_by_id == member.user_id and "党员夜巡队" in case.applicant_name
    assert finding.region_path == world.regions["xfl_g1"].path
    assert CaseEvent.objects.get(case=case).payload["channel"] == "patrol"


def test_the_photo_goes_with_the_case_as_an_attachment(walking):
    member, log = walking
    services.finding_report(viewer=member, log=log, description="井盖缺失", category="INC_THEFT",
                            lat=IN_XFL_G1[0], lng=IN_XFL_G1[1], photo=ContentFile(JPEG, name="p.jpg"))
    case, finding = Case.objects.get(), Finding.objects.get()
    assert case.materials[0]["content_type"] == "image/jpeg" and case.materials[0]["code"] == "photo"
    assert finding.photo["sha256"] == case.materials[0]["sha256"]


def test_a_patrol_photo_keeps_its_pixels_only(walking, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    member, log = walking
    services.finding_report(viewer=member, log=log, description="井盖缺失", category="INC_THEFT",
                            lat=IN_XFL_G1[0], lng=IN_XFL_G1[1], photo=ContentFile(gps_jpeg(), name="p.jpg"))
    finding = Finding.objects.get()
    kept = stored_metadata(finding.photo["reference"])
    assert kept["exif"] == {} and b"SpyPhone" not in kept["raw"] and b"SERIAL" not in kept["raw"]
    assert finding.photo["thumbnail"] and finding.photo["content_type"] == "image/jpeg"


def test_a_patrol_photo_that_does_not_decode_is_refused_by_name(walking):
    member, log = walking
    with pytest.raises(ValidationFailed) as refused:
        services.finding_report(viewer=member, log=log, description="井盖缺失", category="INC_THEFT",
                                lat=IN_XFL_G1[0], lng=IN_XFL_G1[1],
                                photo=ContentFile(b"\xff\xd8\xff\xe0" + b"\x00" * 64, name="broken.jpg"))
    assert refused.value.field == "photo" and "broken.jpg" in refused.value.message
    assert not Finding.objects.exists()


def test_a_repeated_report_with_the_same_key_makes_one_case_and_one_finding(walking):
    member, log = walking
    kwargs = {"viewer": member, "log": log, "description": "x", "category": "INC_THEFT", "lat": IN_XFL_G1[0],
              "lng": IN_XFL_G1[1], "idempotency_key": "k1"}
    assert services.finding_report(**kwargs) == services.finding_report(**kwargs)
    assert Case.objects.count() == Finding.objects.count() == 1


@pytest.mark.parametrize("overrides, field", [
    ({"category": "SENIOR_CARD"}, "category"), ({"category": "NOPE"}, "category"), ({"category": ""}, "category"),
    ({"description": "  "}, "description"), ({"description": "很" * 2001}, "description"),
    ({"lat": 200}, "lat"), ({"photo": ContentFile(b"GIF89a....", name="x.gif")}, "photo"),
])
def test_a_bad_report_is_refused_and_opens_no_case(walking, overrides, field):
    member, log = walking
    args = {"viewer": member, "log": log, "description": "x", "category": "INC_THEFT", "lat": IN_XFL_G1[0],
            "lng": IN_XFL_G1[1]} | overrides
    with pytest.raises(ValidationFailed) as refused:
        services.finding_report(**args)
    assert refused.value.field == field
    assert not Case.objects.exists() and not Finding.objects.exists()


def test_a_finished_patrol_reports_through_the_ordinary_channels(walking):
    member, log = walking
    services.patrol_finish(viewer=member, log=log)
    with pytest.raises(IllegalTransition):
        services.finding_report(viewer=member, log=log, description="x", category="INC_THEFT", lat=IN_XFL_G1[0],
                                lng=IN_XFL_G1[1])
    assert not Case.objects.exists()
