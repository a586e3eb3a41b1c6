"""Writes of the command centre. Each case's move is one transaction through cases.services."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from yiwang.cases.models import Case, Kind
from yiwang.cases.services import case_act, case_flag_duplicate, case_for_action, register_and_dispatch
from yiwang.command import classifier, selectors
from yiwang.command.models import DispatchModel, DispatchSettings
from yiwang.core import clock, confcache
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy

logger = logging.getLogger(__name__)

MAX_BULK = 200


@dataclass(frozen=True)
class BulkResult:
    case_id: int
    ok: bool
    number: str = ""
    message: str = ""
    field: str | None = None


def bulk_dispatch(*, viewer: Viewer, items: list[tuple[int, int]], unit_code: str | None = None) -> list[BulkResult]:
    """批量派遣: each (case id, version) is registered if needed and dispatched in its own transaction,
    so one stale or refused case does not undo the others; every outcome is reported."""
    if not items:
        raise ValidationFailed(_("请至少选择一件案件。"), field="cases")
    if len(items) > MAX_BULK:
        raise ValidationFailed(_("一次最多派遣 %(n)s 件。") % {"n": MAX_BULK}, field="cases")
    out = []
    for case_id, version in items:
        try:
            case = register_and_dispatch(viewer=viewer, case_id=case_id, version=version, unit_code=unit_code)
        except DomainError as exc:
            out.append(BulkResult(case_id, False, message=exc.message, field=exc.field))
        else:
            out.append(BulkResult(case_id, True, number=case.number))
    return out


# --- 智能派单 (smart dispatch) ---------------------------------------------------------------


def _district(region_code: str | None) -> RegionInfo:
    h = hierarchy()
    if region_code:
        return h.region(region_code)
    roots = [r for r in h.regions.values() if r.parent_id is None]
    if len(roots) != 1:
        raise ValidationFailed(_("有多个或没有顶级区域，请指明为哪个区域训练（--region）。"), field="region_code")
    return roots[0]


def _majority(train: list[classifier.Example], test: list[classifier.Example], attr: str) -> float | None:
    # The share a model that always answers the most common label would get right: the floor to beat.
    if not train or not test:
        return None
    label = Counter(getattr(e, attr) for e in train).most_common(1)[0][0]
    return round(sum(getattr(e, attr) == label for e in test) / len(test), 4)


def dispatch_model_train(*, region_code: str | None = None, min_cases: int | None = None, activate: bool = True,
                         trained_by: str = "", log: Callable[[str], None] | None = None) -> DispatchModel:
    """Train a new model version on the district's closed incidents and store it (active by default).

    Judged first on a split by time (learn from the older 80 %, test on the newest 20 %), then
    refitted on every case, so the stored model knows the newest reports too.
    """
    log = log or (lambda message: None)
    region = _district(region_code)
    needed = selectors.dispatch_config().min_training_cases if min_cases is None else min_cases
    if needed < 2:
        raise ValidationFailed(_("最少结案数不能小于 2。"), field="min_cases")
    examples = selectors.training_examples(region.path)
    if len(examples) < needed:
        raise ValidationFailed(
            _("%(region)s只有 %(n)s 件已结案的事件，少于训练所需的 %(min)s 件；请待结案事件更多后再训练，"
              "或降低“训练所需最少结案数”。") % {"region": region.name, "n": len(examples), "min": needed},
            field="min_cases")
    words, units = selectors.category_keywords(), selectors.unit_refs()
    train, test = classifier.split_by_time(examples)
    log(f"{len(examples)} closed incidents: training on the older {len(train)}, testing on the newest {len(test)}")
    try:
        metrics = classifier.evaluate(classifier.fit(train, units=units, words=words), test)
        final = classifier.fit(examples, units=units, words=words)
    except classifier.TooLittleData:
        raise ValidationFailed(_("训练数据中至少需要两个事件类别和两类处置单位。"), field="min_cases") from None
    metrics.update(trained_on_split=len(train), category_majority=_majority(train, test, "category"),
                   unit_majority=_majority(train, test, "unit"))
    return dispatch_model_save(model=final, region_code=region.code, trained_on=len(examples), metrics=metrics,
                               activate=activate, trained_by=trained_by)


def dispatch_model_save(*, model: classifier.Classifier, region_code: str, trained_on: int, metrics: dict,
                        activate: bool = True, trained_by: str = "") -> DispatchModel:
    """Store a trained classifier as a new version for a region, signed, and (by default) put it in use."""
    region = hierarchy().region(region_code)
    blob, signature = classifier.dumps(model, secret=settings.SECRET_KEY)
    with transaction.atomic():
        row = DispatchModel.objects.create(
            created_at=clock.now(), region_id=region.id, region_path=region.path, trained_on=trained_on,
            labels={"categories": model.categories, "units": model.units}, metrics=metrics,
            library=classifier.library_versions(), blob=blob, signature=signature, trained_by=trained_by[:150])
        if activate:
            _activate(row)
    return row


def _activate(model: DispatchModel) -> None:
    DispatchModel.objects.filter(region_path=model.region_path, active=True).exclude(pk=model.pk).update(active=False)
    if not model.active:
        model.active = True
        model.save(update_fields=["active"])
    confcache.bump(selectors.MODELS_CACHE)


def dispatch_model_activate(*, model_id: int) -> DispatchModel:
    """Make a stored version the one in use for its region (a rollback to an older one, say)."""
    with transaction.atomic():
        model = DispatchModel.objects.select_for_update().filter(pk=model_id).first()
        if model is None:
            raise NotFound(_("没有该模型版本。"), field="model_id")
        try:
            classifier.loads(model.blob, model.signature, secret=settings.SECRET_KEY)
        except classifier.UntrustedModel:
            raise ValidationFailed(_("该模型版本无法验证（签名不符或格式过旧），请重新训练。"), field="model_id") from None
        _activate(model)
        return model


def dispatch_settings_update(*, auto_enabled: bool, auto_threshold: float, min_training_cases: int,
                             updated_by: str = "") -> DispatchSettings:
    """An administrator's change of the 智能派单 settings; every process sees it within seconds."""
    errors: dict[str, list[str]] = {}
    try:
        threshold = float(auto_threshold)
    except (TypeError, ValueError):
        threshold = math.nan
    if not 0.0 <= threshold <= 1.0:  # also refuses NaN
        errors["auto_threshold"] = [_("置信度阈值须在 0 到 1 之间。")]
    if not isinstance(min_training_cases, int) or not 10 <= min_training_cases <= 1_000_000:
        errors["min_training_cases"] = [_("训练所需最少结案数须在 10 到 1000000 之间。")]
    if errors:
        raise ValidationFailed(_("设置有误，请按提示修改。"), errors=errors)
    with transaction.atomic():
        row = DispatchSettings.objects.select_for_update().filter(pk=1).first() or DispatchSettings(pk=1)
        row.auto_enabled = bool(auto_enabled)
        row.auto_threshold = threshold
        row.min_training_cases = min_training_cases
        row.updated_at = clock.now()
        row.updated_by = updated_by[:150]
        row.save()
        confcache.bump(selectors.SETTINGS_CACHE)
    return row


