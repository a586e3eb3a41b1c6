"""timeline.new_row builds the same unsaved row as Model.__init__, without its field walk."""

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services.timeline import new_row


@pytest.mark.parametrize("model", [Case, CaseEvent])
def test_new_row_has_model_init_defaults(model):
    by_init, by_new_row = model(), new_row(model)
    for field in model._meta.concrete_fields:
        assert getattr(by_new_row, field.attname) == getattr(by_init, field.attname), field.name
    assert by_new_row._state.adding and by_new_row._state.db is None


def test_new_row_gives_each_row_its_own_mutable_default():
    a, b = new_row(Case), new_row(Case)
    a.form_data["x"] = 1
    assert b.form_data == {} and a.materials is not b.materials


def test_new_row_sets_a_relation_through_its_descriptor():
    case = new_row(Case, title="t", region_path="/XX/")
    event = new_row(CaseEvent, case=case, seq=1)
    assert event.case is case and event.case_id is None and event.seq == 1


def test_new_row_refuses_an_unknown_name():
    with pytest.raises(TypeError):
        new_row(Case, nonsense=1)
