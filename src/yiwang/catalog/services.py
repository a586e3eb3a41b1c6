"""Writes to the catalogue. Publishing a matter freezes a new MatterVersion; open cases keep theirs."""

from __future__ import annotations

import hashlib
import re

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.catalog.autorules import validate_rule
from yiwang.catalog.formschema import validate_schema, with_field_order
from yiwang.catalog.models import (
    INTERNAL_KINDS,
    Delivery,
    Matter,
    MatterDocument,
    MatterFAQ,
    MatterKind,
    MatterVersion,
    RoutingRule,
    TimeUnit,
)
from yiwang.core import clock, confcache, idnumber
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.text import check_text
from yiwang.org.models import Level, UnitKind

CATALOGUE = "catalog.matters"
ROUTING = "catalog.routing"

SNAPSHOT_FIELDS = (
    "code", "name", "kind", "life_event", "handling_levels", "responsible_unit_kind", "dispatch_unit_kind",
    "duplicate_metres", "duplicate_hours", "time_limit",
    "time_unit", "statutory_limit", "is_instant", "materials", "form_schema", "guide", "where", "fees",
    "legal_basis", "auto_rule", "resident_can_apply", "visits", "delivery", "consult_phone", "complaint_phone",
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
    if matter.resident_can_apply and matter.kind in INTERNAL_KINDS:
        raise ValidationFailed(_("整改事项和帮扶类别由工作人员立项，不能面向群众。"), field="resident_can_apply")
    if not isinstance(matter.delivery, list) or any(d not in Delivery.values for d in matter.delivery):
        raise ValidationFailed(_("结果送达方式须为 %(choices)s 中的一个或多个。")
                               % {"choices": "、".join(Delivery.values)}, field="delivery")
    if matter.visits > 10:
        raise ValidationFailed(_("到现场次数不超过 10 次。"), field="visits")


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
    # Unless told, a matter faces residents exactly when its kind is one residents open cases in.
    fields.setdefault("resident_can_apply", fields.get("kind") not in INTERNAL_KINDS)
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


MAX_QUESTION = 2000
MAX_ANSWER = 5000


def _faq_text(question: str, answer: str) -> tuple[str, str]:
    question, answer = question.strip(), answer.strip()
    if not question:
        raise ValidationFailed(_("问题不能为空。"), field="question")
    if not answer:
        raise ValidationFailed(_("答复不能为空。"), field="answer")
    if len(question) > MAX_QUESTION:
        raise ValidationFailed(_("问题不能超过 %(n)s 个字。") % {"n": MAX_QUESTION}, field="question")
    if len(answer) > MAX_ANSWER:
        raise ValidationFailed(_("答复不能超过 %(n)s 个字。") % {"n": MAX_ANSWER}, field="answer")
    check_text(question, field="question")
    check_text(answer, field="answer")
    return question, answer


# A draft holds the resident's numbers masked (faq_draft): what is left of them still points at a person.
_MASKED = re.compile(r"\d{4}\*{6,13}[\dXx]{2}|1[3-9]\d\*{4}\d{4}")


def faq_personal_details(text: str) -> list[str]:
    """What in a FAQ text names a person, masked for display: ID numbers and mobile numbers, whole or
    as a draft masks them."""
    found = [idnumber.mask(n) for n in idnumber.find_in_text(text)]
    found += [idnumber.mask_phone(p) for p in idnumber.find_phones(text)]
    return list(dict.fromkeys(found + _MASKED.findall(text or "")))


@transaction.atomic
def faq_draft(*, matter_id: int, question: str, answer: str, source_case_id: int | None = None) -> MatterFAQ:
    """A consultation's question and answer as an unpublished draft, for staff to edit out what is
    personal before anyone else reads it. A consultation gives one entry: asking again is refused."""
    # Masked at once: the FAQ table never holds a resident's whole ID or phone number, even as a draft.
    question = idnumber.mask_text(question.strip())[:MAX_QUESTION]
    answer = idnumber.mask_text(answer.strip())[:MAX_ANSWER]
    if not question or not answer:
        raise ValidationFailed(_("问题和答复都不能为空。"), field="answer")
    if source_case_id is not None and MatterFAQ.objects.filter(source_case_id=source_case_id).exists():
        raise ValidationFailed(_("该咨询已转为常见问题，不能重复发布；请到“常见问题”页编辑。"), field="action")
    try:
        with transaction.atomic():
            return MatterFAQ.objects.create(matter_id=matter_id, question=question, answer=answer,
                                            source_case_id=source_case_id, created_at=clock.now())
    except IntegrityError:
        # The same consultation drafted by a concurrent click that committed first.
        raise ValidationFailed(_("该咨询已转为常见问题，不能重复发布；请到“常见问题”页编辑。"),
                               field="action") from None


@transaction.atomic
def faq_publish(*, faq_id: int, question: str, answer: str, published_by: str) -> MatterFAQ:
    """Publish a draft as staff edited it. A second publication (a double click, two clerks) is refused:
    the row is locked, so of two concurrent requests the second sees the first's publication."""
    question, answer = _faq_text(question, answer)
    # Published, it is read by everyone and searched: nobody's ID number or mobile number goes with it.
    for field, text in (("question", question), ("answer", answer)):
        found = faq_personal_details(text)
        if found:
            raise ValidationFailed(_("仍含个人信息(%(found)s)，请删去后再发布。") % {"found": "、".join(found)},
                                   field=field)
    faq = MatterFAQ.objects.select_for_update().filter(pk=faq_id).first()
    if faq is None:
        raise NotFound(_("没有这条常见问题。"), field="faq")
    if faq.published_at is not None:
        raise ValidationFailed(_("这条常见问题已于 %(at)s 发布，不能重复发布。")
                               % {"at": timezone.localtime(faq.published_at).strftime("%Y-%m-%d %H:%M")}, field="faq")
    faq.question, faq.answer = question, answer
    faq.published_at, faq.published_by = clock.now(), published_by[:150]
    faq.save(update_fields=["question", "answer", "published_at", "published_by"])
    confcache.bump(CATALOGUE)  # the search index includes the questions
    return faq


@transaction.atomic
def faq_save_draft(*, faq_id: int, question: str, answer: str) -> MatterFAQ:
    """Keep staff's edits of a draft without publishing it."""
    question, answer = _faq_text(question, answer)
    faq = MatterFAQ.objects.select_for_update().filter(pk=faq_id).first()
    if faq is None:
        raise NotFound(_("没有这条常见问题。"), field="faq")
    if faq.published_at is not None:
        raise ValidationFailed(_("这条常见问题已发布，请在管理后台修改。"), field="faq")
    faq.question, faq.answer = question, answer
    faq.save(update_fields=["question", "answer"])
    return faq


@transaction.atomic
def faq_discard(*, faq_id: int) -> None:
    """Drop a draft that should not be published; the consultation keeps its place (no second draft)."""
    faq = MatterFAQ.objects.select_for_update().filter(pk=faq_id, published_at__isnull=True).first()
    if faq is None:
        raise NotFound(_("没有这条待发布的常见问题。"), field="faq")
    faq.delete()


# --- blank forms and samples (表格下载) ----------------------------------------------------------

# What a guide offers for download, recognised by content rather than by the name it was uploaded under.
# Word and Excel files since 2007 are zip containers: the first entry names which of the two it is.
DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "jpg": "image/jpeg",
    "png": "image/png",
}
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file header of .doc and .xls


