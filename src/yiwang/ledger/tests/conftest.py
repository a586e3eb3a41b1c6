import datetime as dt

import pytest

from yiwang.cases.services import case_act
from yiwang.core import clock
from yiwang.ledger import services


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def make_batch(world, who="leader_kg", **kw):
    fields = dict(title="软弱涣散基层党组织整顿（第一批）", region_code="KG", supervisor_unit_code="KG-OF",
                  matter_code="RECT_GRASSROOTS")
    fields.update(kw)
    return services.batch_create(viewer=world.viewer(who), **fields)


def make_list(world, batch, who="leader_kg", **kw):
    fields = dict(title="程家村党支部问题清单", region_code="KG-DZ-CJC")
    fields.update(kw)
    return services.problem_list_create(viewer=world.viewer(who), batch_id=batch.pk, **fields)


def make_item(world, plist, who="leader_kg", **kw):
    fields = dict(problem="“三会一课”制度落实不到位", measures="建立组织生活台账，每月召开支委会",
                  unit_code="KG-DZ-CJC-DZB", due_at=clock.today() + dt.timedelta(days=60),
                  assignee_username="secretary_cjc")
    fields.update(kw)
    return services.item_create(viewer=world.viewer(who), problem_list_id=plist.pk, **fields)


def act(world, who, item, action, **kw):
    item.case.refresh_from_db()
    return case_act(viewer=world.viewer(who), case_id=item.case_id, action=action, version=item.case.version, **kw)


def accept_item(world, item):
    """The whole loop of one item, up to its acceptance by the supervising leader."""
    act(world, "secretary_cjc", item, "start")
    act(world, "secretary_cjc", item, "submit_acceptance", result="已整改到位")
    return act(world, "leader_kg", item, "approve")
