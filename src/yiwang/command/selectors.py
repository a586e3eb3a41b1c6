"""Reads of the command centre (综合执法指挥中心): the dispatch board, suggestions, likely duplicates.

Every read is scoped: the board shows the cases the viewer's command-centre units hold or supervise.
A case has two suggestions: 按类别 (the nearest unit of its category's dispatch kind, from routing)
and 智能 (the trained model's category and unit, from the report's words; see classifier.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import Case, Kind
from yiwang.catalog.models import Matter
from yiwang.catalog.selectors import MatterInfo, matter_cache, matter_info_by_id
from yiwang.command import classifier
from yiwang.command.models import DispatchModel, DispatchSettings
from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.org.models import Role, UnitKind
from yiwang.org.selectors import (
    UnitInfo,
    Viewer,
    bounding_box,
    distance_km,
    hierarchy,
    scope_q,
    units_reachable,
)

logger = logging.getLogger(__name__)

# The board's tabs, in the order of the closed loop (GB/T 30428): 案卷建立 → 任务派遣 →
# 任务处理 (督办) → 核查结案.
TABS = [
    ("reported", _("待立案")), ("registered", _("待派遣")), ("handling", _("处置中")), ("verify", _("待核查")),
]
HANDLING = ("dispatched", "acknowledged")



def command_units(viewer: Viewer) -> list[int]:
    """The command-centre units the viewer works in as an operator (all of them for a superuser)."""
    h = hierarchy()
    if viewer.is_superuser:
        return sorted(u.id for u in h.units.values() if u.kind == UnitKind.COMMAND_CENTRE)
    return sorted({m.unit_id for m in viewer.memberships
                   if m.role == Role.OPERATOR and m.unit_id in h.units and h.units[m.unit_id].kind == UnitKind.COMMAND_CENTRE})


def _tab_q(tab: str, units: list[int]) -> Q:
    return {
        "reported": Q(holder_unit_id__in=units, state="reported"),
        "registered": Q(holder_unit_id__in=units, state="registered"),
        "handling": Q(supervisor_unit_id__in=units, state__in=HANDLING),
        "verify": Q(holder_unit_id__in=units, state__in=("handled", "verified")),
    }[tab]


def board_cases(viewer: Viewer, tab: str, *, matter_code: str = "", off_grid: bool = False,
                limit: int = 200) -> QuerySet[Case]:
    """One tab of the dispatch board: most urgent first (red, yellow, then by deadline and age)."""
    units = command_units(viewer)
    qs = Case.objects.filter(scope_q(viewer), _tab_q(tab, units), kind=Kind.INCIDENT, closed_at__isnull=True)
    if matter_code:
        qs = qs.filter(matter__code=matter_code)
    if off_grid:
        qs = qs.filter(off_grid=True)
    order = ["-warning_level", "due_at", "id"] if tab == "handling" else ["-priority", "id"]
    return qs.select_related("matter", "matter_version", "region", "holder_unit",
                             "likely_duplicate_of").order_by(*order)[:limit]


def board_counts(viewer: Viewer) -> dict[str, int]:
    units = command_units(viewer)
    base = Case.objects.filter(scope_q(viewer), kind=Kind.INCIDENT, closed_at__isnull=True).filter(
        Q(holder_unit_id__in=units) | Q(supervisor_unit_id__in=units))
    return base.aggregate(**{key: Count("id", filter=_tab_q(key, units)) for key, _label in TABS})


@dataclass(frozen=True)
class Duplicate:
    case: Case
    distance_m: int


def duplicate_candidates(viewer: Viewer | None, case: Case, *, limit: int = 5, earlier_only: bool = False,
                         fields: tuple[str, ...] | None = None) -> list[Duplicate]:
    """Open incidents of the same category reported near this one shortly before (or after) it, by
    the category's own windows (Matter.duplicate_metres / duplicate_hours). ``viewer`` None: the
    system's look at intake, unscoped; ``earlier_only``: only reports that came first; ``fields``:
    load only these of each candidate (intake needs the id alone: whole rows cost it ~1 ms)."""
    info = matter_info_by_id(case.matter_id)
    if case.lat is None or case.lng is None or info is None or not info.duplicate_metres:
        return []
    metres_limit, window = info.duplicate_metres, dt.timedelta(hours=info.duplicate_hours)
    qs = Case.objects.filter(kind=case.kind, matter_id=case.matter_id, closed_at__isnull=True,
                             **bounding_box(case.lat, case.lng, metres_limit),
                             created_at__range=(case.created_at - window,
                                                case.created_at if earlier_only else case.created_at + window))
    if viewer is not None:
        qs = qs.filter(scope_q(viewer))
    rows = qs.exclude(pk=case.pk).filter(parent__isnull=True).order_by("created_at")
    if fields:
        rows = rows.only(*{"id", "lat", "lng", "created_at", *fields})
    rows = [other for other in rows[:50]
            if not (earlier_only and (other.created_at, other.pk) >= (case.created_at, case.pk))]
    if not rows:
        return []
    import numpy as np  # as org.selectors.distance_km: loaded on first use, not with the module

    # One vectorised distance for all of them: per row, numpy's scalar calls cost ~5 µs apiece.
    km = distance_km(case.lat, case.lng, np.array([o.lat for o in rows]), np.array([o.lng for o in rows]))
    out = []
    for other, distance in zip(rows, km, strict=True):
        metres = round(float(distance) * 1000)
        if metres <= metres_limit:
            out.append(Duplicate(other, metres))
    out.sort(key=lambda d: (d.distance_m, d.case.created_at))
    return out[:limit]


def incident_categories() -> list:
    """Active incident matters, for the board's filter."""
    return sorted((m for m in matter_cache.get().by_code.values() if m.kind == Kind.INCIDENT), key=lambda m: m.code)


