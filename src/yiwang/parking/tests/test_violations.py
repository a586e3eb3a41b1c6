"""A violation opens an incident case (乱停车) in the grid where it was seen, by the right channel."""

import datetime as dt

import pytest

from yiwang.cases.models import CaseEvent
from yiwang.core.errors import PermissionDenied, ValidationFailed
from yiwang.parking import services
from yiwang.parking.models import Violation
from yiwang.parking.tests.conftest import CJC_G1, NOW, XFL_G1, XFL_G2

pytestmark = pytest.mark.django_db


def record(world, who="gridder_xfl", where=XFL_G2, **kw):
    fields = {"plate": "陕A12345", "source": "patrol", "lat": where[0], "lng": where[1]}
    fields.update(kw)
    return services.violation_record(viewer=world.viewer(who), **fields)


def test_a_patrol_violation_opens_a_case_in_its_grid(world, parking):
    v = record(world, observed_at=NOW - dt.timedelta(minutes=20), address="幸福路与迎宾大道口")
    case = v.case
    assert case.matter.code == "INC_PARKING" and case.kind == "incident" and case.channel == "patrol"
    assert case.region.code == "KG-DZ-XFL-G2" == v.region.code and v.region_path == case.region_path
    assert case.holder_unit_id == world.units["kg_cc"].id and case.state == "reported"
    assert (v.hour, v.weekday) == (9, 2)  # 09:40 on a Wednesday, local time
    first = CaseEvent.objects.get(case=case, seq=1)
    assert first.payload["parking"]["plate"] == "陕A12345" and first.payload["channel"] == "patrol"


@pytest.mark.parametrize("source,channel", [("patrol", "patrol"), ("camera", "camera"), ("report", "online")])
def test_the_channel_follows_the_source(world, parking, source, channel):
    assert record(world, source=source).case.channel == channel


def test_the_nearest_zone_is_attached_and_photos_kept_on_the_case(world, parking):
    photo = {"code": "photo", "name": "现场照片", "reference": "materials/ab/abc.jpg", "sha256": "abc"}
    v = record(world, where=XFL_G1, photos=[photo])
    assert v.zone == parking["street"] and v.photos == [photo]
    assert v.case.materials == [photo]
    assert record(world, plate="陕AD12345").zone is None


def test_an_operator_recording_dispatches_to_enforcement_at_once(world, parking):
    v = record(world, who="operator_kg", source="camera")
    v.case.refresh_from_db()
    assert v.case.state == "dispatched" and v.case.holder_unit_id == world.units["dz_en"].id
    assert list(v.case.events.order_by("seq").values_list("action", flat=True)) == ["submit", "register", "dispatch"]


def test_a_resident_reports_but_may_not_claim_a_patrol(world, parking):
    v = record(world, who="resident_wang", source="report")
    assert v.case.applicant.name == "王大爷" and v.case.channel == "online"
    with pytest.raises(PermissionDenied) as err:
        record(world, who="resident_wang", source="patrol")
    assert err.value.field == "source"


def test_staff_record_only_within_their_regions(world, parking):
    with pytest.raises(PermissionDenied):
        record(world, who="clerk_spd")
    assert record(world, who="operator_kg", where=CJC_G1).region.code == "KG-DZ-CJC-G1"


@pytest.mark.parametrize("fields,field", [
    ({"plate": "陕A1234"}, "plate"),
    ({"plate": "A12345"}, "plate"),
    ({"source": "drone"}, "source"),
    ({"lat": 95}, "lat"),
    ({"observed_at": NOW + dt.timedelta(hours=1)}, "observed_at"),
    ({"zone_code": "NOPE"}, "zone"),
])
def test_bad_input_is_refused_with_the_field(world, parking, fields, field):
    with pytest.raises(ValidationFailed) as err:
        record(world, **fields)
    assert err.value.field == field
    assert not Violation.objects.exists()


def test_a_resend_with_the_same_key_records_once(world, parking):
    first = record(world, idempotency_key="cam-77")
    again = record(world, idempotency_key="cam-77")
    assert first.pk == again.pk and Violation.objects.count() == 1
