import functools

import pytest

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.catalog.services import matter_create
from yiwang.command import classifier, services
from yiwang.command.tests import synthetic
from yiwang.org.models import UnitKind

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append("code ran")


class Payload:
    """What a hostile pickle does: it names a function for the loader to call (here, one that leaves a trace)."""

    def __reduce__(self):
        return _record_unpickling, ()


@functools.cache
def _fitted() -> classifier.Classifier:
    # Fitting takes a second or two; every test that only needs "a model" shares this one.
    return classifier.fit(synthetic.reports(400), units=synthetic.UNITS, words=synthetic.keywords())


@pytest.fixture
def sanitation(world):
    return matter_create(code="INC_SANITATION", name="环境卫生", kind="incident", handling_levels=["town", "city"],
                         responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.OFFICE,
                         time_limit=1, time_unit="workdays", keywords="垃圾 卫生 清运")


@pytest.fixture
def model(world, sanitation):
    """An active model for the whole district (XX), trained on generated reports."""
    return services.dispatch_model_save(model=_fitted(), region_code="XX", trained_on=400,
                                        metrics={"category_top1": 0.99, "unit_top1": 0.98})


def act(world, who, case, action, **kw):
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **kw)


HANDLERS = {"KG-DZ-EN": "handler_en", "KG-EN": "handler_kg_en"}


def closed_incident(world, *, matter: str, title: str, unit: str, lat=34.405, lng=108.705) -> Case:
    """A report taken round the whole loop through the services, handled by ``unit``."""
    case = case_create(viewer=world.viewer("gridder_xfl"), matter_code=matter, lat=lat, lng=lng, title=title,
                       description=f"幸福里第一网格：{title}，请尽快处理。", channel="grid").case
    act(world, "operator_kg", case, "register")
    act(world, "operator_kg", case, "dispatch", unit_code=unit)
    act(world, HANDLERS[unit], case, "acknowledge")
    act(world, HANDLERS[unit], case, "handle", result="已处置")
    act(world, "operator_kg", case, "verify")
    return act(world, "operator_kg", case, "close")


def report(world, *, matter="INC_PARKING", title="路口乱停车", description="", who="gridder_xfl",
           lng: float = 108.705) -> Case:
    return case_create(viewer=world.viewer(who), matter_code=matter, lat=34.405, lng=lng, title=title,
                       description=description, channel="grid").case
