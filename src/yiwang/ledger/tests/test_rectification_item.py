"""A rectification item is a case of kind rectification, given to the responsible unit and supervised
by the batch's accepting unit; the ledger keeps its list, number, measures and type."""

import datetime as dt

import pytest

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from yiwang.ledger import selectors, services
from yiwang.ledger.tests.conftest import accept_item, act, make_batch, make_item, make_list

pytestmark = pytest.mark.django_db


def test_an_item_opens_a_rectification_case_at_the_responsible_unit(world):
    plist = make_list(world, make_batch(world))
    item = make_item(world, plist, immediate=True, due_at=clock.today() + dt.timedelta(days=10))
    case = item.case
    assert case.kind == "rectification" and case.state == "open"
    assert case.holder_unit_id == world.units["cjc_branch"].id
    assert case.supervisor_unit_id == world.units["kg_office"].id
    assert case.assignee.username == "secretary_cjc" and item.responsible_person == "secretary_cjc"
    assert case.region_path == item.region_path == world.regions["cjc"].path
    assert item.number == 1 and item.batch_id == plist.batch_id and item.immediate
    first = CaseEvent.objects.get(case=case, seq=1)
    assert first.payload["ledger"] == {"list": plist.title, "number": 1, "immediate": True, "batch": plist.batch.title}


def test_items_are_numbered_within_their_list(world):
    batch = make_batch(world)
    first, other = make_list(world, batch), make_list(world, batch, title="幸福里社区党支部问题清单",
                                                      region_code="KG-DZ-XFL")
    numbers = [make_item(world, first).number, make_item(world, first).number,
               make_item(world, other, unit_code="KG-DZ-XFL-SH", assignee_username=None).number]
    assert numbers == [1, 2, 1]


def test_the_whole_loop_with_a_send_back(world):
    item = make_item(world, make_list(world, make_batch(world)))
    act(world, "secretary_cjc", item, "start")
    act(world, "secretary_cjc", item, "report_progress", comment="已召开支委会")
    act(world, "secretary_cjc", item, "submit_acceptance", result="已建立台账")
    with pytest.raises(PermissionDenied):  # the responsible unit does not accept its own work
        act(world, "secretary_cjc", item, "approve")
    act(world, "leader_kg", item, "send_back", comment="台账不完整")
    act(world, "secretary_cjc", item, "submit_acceptance", result="已补齐")
    case = act(world, "leader_kg", item, "approve")
    assert case.state == "accepted" and case.closed_at is not None
    row = selectors.ledger_rows([selectors.item_get(viewer=world.viewer("leader_kg"), item_id=item.pk)])[0]
    assert row.state_label == "已验收" and row.accepted_on == clock.today() and not row.overdue


def test_an_overdue_item_is_marked_in_the_ledger(world):
    item = make_item(world, make_list(world, make_batch(world)), due_at=clock.today() + dt.timedelta(days=3))
    later = clock.now() + dt.timedelta(days=5)
    with clock.frozen_at(later):
        rows = selectors.ledger_rows(selectors.items_of(world.viewer("leader_kg"), batch=item.batch))
        assert rows[0].overdue
        assert selectors.batch_list(viewer=world.viewer("leader_kg"))[0][1].overdue == 1


@pytest.mark.parametrize("fields,error,field", [
    ({"problem": " "}, ValidationFailed, "problem"),
    ({"measures": ""}, ValidationFailed, "measures"),
    ({"due_at": None}, ValidationFailed, "due_at"),
    ({"due_at": dt.date(2001, 1, 1)}, ValidationFailed, "due_at"),
    ({"immediate": True, "due_at": dt.date.today() + dt.timedelta(days=90)}, ValidationFailed, "due_at"),
    ({"unit_code": "QH-WC-SH"}, PermissionDenied, "unit_code"),
    ({"unit_code": "NOPE"}, NotFound, "unit_code"),
    ({"assignee_username": "clerk_spd"}, ValidationFailed, "assignee"),
])
def test_bad_items_are_refused_with_the_field(world, fields, error, field):
    plist = make_list(world, make_batch(world))
    with pytest.raises(error) as err:
        make_item(world, plist, **fields)
    assert err.value.field == field


def test_only_leaders_over_the_list_add_items(world):
    plist = make_list(world, make_batch(world))
    with pytest.raises(PermissionDenied):
        make_item(world, plist, who="secretary_cjc")
    with pytest.raises(NotFound):  # 秦汉 staff do not even see 空港's lists
        make_item(world, plist, who="clerk_spd")


def test_the_holder_sees_its_item_but_not_the_others(world):
    batch = make_batch(world)
    mine = make_item(world, make_list(world, batch))
    make_item(world, make_list(world, batch, title="幸福里", region_code="KG-DZ-XFL"), unit_code="KG-DZ-XFL-SH",
              assignee_username=None)
    secretary = world.viewer("secretary_cjc")
    assert [i.pk for i in selectors.items_of(secretary, batch=batch)] == [mine.pk]
    assert selectors.batch_get(viewer=secretary, batch_id=batch.pk) == batch  # through the item it holds
    with pytest.raises(NotFound):
        selectors.batch_get(viewer=world.viewer("clerk_spd"), batch_id=batch.pk)


def test_an_accepted_batch_takes_no_more_items(world):
    batch = make_batch(world)
    plist = make_list(world, batch)
    accept_item(world, make_item(world, plist))
    services.batch_accept(viewer=world.viewer("leader_kg"), batch_id=batch.pk, note="验收合格")
    with pytest.raises(Conflict):
        make_item(world, plist)
    with pytest.raises(Conflict):
        make_list(world, batch, title="又一个")


def test_a_repeated_submission_with_the_same_key_makes_one_item(world):
    plist = make_list(world, make_batch(world))
    first = make_item(world, plist, idempotency_key="k1")
    again = make_item(world, plist, idempotency_key="k1")
    assert first.pk == again.pk and plist.items.count() == 1
