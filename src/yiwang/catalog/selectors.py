"""Reads of the catalogue, served from an in-process cache so case intake asks the database nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q
from django.utils.translation import gettext as _

from yiwang.catalog.formschema import Checker, compile_checker
from yiwang.catalog.models import INTERNAL_KINDS, Matter, MatterDocument, MatterFAQ, RoutingRule, SearchMiss
from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import NotFound
from yiwang.core.pagination import Page, paginate
from yiwang.org.models import Unit


@dataclass(frozen=True)
class MatterInfo:
    id: int
    version_id: int
    code: str
    name: str
    kind: str
    handling_levels: tuple[str, ...]
    responsible_unit_kind: str
    dispatch_unit_kind: str
    auto_rule: dict
    duplicate_metres: int
    duplicate_hours: int
    time_limit: int
    time_unit: str
    is_instant: bool
    required_materials: frozenset[str]
    material_codes: frozenset[str]
    check_form: Checker
    material_names: tuple[tuple[str, str], ...] = ()  # (code, name) in the catalogue's order
    resident_can_apply: bool = True

    def material_name(self, code: str) -> str:
        return next((name for c, name in self.material_names if c == code), code)


def info_from_snapshot(matter_id: int, version_id: int, snap: dict) -> MatterInfo:
    materials = snap.get("materials") or []
    return MatterInfo(
        id=matter_id,
        version_id=version_id,
        code=snap["code"],
        name=snap["name"],
        kind=snap["kind"],
        handling_levels=tuple(snap["handling_levels"]),
        responsible_unit_kind=snap["responsible_unit_kind"],
        dispatch_unit_kind=snap.get("dispatch_unit_kind", ""),  # versions frozen before the field existed
        auto_rule=snap.get("auto_rule") or {},
        duplicate_metres=snap.get("duplicate_metres", 300),
        duplicate_hours=snap.get("duplicate_hours", 72),
        time_limit=snap["time_limit"],
        time_unit=snap["time_unit"],
        is_instant=snap["is_instant"],
        required_materials=frozenset(m["code"] for m in materials if m.get("required", True)),
        material_codes=frozenset(m["code"] for m in materials),
        check_form=compile_checker(snap.get("form_schema") or {}),
        material_names=tuple((m["code"], m.get("name") or m["code"]) for m in materials),
        # Versions frozen before the field existed: internal exactly when their kind is.
        resident_can_apply=snap.get("resident_can_apply", snap["kind"] not in INTERNAL_KINDS),
    )


@dataclass(frozen=True)
class Catalogue:
    by_code: dict[str, MatterInfo]
    by_id: dict[int, MatterInfo]


def _load_matters() -> Catalogue:
    rows = Matter.objects.filter(active=True, current_version__isnull=False).values_list(
        "id", "current_version_id", "current_version__snapshot"
    )
    infos = [info_from_snapshot(mid, vid, snap) for mid, vid, snap in rows]
    return Catalogue(by_code={m.code: m for m in infos}, by_id={m.id: m for m in infos})


matter_cache: ConfigCache[Catalogue] = ConfigCache("catalog.matters", _load_matters)


def matter_info(code: str) -> MatterInfo:
    try:
        return matter_cache.get().by_code[code]
    except KeyError:
        raise NotFound(_("没有编码为 %(code)s 的在办事项。") % {"code": code}, field="matter_code") from None


def matter_info_by_id(matter_id: int) -> MatterInfo | None:
    """The live matter's name and code for display (None once it is deactivated)."""
    return matter_cache.get().by_id.get(matter_id)


@dataclass(frozen=True)
class RuleInfo:
    id: int
    name: str
    matter_id: int | None
    region_path: str | None
    target_unit_id: int


def _load_rules() -> list[RuleInfo]:
    return [
        RuleInfo(*row)
        for row in RoutingRule.objects.filter(active=True, target_unit__active=True)
        .order_by("priority", "id")
        .values_list("id", "name", "matter_id", "region__path", "target_unit_id")
    ]


rule_cache: ConfigCache[list[RuleInfo]] = ConfigCache("catalog.routing", _load_rules)