def auto_dispatch(*, case_id: int) -> Case | None:
    """自动派遣: register a new report and dispatch it to the unit the model names, as the system,
    when automatic dispatch is on and the model is sure enough; otherwise leave it to the operator.

    "Sure enough": the top unit's probability reaches the threshold and the model's top category is
    the one the reporter chose (when they disagree a person should look). Safe to call again: a case
    no longer waiting for registration is left alone. Returns the dispatched case, or None.
    """
    config = selectors.dispatch_config()
    if not config.auto_enabled:
        return None
    case = Case.objects.select_related("matter").filter(pk=case_id, kind=Kind.INCIDENT, state="reported").first()
    if case is None or case.parent_id is not None:
        return None
    suggestion = selectors.smart_suggestion(case)
    if suggestion is None or suggestion.unit is None or suggestion.category is None:
        return None
    if suggestion.confidence < config.auto_threshold or suggestion.category.code != case.matter.code:
        return None
    details = {"model": suggestion.model.id, "confidence": round(suggestion.confidence, 4),
               "category": suggestion.category.code, "category_confidence": round(suggestion.category_confidence, 4),
               "threshold": config.auto_threshold}
    with translation.override(settings.LANGUAGE_CODE):  # the timeline is in the site's language
        comment = _("智能派单：模型 v%(v)s 判断由%(unit)s处置，置信度 %(p)s%%") % {
            "v": suggestion.model.id, "unit": suggestion.unit.name, "p": round(suggestion.confidence * 100)}
    try:
        return register_and_dispatch(case_id=case.pk, unit_code=suggestion.unit.code, comment=comment,
                                     payload={"smart_dispatch": details})
    except DomainError as exc:
        # Someone acted first, or the unit is out of the centre's reach: the operator decides.
        logger.info("smart dispatch left case %s to the operator: %s", case.pk, exc.message)
        return None


def on_case_opened(sender, *, case_id: int, kind: str, **kwargs) -> None:
    """cases.services.case_opened's receiver (connected in apps.py): flag a likely duplicate, else
    try 自动派遣, on a new incident. Run by `yiwang worker` after the report is committed (the job was
    queued with it), so nothing here can fail or slow the reporter's request. Safe to run twice.
    """
    if kind != Kind.INCIDENT:
        return
    try:
        if flag_duplicate(case_id=case_id):
            return  # a likely duplicate waits for the operator's merge, never dispatched twice
        auto_dispatch(case_id=case_id)
    except Exception:  # the report stands whatever happens here; the operator still sees it
        logger.exception("intake checks failed for case %s", case_id)


def flag_duplicate(*, case_id: int) -> bool:
    """At intake: flag a new report that repeats an open one of its category nearby (the nearest,
    earliest such report). True when it was flagged."""
    # Only what the search reads, of this case and of the candidates.
    case = (Case.objects.filter(pk=case_id, kind=Kind.INCIDENT, closed_at__isnull=True)
            .only("id", "kind", "matter_id", "lat", "lng", "created_at").first())
    if case is None:
        return False
    found = selectors.duplicate_candidates(None, case, limit=1, earlier_only=True, fields=("id",))
    if not found:
        return False
    return case_flag_duplicate(case_id=case.pk, original_id=found[0].case.pk, distance_m=found[0].distance_m)


def merge_into_flagged(*, viewer: Viewer, case_id: int, version: int) -> Case:
    """One click on the board: merge a flagged report into the case it was flagged as repeating."""
    # Scoped first: a case outside the viewer's regions is not found, whatever its flag says.
    case = case_for_action(viewer, case_id)
    if case.likely_duplicate_of is None:
        raise ValidationFailed(_("该案件没有被标记为疑似重复。"), field="case_id")
    return case_act(viewer=viewer, case_id=case_id, action="merge", version=version,
                    parent_number=case.likely_duplicate_of.number)
