"""Progress reports and submissions for acceptance carry evidence files, recorded on the case's timeline."""


import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import CaseEvent
from yiwang.core.errors import IllegalTransition, ValidationFailed
from yiwang.ledger import services
from yiwang.ledger.tests.conftest import act, make_batch, make_item, make_list

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def photo(name="minutes.png", data=PNG):
    return SimpleUploadedFile(name, data, content_type="image/png")


def report(world, item, action="report_progress", text="已召开支委会", uploads=(), who="secretary_cjc"):
    item.case.refresh_from_db()
    return services.item_report(viewer=world.viewer(who), item_id=item.pk, action=action, version=item.case.version,
                                text=text, uploads=uploads)


def test_a_progress_report_records_its_evidence_on_the_timeline(world, media):
    item = make_item(world, make_list(world, make_batch(world)))
    act(world, "secretary_cjc", item, "start")
    report(world, item, uploads=[photo()])
    event = CaseEvent.objects.get(case=item.case, action="report_progress")
    assert event.payload["note"] == "已召开支委会"
    [evidence] = event.payload["evidence"]
    assert evidence["filename"] == "minutes.png" and evidence["content_type"] == "image/png"
    assert (media / evidence["reference"]).read_bytes() == PNG
    case = report(world, item, action="submit_acceptance", text="整改完成", uploads=[photo("after.png")])
    assert case.state == "submitted" and case.result == "整改完成"


def test_a_file_that_is_not_a_photo_or_pdf_is_refused(world, media):
    item = make_item(world, make_list(world, make_batch(world)))
    act(world, "secretary_cjc", item, "start")
    with pytest.raises(ValidationFailed) as err:
        report(world, item, uploads=[photo("x.png", b"MZ\x90\x00 not an image")])
    assert err.value.field == "evidence"
    assert not CaseEvent.objects.filter(case=item.case, action="report_progress").exists()


def test_only_the_two_reporting_actions_are_taken_here(world, media):
    item = make_item(world, make_list(world, make_batch(world)))
    with pytest.raises(ValidationFailed):
        report(world, item, action="approve")
    with pytest.raises(IllegalTransition):  # not started yet
        report(world, item, uploads=[photo()])