def document_kind(data: bytes, filename: str) -> str:
    """The extension of a form file by its content (and, for the two formats that share one
    container, by the name it came with); refuses anything else."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04"):
        if b"word/" in data[:4096] or (ext == "docx" and b"[Content_Types].xml" in data[:4096]):
            return "docx"
        if b"xl/" in data[:4096] or (ext == "xlsx" and b"[Content_Types].xml" in data[:4096]):
            return "xlsx"
    if data.startswith(_OLE) and ext in ("doc", "xls"):
        return ext
    raise ValidationFailed(_("表格须为 PDF、Word、Excel、JPEG 或 PNG 文件。"), field="file")


def _download_name(title: str, ext: str) -> str:
    return re.sub(r'[\\/:*?"<>|]', "_", title) + "." + ext


@transaction.atomic
def document_describe(*, document: MatterDocument, title: str, kind: str, position: int = 0) -> MatterDocument:
    """Rename or reorder a stored form; the resident downloads it under its new title."""
    title = title.strip()
    if not title or len(title) > 100:
        raise ValidationFailed(_("名称不能为空，且不超过 100 个字。"), field="title")
    check_text(title, field="title")
    if kind not in MatterDocument.Kind.values:
        raise ValidationFailed(_("未知的表格类型。"), field="kind")
    document.title, document.kind, document.position = title, kind, position
    document.filename = _download_name(title, document.filename.rsplit(".", 1)[-1])
    document.save(update_fields=["title", "kind", "position", "filename"])
    return document


def document_check(*, title: str, kind: str, data: bytes, filename: str) -> str:
    """The refusals document_store makes (the admin shows them beside the field); returns the extension."""
    if not title or len(title) > 100:
        raise ValidationFailed(_("名称不能为空，且不超过 100 个字。"), field="title")
    check_text(title, field="title")
    if kind not in MatterDocument.Kind.values:
        raise ValidationFailed(_("未知的表格类型。"), field="kind")
    if not data:
        raise ValidationFailed(_("请选择文件。"), field="file")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed(_("文件不能超过 10 MB。"), field="file")
    return document_kind(data, filename)


@transaction.atomic
def document_store(*, matter: Matter, title: str, data: bytes, filename: str, kind: str = MatterDocument.Kind.BLANK,
                   position: int = 0, document: MatterDocument | None = None) -> MatterDocument:
    """Store a blank form or sample for ``matter``'s guide (new, or replacing ``document``'s file)."""
    title = title.strip()
    ext = document_check(title=title, kind=kind, data=data, filename=filename)
    doc = document or MatterDocument(matter=matter)
    doc.matter, doc.title, doc.kind, doc.position = matter, title, kind, position
    # The resident downloads it under the title, not under whatever the uploader's file was called.
    doc.filename = _download_name(title, ext)
    doc.content_type, doc.size, doc.uploaded_at = DOCUMENT_TYPES[ext], len(data), clock.now()
    # Named by content, as material files are: the same form uploaded again (or the demo loaded again)
    # is stored once.
    name = f"{MatterDocument.file.field.upload_to}{hashlib.sha256(data).hexdigest()}.{ext}"
    if doc.file.storage.exists(name):
        doc.file.name = name
    else:
        doc.file.save(name.rsplit("/", 1)[-1], ContentFile(data), save=False)
    doc.save()
    return doc



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


def search_miss_handle(*, miss_id: int) -> SearchMiss:
    """Mark a query that found nothing as dealt with; searched again and still missing, it is open again."""
    with transaction.atomic():
        miss = SearchMiss.objects.select_for_update().filter(pk=miss_id).first()
        if miss is None:
            raise NotFound(_("没有这条无结果搜索。"), field="miss")
        miss.handled_at = clock.now()
        miss.save(update_fields=["handled_at"])
    return miss


def search_miss_add_synonym(*, miss_id: int, phrase: str, means: str = "", matter_code: str = "") -> SearchSynonym:
    """The synonym a query that found nothing lacked, saved and in force (search_synonym_save), and the
    query marked as dealt with: one step on the workbench's 无结果搜索 page."""
    matter_code = (matter_code or "").strip()
    with transaction.atomic():
        matter = None
        if matter_code:
            matter = Matter.objects.filter(code=matter_code).first()
            if matter is None:
                raise ValidationFailed(_("没有编码为 %(code)s 的事项。") % {"code": matter_code}, field="matter")
        folded = " ".join((phrase or "").split())
        if folded and SearchSynonym.objects.filter(phrase=folded).exists():
            raise ValidationFailed(_("“%(phrase)s”已有同义词，请在同义词列表中修改。") % {"phrase": folded},
                                   field="phrase")
        synonym = search_synonym_save(synonym=SearchSynonym(phrase=phrase or "", means=means or "", matter=matter))
        search_miss_handle(miss_id=miss_id)
    return synonym
