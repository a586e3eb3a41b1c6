"""The patrol pages' forms read a post as the views did by hand, and refuse beside the same field."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.core import pages
from yiwang.core.errors import ValidationFailed
from yiwang.patrol.forms import FindingForm, PointForm, ShiftsForm
from yiwang.patrol.models import Shift


def test_the_shifts_form_reads_the_nights_the_seed_and_the_tick():
    data = pages.cleaned(ShiftsForm({"start": " 2026-06-01 ", "end": "2026-06-03", "seed": "", "replace": "on"}))
    assert data == {"start": dt.date(2026, 6, 1), "end": dt.date(2026, 6, 3), "seed": None, "replace": True}
    data = pages.cleaned(ShiftsForm({"start": "2026-06-01", "end": "2026-06-03", "seed": "11"}))
    assert data["seed"] == 11 and data["replace"] is False


def test_a_missing_or_malformed_night_and_a_bad_seed_are_refused_by_name():
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(ShiftsForm({"start": "", "end": "x", "seed": "-1"}))
    assert refused.value.errors == {"start": ["日期格式应为 YYYY-MM-DD。"], "end": ["日期格式应为 YYYY-MM-DD。"],
                                    "seed": ["请填写整数（seed：0 到 9223372036854775807）。"]}
    assert refused.value.message == "日期格式应为 YYYY-MM-DD。"
    with pytest.raises(ValidationFailed) as one:
        pages.cleaned(ShiftsForm({"start": "2026-06-01"}))
    assert one.value.field == "end"


def test_a_point_and_a_finding_go_to_the_service_as_typed():
    assert pages.cleaned(PointForm({})) == {"lat": None, "lng": None}  # the service says 坐标须为数字
    assert pages.cleaned(PointForm({"lat": "34.405", "lng": "x"})) == {"lat": "34.405", "lng": "x"}
    photo = SimpleUploadedFile("p.jpg", b"")
    data = pages.cleaned(FindingForm({"description": " 井盖缺失 ", "category": "INC_ROAD"}, {"photo": photo}))
    assert data["description"] == " 井盖缺失 " and data["photo"] is photo and data["idempotency_key"] is None
    assert pages.cleaned(FindingForm({}))["photo"] is None


@pytest.mark.django_db
def test_a_bad_seed_on_the_schedule_page_is_the_message_and_draws_nothing(client, patrol, frozen):
    client.force_login(patrol.secretary)
    response = client.post(f"/patrol/teams/{patrol.team.pk}/generate/",
                           {"start": "2026-06-01", "end": "2026-06-03", "seed": "abc"}, follow=True)
    assert "请填写整数（seed：0 到 9223372036854775807）。" in response.content.decode()
    assert not Shift.objects.exists()
    body = client.get(f"/patrol/teams/{patrol.team.pk}/?preview=1&start=&end=2026-06-03").content.decode()
    assert "日期格式应为 YYYY-MM-DD。" in body
