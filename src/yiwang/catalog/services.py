"""Writes to the catalogue. Publishing a matter freezes a new MatterVersion; open cases keep theirs."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.catalog.autorules import validate_rule
from yiwang.catalog.formschema import validate_schema, with_field_order
from yiwang.catalog.models import Matter, MatterFAQ, MatterKind, MatterVersion, RoutingRule, TimeUnit
from yiwang.core import clock, confcache
from yiwang.core.errors import ValidationFailed
from yiwang.org.models import Level, UnitKind

CATALOGUE = "catalog.matters"
ROUTING = "catalog.routing"

SNAPSHOT_FIELDS = (
    "code", "name", "kind", "life_event", "handling_levels", "responsible_unit_kind", "dispatch_unit_kind",
    "duplicate_metres", "duplicate_hours", "time_limit",
    "time_unit", "statutory_limit", "is_instant", "materials", "form_schema", "guide", "where", "fees",
    "legal_basis", "auto_rule",
)


def _validate(matter: Matter) -> None:
    if matter.kind not in MatterKind.values:
        raise ValidationFailed(_("未知的事项类别。"), field="kind")
    if not matter.handling_levels or any(lv not in Level.values for lv in matter.handling_levels):
        raise ValidationFailed(_("办理层级须为 area、city、town、community 中的一个或多个。"), field="handling_levels")
    if matter.responsible_unit_kind not in UnitKind.values:
        raise ValidationFailed(_("未知的承办单位类型。"), field="responsible_unit_kind")
    if matter.duplicate_metres > 5000 or matter.duplicate_hours > 24 * 30:
        raise ValidationFailed(_("疑似重复的距离不超过 5000 米，时间窗不超过 30 天。"), field="duplicate_metres")
    if matter.dispatch_unit_kind and (matter.dispatch_unit_kind not in UnitKind.values or matter.kind != "incident"):
        raise ValidationFailed(_("只有事件类事项可以指定处置单位类型，且须为已知类型。"), field="dispatch_unit_kind")
    if matter.time_unit not in TimeUnit.values or matter.time_limit < 0:
        raise ValidationFailed(_("时限须为非负整数，单位为工作日或小时。"), field="time_limit")
    if not isinstance(matter.materials, list) or any(
        not isinstance(m, dict) or not m.get("code") or not m.get("name") for m in matter.materials
    ):
        raise ValidationFailed(_("每项申请材料须有 code 和 name。"), field="materials")
    validate_schema(matter.form_schema)
    problems = validate_rule(matter.auto_rule)
    if problems:
        raise ValidationFailed(problems[0], errors={"auto_rule": problems})
    if matter.auto_rule and matter.kind != MatterKind.APPLICATION:
        raise ValidationFailed(_("只有政务服务事项可以自动办理。"), field="auto_rule")


@transaction.atomic
def matter_publish(*, matter: Matter) -> Matter:
    """Validate and save ``matter`` (new or edited) and freeze it as its next version."""
    _validate(matter)
    matter.form_schema = with_field_order(matter.form_schema)
    matter.save()
    number = (matter.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    snapshot = {f: getattr(matter, f) for f in SNAPSHOT_FIELDS}
    version = MatterVersion.objects.create(matter=matter, number=number, snapshot=snapshot, published_at=clock.now())
    matter.current_version = version
    matter.save(update_fields=["current_version"])
    confcache.bump(CATALOGUE)
    return matter


@transaction.atomic
def matter_create(**fields) -> Matter:
    return matter_publish(matter=Matter(**fields))


@transaction.atomic
def routing_rule_save(*, rule: RoutingRule) -> RoutingRule:
    rule.save()
    confcache.bump(ROUTING)
    return rule


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule) -> None:
    rule.delete()
    confcache.bump(ROUTING)


@transaction.atomic
def faq_publish(*, matter_id: int, question: str, answer: str, source_case_id: int | None = None) -> MatterFAQ:
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ValidationFailed(_("问题和答复都不能为空。"), field="answer")
    faq = MatterFAQ.objects.create(matter_id=matter_id, question=question[:2000], answer=answer[:5000],
                                   published_at=clock.now(), source_case_id=source_case_id)
    confcache.bump(CATALOGUE)  # the search index includes the questions
    return faq


# --- search: the staff's synonyms and the log of queries that found nothing ----------------------
# Imported here rather than at the top: this section was added while the top was being edited by
# another change, and keeping it self-contained keeps the two apart.
from django.db import IntegrityError as _IntegrityError  # noqa: E402
from django.db.models import F  # noqa: E402

from yiwang.catalog.models import SearchMiss, SearchSynonym  # noqa: E402
from yiwang.core import text as core_text  # noqa: E402
from yiwang.core.idnumber import mask_text  # noqa: E402

SEARCH_SYNONYMS = "catalog.search"  # catalog.search.SYNONYMS: the cache of the synonyms

def search_synonym_save(*, synonym: SearchSynonym) -> SearchSynonym:
    """Save a synonym (admin) and make every process's search index pick it up."""
    for name in ("phrase", "means"):
        core_text.check_text(getattr(synonym, name), field=name)
        setattr(synonym, name, " ".join(getattr(synonym, name).split()))
    if not synonym.phrase:
        raise ValidationFailed(_("请填写群众说法。"), field="phrase")
    if not synonym.means and synonym.matter_id is None:
        raise ValidationFailed(_("请填写对应目录用语或选择事项。"), field="means")
    with transaction.atomic():
        synonym.save()
        confcache.bump(SEARCH_SYNONYMS)
    return synonym


def search_synonym_delete(*, synonym: SearchSynonym) -> None:
    with transaction.atomic():
        synonym.delete()
        confcache.bump(SEARCH_SYNONYMS)


def search_miss_record(query: str) -> SearchMiss | None:
    """Count a query that found no matter, for staff to add the synonym it lacked. A query holding an
    ID number or a mobile number is personal data, not a search word: it is not kept (None)."""
    from yiwang.catalog.search import fold

    compact = "".join((query or "").split()).replace("-", "")  # 138 1234-5678 is a number too
    if not compact or mask_text(compact) != compact or core_text.holds_control_character(compact):
        return None
    text = fold(query)[: SearchMiss._meta.get_field("query").max_length]
    if not text:
        return None
    now = clock.now()
    with transaction.atomic():
        if not SearchMiss.objects.filter(query=text).update(count=F("count") + 1, last_seen=now):
            try:
                with transaction.atomic():
                    SearchMiss.objects.create(query=text, last_seen=now)
            except _IntegrityError:  # another request logged it first
                SearchMiss.objects.filter(query=text).update(count=F("count") + 1, last_seen=now)
    return SearchMiss.objects.get(query=text)


def search_synonyms_load(rows=None) -> tuple[int, int]:
    """Add the default synonyms (catalog/synonyms.py) that are not there yet; (added, already there).
    A staff member's edit of a phrase is never overwritten."""
    from yiwang.catalog.synonyms import DEFAULT_SYNONYMS

    added = kept = 0
    with transaction.atomic():
        codes = dict(Matter.objects.values_list("code", "pk"))
        for phrase, means, code in DEFAULT_SYNONYMS if rows is None else rows:
            if SearchSynonym.objects.filter(phrase=phrase).exists():
                kept += 1
                continue
            SearchSynonym.objects.create(phrase=phrase, means=means, matter_id=codes.get(code))
            added += 1
        if added:
            confcache.bump(SEARCH_SYNONYMS)
    return added, kept
