"""`yiwang train-dispatch`: trains on the district's closed incidents, stores a signed version, puts it
in use everywhere, and refuses clearly when there is too little to learn from."""

import pickle
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from yiwang.command import classifier, selectors, services
from yiwang.command.models import DispatchModel
from yiwang.command.tests.conftest import UNPICKLED, Payload, closed_incident, report
from yiwang.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

PARKING = ("学校门口车辆乱停", "商场周边机动车占用人行道停放", "小区出入口被私家车堵住", "医院门口车辆双排停放")
THEFT = ("夜间有人进村偷狗", "村民家门墩石被盗", "电动车电瓶被盗")


def history(world, n_parking=8, n_theft=6):
    for i in range(n_parking):
        closed_incident(world, matter="INC_PARKING", title=PARKING[i % len(PARKING)], unit="KG-DZ-EN")
    for i in range(n_theft):
        closed_incident(world, matter="INC_THEFT", title=THEFT[i % len(THEFT)], unit="KG-EN")


def train(*args) -> str:
    out = StringIO()
    call_command("train-dispatch", *args, stdout=out)
    return out.getvalue()


def test_it_refuses_with_too_few_closed_cases(world):
    report(world)  # open reports do not count
    with pytest.raises(CommandError, match="只有 0 件已结案的事件，少于训练所需的 200 件"):
        train()
    assert not DispatchModel.objects.exists()


def test_it_trains_stores_and_activates_a_version(world):
    history(world)
    output = train("--min-cases", "10")
    model = DispatchModel.objects.get()
    assert model.active and model.trained_on == 14 and model.region_path == "/XX/"
    assert model.labels == {"categories": ["INC_PARKING", "INC_THEFT"], "units": ["enforcement@2", "enforcement@3"]}
    assert model.metrics["tested_on"] == 3 and model.metrics["trained_on_split"] == 11
    assert {"category_top1", "unit_top3", "category_majority"} <= set(model.metrics)
    assert f"model v{model.pk}" in output and "now active" in output
    suggestion = selectors.smart_suggestion(report(world, title="有人偷电瓶", matter="INC_THEFT"))
    assert suggestion.model.id == model.pk and suggestion.category.code == "INC_THEFT"


def test_a_new_version_replaces_the_active_one_in_every_process(world):
    history(world)
    first = services.dispatch_model_train(min_cases=10)
    assert selectors.active_model("/XX/KG/").id == first.pk  # now cached in this process
    second = services.dispatch_model_train(min_cases=10)
    assert list(DispatchModel.objects.filter(active=True)) == [second]
    assert selectors.active_model("/XX/KG/").id == second.pk  # the bump reloaded the cache
    services.dispatch_model_activate(model_id=first.pk)  # rollback
    assert selectors.active_model("/XX/KG/").id == first.pk
    third = services.dispatch_model_train(min_cases=10, activate=False)
    assert not DispatchModel.objects.get(pk=third.pk).active and selectors.active_model("/XX/").id == first.pk


def test_it_needs_two_categories(world):
    for title in PARKING * 3:
        closed_incident(world, matter="INC_PARKING", title=title, unit="KG-DZ-EN")
    with pytest.raises(ValidationFailed) as refused:
        services.dispatch_model_train(min_cases=10)
    assert refused.value.field == "min_cases" and "两个事件类别" in refused.value.message


def test_it_refuses_an_unknown_region_and_a_silly_minimum(world):
    with pytest.raises(CommandError, match="NOPE"):
        train("--region", "NOPE")
    with pytest.raises(ValidationFailed):
        services.dispatch_model_train(min_cases=0)


def test_a_row_not_signed_here_is_never_loaded(world, model):
    DispatchModel.objects.filter(pk=model.pk).update(signature="0" * 64)
    selectors.models_cache.clear()
    assert selectors.active_model("/XX/") is None
    assert selectors.smart_suggestion(report(world)) is None  # no suggestion, and no error
    with pytest.raises(ValidationFailed):
        services.dispatch_model_activate(model_id=model.pk)


def test_a_stored_model_of_the_old_pickle_format_is_ignored_with_a_message_to_retrain(world, model, caplog):
    old = pickle.dumps(Payload())  # what yiwang 0.1 stored, signed with this installation's key
    DispatchModel.objects.filter(pk=model.pk).update(blob=old, signature=classifier._signature(old, settings.SECRET_KEY))
    selectors.models_cache.clear()
    assert selectors.active_model("/XX/") is None
    assert selectors.smart_suggestion(report(world)) is None
    assert f"dispatch model v{model.pk} not loaded" in caplog.text
    assert "is a pickle (the format of yiwang 0.1), which is never loaded: retrain with `yiwang train-dispatch`" in caplog.text
    with pytest.raises(ValidationFailed):
        services.dispatch_model_activate(model_id=model.pk)
    assert UNPICKLED == []