def routing_rules() -> list[RuleInfo]:
    return rule_cache.get()


def matter_list(*, kind: str | None = None, level: str | None = None, q: str | None = None,
                residents: bool = False) -> list[Matter]:
    """Active matters; with ``residents``, only those a resident may open a case in (the portal, the API)."""
    qs = Matter.objects.filter(active=True)
    if residents:
        qs = qs.filter(resident_can_apply=True)
    if kind:
        qs = qs.filter(kind=kind)
    matters = list(qs.order_by("code"))
    if q:
        # The portal's search (catalog/search.py), best first; a matter's exact code finds it too.
        from yiwang.catalog.search import search

        order = {code: i for i, code in enumerate(search(q, limit=len(matters) + 1))}
        order.update({m.code: -1 for m in matters if m.code.lower() == q.strip().lower()})
        matters = sorted((m for m in matters if m.code in order), key=lambda m: order[m.code])
    # JSON containment differs between SQLite and PostgreSQL; the catalogue is small, so filter here.
    if level:
        matters = [m for m in matters if level in m.handling_levels]
    return matters


def matter_get(code: str, *, residents: bool = False) -> Matter:
    """The active matter; with ``residents``, a matter staff keep for themselves is not found."""
    qs = Matter.objects.filter(code=code, active=True)
    if residents:
        qs = qs.filter(resident_can_apply=True)
    matter = qs.first()
    if matter is None:
        raise NotFound(_("没有编码为 %(code)s 的在办事项。") % {"code": code}, field="code")
    return matter


def matters_handled_at(*, unit_kind: str, level: str) -> list[MatterInfo]:
    """Matters a unit of this kind at this level handles (what a service hall can do for you)."""
    return sorted(
        (m for m in matter_cache.get().by_code.values()
         if m.responsible_unit_kind == unit_kind and level in m.handling_levels and m.kind != "incident"
         and m.resident_can_apply),
        key=lambda m: m.code,
    )


def document_get(*, matter_code: str, document_id: int) -> MatterDocument:
    doc = (MatterDocument.objects.select_related("matter")
           .filter(pk=document_id, matter__code=matter_code, matter__active=True, matter__resident_can_apply=True)
           .first())
    if doc is None:
        raise NotFound(_("没有这份表格。"), field="document")
    return doc


def faqs_published(matter: Matter) -> list[MatterFAQ]:
    """The matter's FAQ as residents read it on the guide: published entries only, newest first."""
    return list(matter.faqs.filter(published_at__isnull=False).order_by("-published_at", "-id"))


def documents_of(matter: Matter) -> list[MatterDocument]:
    return list(matter.documents.all())


LEVEL_ORDER = ("community", "town", "city", "area")


def halls_for(matter: Matter, *, region_path: str | None = None, limit: int = 12) -> list[Unit]:
    """Where the matter is handled, with the address, hours and phone a guide gives (办理地点/时间).

    For a resident whose region is known: the units over their region that can take it, nearest level
    first (where routing would send them). Otherwise the units of the highest level that handles it:
    the fewest places, each one serving every community below it.
    """
    levels = [lv for lv in LEVEL_ORDER if lv in (matter.handling_levels or [])]
    if not levels:
        return []
    units = (Unit.objects.filter(kind=matter.responsible_unit_kind, active=True, region__level__in=levels)
             .select_related("region").order_by("region__path", "code"))
    if region_path:
        mine = [u for u in units if region_path.startswith(u.region_path)]
        if mine:
            return sorted(mine, key=lambda u: -len(u.region_path))[:limit]
    return [u for u in units if u.region.level == levels[-1]][:limit]


def search_misses(*, cursor: str | None = None, limit: int = 50, handled: bool = False) -> Page:
    """Queries that found nothing, last searched first: the open ones (never handled, or searched again
    since), or with ``handled`` those dealt with and not searched since."""
    open_q = Q(handled_at__isnull=True) | Q(last_seen__gt=F("handled_at"))
    qs = SearchMiss.objects.exclude(open_q) if handled else SearchMiss.objects.filter(open_q)
    return paginate(qs, order="-last_seen", cursor=cursor, limit=limit)
