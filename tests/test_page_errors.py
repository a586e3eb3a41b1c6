"""Pages' one way to refuse (core.pages): a NotFound or PermissionDenied is the site's 404 or 403 page
with the reason, a form's bad field is a ValidationFailed naming it, as the API's schemas refuse."""

import pytest
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from yiwang.core import pages
from yiwang.core.errors import BadParameter, NotFound, PermissionDenied, ValidationFailed
from yiwang.core.middleware import error_response


def test_a_record_out_of_reach_is_the_site_404_page_with_the_reason(client, world):
    client.force_login(world.users["leader_kg"])
    response = client.get("/ledger/batches/999999999/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in html and 'class="top"' in html  # the site's layout, not a bare line
    unknown = client.get("/no-such-page/")
    assert unknown.status_code == 404 and "页面不存在" in unknown.content.decode()
    assert "Http404" not in unknown.content.decode() and "Resolver404" not in unknown.content.decode()
    assert "您要找的页面或记录不存在" in unknown.content.decode()  # an unmatched URL: the plain reason


@pytest.mark.django_db
def test_a_refusal_is_the_site_403_page_with_the_reason():
    request = RequestFactory().get("/anything/")
    request.user = AnonymousUser()
    response = error_response(request, PermissionDenied("只有值班长可以这样做。"))
    html = response.content.decode()
    assert response.status_code == 403 and "无权访问" in html and "只有值班长可以这样做。" in html
    assert 'class="top"' in html
    # An error with no page of its own keeps the plain answer (no base layout, no database).
    plain = error_response(request, BadParameter("坏参数"))
    assert plain.status_code == 400 and 'class="top"' not in plain.content.decode()


def test_found_answers_any_refusal_of_a_lookup_as_not_found():
    def lookup(**kwargs):
        raise PermissionDenied("不在您的范围内。")

    with pytest.raises(NotFound, match="不在您的范围内。"):
        pages.found(lookup, viewer=None)
    assert pages.found(lambda x: x + 1, 1) == 2


class _Form(forms.Form):
    version = pages.WholeNumberField("version")
    due_on = pages.IsoDateField()
    note = pages.TextField()
    unit = pages.OptionalTextField()
    urgent = pages.TickField()


def test_cleaned_reads_a_form_as_the_page_did_by_hand():
    data = pages.cleaned(_Form({"version": "3", "due_on": "2030-01-02", "unit": "", "urgent": "1"}))
    assert data["version"] == 3 and data["due_on"].isoformat() == "2030-01-02"
    assert data["note"] == "" and data["unit"] is None and data["urgent"] is True
    assert pages.cleaned(_Form({"version": "0", "note": "  kept as typed  "}))["note"] == "  kept as typed  "


def test_a_bad_field_is_validation_failed_naming_it():
    with pytest.raises(ValidationFailed) as refused:
        pages.cleaned(_Form({"version": "x", "due_on": "2030-02-31"}), rename={"due_on": "due_at"})
    assert set(refused.value.errors) == {"version", "due_at"}
    assert refused.value.errors["version"] == ["请填写整数（version：0 到 2147483647）。"]
    assert refused.value.errors["due_at"] == ["日期格式应为 YYYY-MM-DD。"]
    with pytest.raises(ValidationFailed) as one:
        pages.cleaned(_Form({}))
    assert one.value.field == "version" and one.value.status == 422


def test_a_refused_dispatch_form_says_which_field(client, world):
    from yiwang.cases.services import case_create

    case = case_create(viewer=world.viewer("gridder_xfl"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="路口乱停车", channel="grid").case
    client.login(username="operator_kg", password="pw-operator_kg")
    response = client.post(f"/command/cases/{case.pk}/dispatch/", {"version": "abc", "tab": "reported"}, follow=True)
    assert "请填写整数（version：0 到 2147483647）。" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "reported"
