"""A batch passes acceptance (验收) when every item of it has; its progress is counted from the cases."""

import pytest

from yiwang.core.errors import Conflict, PermissionDenied, ValidationFailed
from yiwang.ledger import selectors, services
from yiwang.ledger.tests.conftest import accept_item, act, make_batch, make_item, make_list

pytestmark = pytest.mark.django_db


def progress(world, batch):
    return dict(selectors.batch_list(viewer=world.viewer("leader_kg")))[batch]


def test_a_batch_passes_once_every_item_has(world):
    batch = make_batch(world)
    plist = make_list(world, batch)
    first, second, dropped = make_item(world, plist), make_item(world, plist), make_item(world, plist)
    assert progress(world, batch).stage == "rectifying"
    act(world, "leader_kg", dropped, "cancel", comment="与第1项重复")
    accept_item(world, first)
    with pytest.raises(ValidationFailed) as err:
        services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="验收合格")
    assert err.value.field == "batch" and "程家村党支部问题清单 2" in err.value.message
    act(world, "secretary_cjc", second, "start")
    act(world, "secretary_cjc", second, "submit_acceptance", result="已整改")
    p = progress(world, batch)
    assert (p.stage, p.total, p.counted, p.accepted, p.percent) == ("acceptance", 3, 2, 1, 50)
    act(world, "leader_kg", second, "approve")
    assert progress(world, batch).stage == "ready"
    accepted = services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="第一批整顿验收合格")
    assert accepted.accepted_at is not None and accepted.acceptance_note == "第一批整顿验收合格"
    p = progress(world, batch)
    assert (p.stage, p.percent, p.stage_label) == ("passed", 100, "已通过验收")


def test_a_batch_is_accepted_only_once(world):
    batch = make_batch(world)
    accept_item(world, make_item(world, make_list(world, batch)))
    services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="合格")
    with pytest.raises(Conflict):
        services.batch_accept(viewer=world.viewer("admin"), batch_id=batch.pk, note="再次")


def test_an_empty_batch_cannot_pass(world):
    batch = make_batch(world)
    make_list(world, batch)
    with pytest.raises(ValidationFailed):
        services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="合格")


def test_the_responsible_unit_cannot_accept_the_batch(world):
    batch = make_batch(world)
    accept_item(world, make_item(world, make_list(world, batch)))
    with pytest.raises(PermissionDenied):
        services.batch_accept(viewer=world.viewer("secretary_cjc"), batch_id=batch.pk, note="合格")


def test_a_note_is_required(world):
    batch = make_batch(world)
    accept_item(world, make_item(world, make_list(world, batch)))
    with pytest.raises(ValidationFailed) as err:
        services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="  ")
    assert err.value.field == "note"


@pytest.mark.parametrize("who,fields,error,field", [
    ("secretary_cjc", {}, PermissionDenied, "region_code"),
    ("leader_kg", {"region_code": "QH"}, PermissionDenied, "region_code"),
    ("leader_kg", {"region_code": "KG-DZ", "supervisor_unit_code": "KG-DZ-CJC-DZB"}, ValidationFailed,
     "supervisor_unit_code"),
    ("leader_kg", {"matter_code": "SENIOR_CARD"}, ValidationFailed, "matter_code"),
    ("leader_kg", {"title": ""}, ValidationFailed, "title"),
])
def test_bad_batches_are_refused_with_the_field(world, who, fields, error, field):
    with pytest.raises(error) as err:
        make_batch(world, who=who, **fields)
    assert err.value.field == field


def test_a_list_lies_within_its_batch(world):
    batch = make_batch(world, region_code="KG-DZ")
    with pytest.raises(ValidationFailed) as err:
        make_list(world, batch, region_code="QH-WC-SPD")
    assert err.value.field == "region_code"