# --- 智能派单 (smart dispatch) ---------------------------------------------------------------

SETTINGS_CACHE = "command.dispatch_settings"
MODELS_CACHE = "command.dispatch_models"
MAX_TEXT = 2000
# Training reads at most this many of the newest closed cases: enough for every category, and the
# cost of a training stays bounded however long the district has used the system.
MAX_TRAINING_CASES = 200_000
# Who trains: the system, over the whole district (scope_q of a superuser is everything).
SYSTEM = Viewer(user_id=None, username="system", is_superuser=True)


@dataclass(frozen=True)
class DispatchConfig:
    auto_enabled: bool
    auto_threshold: float
    min_training_cases: int


def _load_config() -> DispatchConfig:
    row = DispatchSettings.objects.filter(pk=1).first() or DispatchSettings()
    return DispatchConfig(row.auto_enabled, row.auto_threshold, row.min_training_cases)


config_cache: ConfigCache[DispatchConfig] = ConfigCache(SETTINGS_CACHE, _load_config)


def dispatch_config() -> DispatchConfig:
    return config_cache.get()


@dataclass(frozen=True)
class ActiveModel:
    id: int
    created_at: dt.datetime
    region_path: str
    trained_on: int
    metrics: dict
    classifier: classifier.Classifier


def _load_models() -> dict[str, ActiveModel]:
    """Every active model, loaded once per process and version (reloaded when one is activated); a
    version that cannot be loaded (another key's, the pickle of yiwang 0.1) is logged and skipped."""
    out = {}
    for row in DispatchModel.objects.filter(active=True).order_by("region_path"):
        try:
            model = classifier.loads(row.blob, row.signature, secret=settings.SECRET_KEY)
        except classifier.UntrustedModel as exc:
            logger.error("dispatch model v%s not loaded: %s", row.pk, exc)
            continue
        model.prepare()
        out[row.region_path] = ActiveModel(row.pk, row.created_at, row.region_path, row.trained_on, row.metrics, model)
    return out


models_cache: ConfigCache[dict[str, ActiveModel]] = ConfigCache(MODELS_CACHE, _load_models)


def active_model(region_path: str) -> ActiveModel | None:
    """The active model of the nearest region containing ``region_path``; for no place ("") the
    district's model (the first, when several districts share an installation)."""
    models = models_cache.get()
    containing = [m for path, m in models.items() if region_path.startswith(path)]
    if containing:
        return max(containing, key=lambda m: len(m.region_path))
    if not region_path and models:
        return min(models.values(), key=lambda m: (len(m.region_path), m.region_path))
    return None


@dataclass(frozen=True)
class SmartSuggestion:
    model: ActiveModel
    categories: list[tuple[MatterInfo, float]]  # best first
    units: list[tuple[UnitInfo, float]]

    @property
    def category(self) -> MatterInfo | None:
        return self.categories[0][0] if self.categories else None

    @property
    def category_confidence(self) -> float:
        return self.categories[0][1] if self.categories else 0.0

    @property
    def unit(self) -> UnitInfo | None:
        return self.units[0][0] if self.units else None

    @property
    def confidence(self) -> float:
        """The top unit's probability: what the automatic dispatch compares with its threshold."""
        return self.units[0][1] if self.units else 0.0


