"""Administrators set 智能派单 up in Django admin: one settings row, validated; model versions listed
and switched, the one in use never deleted."""

import pytest

from yiwang.command import selectors, services
from yiwang.command.models import DispatchModel, DispatchSettings
from yiwang.command.tests.conftest import _fitted

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.users["admin"])
    return client


def test_the_settings_are_one_row_edited_through_the_service(admin_client):
    assert admin_client.get("/admin/command/dispatchsettings/").status_code == 302
    answer = admin_client.post("/admin/command/dispatchsettings/add/",
                               {"auto_threshold": "1.5", "min_training_cases": "100"})
    assert answer.status_code == 200 and not DispatchSettings.objects.exists()  # refused with the form's errors
    answer = admin_client.post("/admin/command/dispatchsettings/add/",
                               {"auto_enabled": "on", "auto_threshold": "0.85", "min_training_cases": "100"})
    assert answer.status_code == 302
    row = DispatchSettings.objects.get()
    assert (row.pk, row.auto_enabled, row.auto_threshold, row.updated_by) == (1, True, 0.85, "admin")
    assert selectors.dispatch_config().auto_threshold == 0.85
    assert admin_client.get("/admin/command/dispatchsettings/").url.endswith("/1/change/")


def test_versions_are_listed_and_switched(admin_client, world, sanitation):
    first = services.dispatch_model_save(model=_fitted(), region_code="XX", trained_on=400, metrics={"unit_top1": 0.9})
    second = services.dispatch_model_save(model=_fitted(), region_code="XX", trained_on=410, metrics={})
    page = admin_client.get("/admin/command/dispatchmodel/")
    assert page.status_code == 200 and f"v{first.pk}" in page.content.decode() and "90.0%" in page.content.decode()
    admin_client.post("/admin/command/dispatchmodel/", {"action": "activate", "_selected_action": [first.pk]})
    assert DispatchModel.objects.get(active=True) == first
    answer = admin_client.post(f"/admin/command/dispatchmodel/{first.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 403 and DispatchModel.objects.filter(pk=first.pk).exists()
    admin_client.post(f"/admin/command/dispatchmodel/{second.pk}/delete/", {"post": "yes"})
    assert not DispatchModel.objects.filter(pk=second.pk).exists()
