"""Where a new case goes: the lowest level that can handle it (能在村(社区)办，不到街镇跑).

1. An administrator's routing rule for this matter (or any matter) whose region contains the
   case's region wins, most specific priority first.
2. Otherwise walk the case's region chain upward from the region itself; at the first level the
   matter allows, take that region's unit of the matter's responsible kind.
3. Otherwise the nearest command centre up the chain takes it, so nothing is ever unrouted.
Everything comes from in-process caches: routing asks the database nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from yiwang.catalog.selectors import MatterInfo, info_from_snapshot, routing_rules
from yiwang.core.errors import ValidationFailed
from yiwang.org.models import UnitKind
from yiwang.org.selectors import Hierarchy, RegionInfo, UnitInfo, hierarchy


@dataclass(frozen=True)
class Route:
    unit: UnitInfo
    # How the unit was chosen. route(): rule | lowest_level | fallback; a staff member naming the unit
    # at intake (cases.services): named; dispatch_suggestion(), a suggestion only: category.
    reason: str
    detail: dict

    def as_payload(self) -> dict:
        return {"reason": self.reason, "unit": self.unit.code, **self.detail}


def route(matter: MatterInfo, region: RegionInfo, h: Hierarchy | None = None) -> Route:
    h = h or hierarchy()
    for rule in routing_rules():
        if rule.matter_id not in (None, matter.id):
            continue
        if rule.region_path is not None and not region.path.startswith(rule.region_path):
            continue
        unit = h.units.get(rule.target_unit_id)
        if unit is not None:
            return Route(unit, "rule", {"rule": rule.id, "rule_name": rule.name})
    chain = h.chain(region.id)
    for r in chain:
        if r.level not in matter.handling_levels:
            continue
        unit_ids = h.units_at.get((r.id, matter.responsible_unit_kind))
        if unit_ids:
            return Route(h.units[unit_ids[0]], "lowest_level", {"level": r.level, "region": r.code})
    for r in chain:
        unit_ids = h.units_at.get((r.id, UnitKind.COMMAND_CENTRE))
        if unit_ids:
            return Route(h.units[unit_ids[0]], "fallback", {"level": r.level, "region": r.code})
    raise ValidationFailed(_("该区域及其上级都没有可以受理的单位，也没有指挥中心。"), field="region_code")


def escalation_target(unit: UnitInfo, h: Hierarchy | None = None) -> UnitInfo:
    """The unit of the same kind one or more levels up; failing that, the nearest command centre."""
    h = h or hierarchy()
    chain = h.chain(unit.region_id)[1:]
    for kind in (unit.kind, UnitKind.COMMAND_CENTRE):
        for r in chain:
            unit_ids = h.units_at.get((r.id, kind))
            if unit_ids:
                return h.units[unit_ids[0]]
    raise ValidationFailed(_("已经是最高一级，无法再上报。"), field="action")


def explain(route_: Route) -> str:
    """The routing reason in words, for the timeline."""
    if route_.reason == "rule":
        return _("按分拨规则“%(rule)s”分派至%(unit)s") % {"rule": route_.detail["rule_name"], "unit": route_.unit.name}
    if route_.reason == "named":
        return _("指定由%(unit)s办理") % {"unit": route_.unit.name}
    if route_.reason == "lowest_level":
        return _("按就近就低原则分派至%(unit)s") % {"unit": route_.unit.name}
    return _("无可承办单位，转%(unit)s统筹") % {"unit": route_.unit.name}


def dispatch_suggestion(matter: MatterInfo, region: RegionInfo, h: Hierarchy | None = None) -> Route | None:
    """Whom the command centre should dispatch an incident to: the nearest unit of the category's
    dispatch kind (乱停车 → 综合执法) from the incident's place upward; None when the category names
    no kind or no such unit exists up the chain."""
    if not matter.dispatch_unit_kind:
        return None
    h = h or hierarchy()
    for r in h.chain(region.id):
        unit_ids = h.units_at.get((r.id, matter.dispatch_unit_kind))
        if unit_ids:
            return Route(h.units[unit_ids[0]], "category", {"level": r.level, "region": r.code})
    return None


def case_dispatch_suggestion(case) -> Route | None:
    """dispatch_suggestion for an open case, by the matter version it was opened under: the one
    answer to "where should this incident be dispatched" (the board, the workbench, parking, 批量派遣)."""
    h = hierarchy()
    region = h.regions.get(case.region_id)
    if region is None:
        return None
    info = info_from_snapshot(case.matter_id, case.matter_version_id, case.matter_version.snapshot)
    return dispatch_suggestion(info, region, h)