def _named(model: ActiveModel, prediction: classifier.Prediction, reachable: set[int] | None = None) -> SmartSuggestion:
    # Labels the catalogue or the hierarchy no longer has (a retired category, a closed unit) drop out.
    matters, h = matter_cache.get().by_code, hierarchy()
    categories = [(matters[s.code], s.probability) for s in prediction.categories if s.code in matters]
    units = [(h.units[h.unit_by_code[s.code]], s.probability) for s in prediction.units if s.code in h.unit_by_code]
    if reachable is not None:
        units = [(u, p) for u, p in units if u.id in reachable]
    return SmartSuggestion(model, categories, units)


def case_text(case: Case) -> str:
    return f"{case.title}\n{case.description}"


def smart_suggestions(cases: list[Case]) -> dict[int, SmartSuggestion]:
    """The model's suggestion for each case, by case id; none at all while no model is active."""
    out: dict[int, SmartSuggestion] = {}
    by_model: dict[int, tuple[ActiveModel, list[Case]]] = {}
    for case in cases:
        model = active_model(case.region_path)
        if model is not None:
            by_model.setdefault(model.id, (model, []))[1].append(case)
    for model, group in by_model.values():
        predictions = model.classifier.predict_many([(case_text(c), c.region_path) for c in group])
        for case, prediction in zip(group, predictions, strict=True):
            out[case.pk] = _named(model, prediction)
    return out


def smart_suggestion(case: Case) -> SmartSuggestion | None:
    return smart_suggestions([case]).get(case.pk)


def suggest_for_text(viewer: Viewer, *, text: str, region_code: str | None = None) -> SmartSuggestion | None:
    """智能派单 for a text typed in (the API's suggest): the top categories and, among the units the
    viewer could hand a case to, the top units. None while no model is active."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_t("请填写事件描述。"), field="text")
    if len(text) > MAX_TEXT:
        raise ValidationFailed(_t("事件描述不能超过 %(n)s 个字。") % {"n": MAX_TEXT}, field="text")
    path = ""
    if region_code:
        region = hierarchy().region(region_code)
        if not viewer.can_see_path(region.path):
            raise NotFound(_t("没有代码为 %(code)s 的区域。") % {"code": region_code}, field="region_code")
        path = region.path
    # Without a place the caller's own area stands in: units are found by role from a place.
    path = path or (viewer.region_paths[0] if viewer.region_paths else "")
    model = active_model(path)
    if model is None:
        return None
    reachable = None if viewer.is_superuser else {u.id for u in units_reachable(viewer)}
    return _named(model, model.classifier.predict(text, path), reachable)


def model_for_viewer(viewer: Viewer) -> ActiveModel | None:
    """The model that serves the viewer's area (the board's header names it)."""
    return active_model(viewer.region_paths[0] if viewer.region_paths else "")


def training_examples(region_path: str, *, limit: int = MAX_TRAINING_CASES) -> list[classifier.Example]:
    """Closed incidents of the region, oldest first: what was reported, where, its category and the
    unit that handled it (dismissed and merged reports were never handled, so they teach nothing)."""
    rows = list(Case.objects.filter(scope_q(SYSTEM), kind=Kind.INCIDENT, state="closed", handling_unit__isnull=False,
                                    region_path__startswith=region_path)
                .order_by("-created_at", "-id")
                .values_list("title", "description", "region_path", "matter__code", "handling_unit__code")[:limit])
    rows.reverse()
    return [classifier.Example(f"{title}\n{description}", path, category, unit)
            for title, description, path, category, unit in rows]


def unit_refs() -> list[classifier.UnitRef]:
    """Every active unit, for the model to resolve "the enforcement team of this town" to a unit."""
    return [classifier.UnitRef(u.code, u.kind, u.region_path) for u in hierarchy().units.values()]


def category_keywords() -> list[str]:
    """The incident categories' names and keywords: words jieba must keep whole."""
    words: set[str] = set()
    for name, keywords in Matter.objects.filter(kind=Kind.INCIDENT).values_list("name", "keywords"):
        words.update(w for w in [*name.replace("/", " ").split(), *keywords.split()] if len(w) > 1)
    return sorted(words)


def dispatch_models(*, region_path: str = "", limit: int = 20) -> list[DispatchModel]:
    return list(DispatchModel.objects.filter(region_path__startswith=region_path).defer("blob")[:limit])
