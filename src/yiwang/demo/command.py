"""Demo 智能派单 for an already-loaded demo: a model trained on the history, automatic dispatch on for
confident reports, and a few fresh reports in people's own words, some dispatched by the system and
some left on the board with their suggestions for the operator.

Called by yiwang.demo.loader after the case history; reproducible from ``rng``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from yiwang.cases.models import Channel
from yiwang.cases.services import case_create
from yiwang.catalog.selectors import matter_cache
from yiwang.command import selectors, services
from yiwang.core.errors import DomainError
from yiwang.org.models import Level, Region, Role, Staff
from yiwang.org.selectors import viewer_for

AUTO_THRESHOLD = 0.9
# What grid workers write, in their own words rather than the history's stock titles.
FRESH_REPORTS = (
    ("INC_PARKING", "幼儿园门口接孩子的车辆乱停，把路堵死了"),
    ("INC_PARKING", "小区门口私家车乱停占道，消防通道被堵"),
    ("INC_SANITATION", "垃圾站三天没人清运，苍蝇很多"),
    ("INC_THEFT", "昨晚村里两户人家的电动车电瓶被盗"),
    ("INC_NOISE", "楼下烧烤店半夜还在大声放音乐，噪音扰民"),
    ("INC_ROAD_DAMAGE", "十字路口的路灯一直不亮，晚上很黑"),
    ("INC_MANHOLE", "人行道上井盖缺失，差点有人掉下去"),
    ("INC_ADVERT", "单元门上贴满了开锁小广告"),
    ("INC_STREET_VENDOR", "卖水果的三轮车占道经营，占了半条马路"),
    ("INC_BURNING", "村东头有人焚烧秸秆，烟很大"),
    ("INC_ILLEGAL_BUILDING", "邻居在院子里私自加盖了二层"),
)
FRESH_COUNT = 8


def _grid_workers() -> list[tuple[object, Region]]:
    """(grid worker, one grid of their community) pairs, in a stable order."""
    out = []
    staff = Staff.objects.filter(role=Role.GRID_WORKER, unit__active=True).select_related("user", "unit__region")
    for member in staff.order_by("user__username"):
        grid = (Region.objects.filter(level=Level.GRID, path__startswith=member.unit.region.path, lat__isnull=False)
                .order_by("path").first())
        if grid is not None:
            out.append((member.user, grid))
    return out


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Train the model, switch automatic dispatch on, file the fresh reports; return what was made."""
    config = selectors.dispatch_config()
    services.dispatch_settings_update(auto_enabled=True, auto_threshold=AUTO_THRESHOLD,
                                      min_training_cases=config.min_training_cases, updated_by="demo")
    made: dict = {"model": None, "trained_on": 0, "reports": 0, "auto_dispatched": 0}
    try:
        model = services.dispatch_model_train(trained_by="demo")
    except DomainError as exc:
        log(f"  smart dispatch: no model trained ({exc.message})")
        return made
    made.update(model=model.pk, trained_on=model.trained_on, metrics=model.metrics)
    log(f"  smart dispatch: model v{model.pk} on {model.trained_on} closed incidents, held-out category top-1 "
        f"{model.metrics['category_top1']}, unit top-1 {model.metrics['unit_top1']}")
    workers = _grid_workers()
    known = matter_cache.get().by_code
    reports = [r for r in FRESH_REPORTS if r[0] in known]
    if not workers or not reports:
        return made
    for code, text in rng.sample(reports, min(FRESH_COUNT, len(reports))):
        user, grid = rng.choice(workers)
        lat = round(grid.lat + rng.uniform(-0.001, 0.001), 6)
        lng = round(grid.lng + rng.uniform(-0.001, 0.001), 6)
        case = case_create(viewer=viewer_for(user), matter_code=code, region_code=grid.code, title=text[:40],
                           description=f"{grid.name}：{text}。", channel=Channel.GRID, lat=lat, lng=lng).case
        made["reports"] += 1
        # The receiver would do this once the load commits; doing it here keeps the demo's numbers known.
        if services.auto_dispatch(case_id=case.pk) is not None:
            made["auto_dispatched"] += 1
    log(f"  smart dispatch: {made['reports']} fresh reports, {made['auto_dispatched']} dispatched automatically")
    return made
