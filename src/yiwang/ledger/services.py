"""Every write of the ledger: one function per action, one transaction each.

A rectification item is opened, moved and closed through the case engine (cases.services.case_create
and case_act); this module writes only the ledger's own rows around it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from yiwang.cases.attachments import DOCUMENTS, attachment_store, sniff_upload
from yiwang.cases.models import Case, Kind
from yiwang.cases.services import case_act, case_create
from yiwang.catalog.models import Matter
from yiwang.core import clock
from yiwang.core.errors import Conflict, PermissionDenied, ValidationFailed
from yiwang.ledger import selectors
from yiwang.ledger.models import Batch, Field, ProblemList, RectificationItem, ResearchTopic, ResearchVisit
from yiwang.org.models import Level, Role, Staff
from yiwang.org.selectors import Viewer, hierarchy

MAX_TEXT = 5000
# 立行立改 means fixed at once: an item so marked with a deadline further out than this is a
# long-term item and should be entered as one.
IMMEDIATE_MAX_DAYS = 30
MAX_EVIDENCE_FILES = 5
# Topics are set by the leading bodies of 新区、新城、街镇 (and a village or community may set its own).
TOPIC_LEVELS = (Level.AREA, Level.CITY, Level.TOWN, Level.COMMUNITY)


def _text(value: str | None, field: str, label: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("请填写%(label)s。") % {"label": label}, field=field)
    if len(value) > max_length:
        raise ValidationFailed(_("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": max_length}, field=field)
    return value


def _staff(viewer: Viewer) -> None:
    if viewer.user_id is None:
        raise PermissionDenied(_("请先登录。"))
    if not viewer.is_staff_member:
        raise PermissionDenied(_("仅限工作人员。"))


# --- research topics and visits --------------------------------------------------------------


def topic_create(
    *, viewer: Viewer, title: str, field: str, unit_code: str, problem: str, crux: str, plan: str,
    leader_username: str | None = None,
) -> ResearchTopic:
    """Register a research topic of a unit, led by one of its leaders (the viewer, if a leader there)."""
    _staff(viewer)
    h = hierarchy()
    if not unit_code:
        raise ValidationFailed(_("请选择牵头单位。"), field="unit_code")
    unit = h.unit(unit_code)
    region = h.regions[unit.region_id]
    if not (viewer.is_superuser or unit.id in viewer.unit_ids or selectors.leads(viewer, unit.region_path)):
        raise PermissionDenied(_("您不能为%(unit)s登记调研课题。") % {"unit": unit.name}, field="unit_code")
    if region.level not in TOPIC_LEVELS:
        raise ValidationFailed(_("网格不设调研课题，请选择街镇及以上的单位。"), field="unit_code")
    if field not in Field.values:
        raise ValidationFailed(_("请选择课题领域。"), field="field")
    title = _text(title, "title", _("课题名称"), max_length=200)
    problem = _text(problem, "problem", _("问题是什么"))
    crux = _text(crux, "crux", _("症结在哪"))
    plan = _text(plan, "plan", _("今后怎么办"))
    username = leader_username or (viewer.username if Role.LEADER in viewer.roles_in(unit.id) else "")
    if not username:
        raise ValidationFailed(_("请选择牵头领导。"), field="leader")
    leader = (Staff.objects.filter(unit_id=unit.id, role=Role.LEADER, user__username=username, user__is_active=True)
              .select_related("user").first())
    if leader is None:
        raise ValidationFailed(_("%(name)s 不是%(unit)s的领导。") % {"name": username, "unit": unit.name},
                               field="leader")
    with transaction.atomic():
        return ResearchTopic.objects.create(
            title=title, field=field, unit_id=unit.id, region_id=region.id, region_path=region.path,
            level=region.level, leader=leader.user, leader_name=leader.user.get_full_name() or username,
            problem=problem, crux=crux, plan=plan, created_by_id=viewer.user_id, created_at=clock.now(),
        )


def _editable_topic(viewer: Viewer, topic_id: int) -> ResearchTopic:
    topic = selectors.topic_get(viewer=viewer, topic_id=topic_id)
    if not selectors.may_edit_topic(viewer, topic):
        raise PermissionDenied(_("只有课题牵头单位或牵头领导可以记录调研。"))
    return topic


def visit_log(
    *, viewer: Viewer, topic_id: int, visited_on: dt.date | None, place: str, findings: str, people_met: str = "",
) -> ResearchVisit:
    """Record one research visit of a topic."""
    _staff(viewer)
    topic = _editable_topic(viewer, topic_id)
    if visited_on is None:
        raise ValidationFailed(_("请填写调研日期。"), field="visited_on")
    if visited_on > clock.today():
        raise ValidationFailed(_("调研日期不能晚于今天。"), field="visited_on")
    place = _text(place, "place", _("调研地点"), max_length=200)
    people_met = _text(people_met, "people_met", _("座谈/走访对象"), max_length=500, required=False)
    findings = _text(findings, "findings", _("发现的问题"))
    with transaction.atomic():
        return ResearchVisit.objects.create(
            topic=topic, region_path=topic.region_path, visited_on=visited_on, place=place, people_met=people_met,
            findings=findings, recorded_by_id=viewer.user_id, recorded_at=clock.now(),
        )


# --- batches and problem lists ---------------------------------------------------------------


def batch_create(
    *, viewer: Viewer, title: str, region_code: str, supervisor_unit_code: str, matter_code: str,
    due_on: dt.date | None = None,
) -> Batch:
    """Open a rectification batch over a region; its supervising unit accepts the items (验收)."""
    _staff(viewer)
    h = hierarchy()
    region = h.region(region_code or "")
    if not selectors.leads(viewer, region.path):
        raise PermissionDenied(_("只有%(region)s或上级的领导可以设立整改批次。") % {"region": region.name},
                               field="region_code")
    supervisor = h.unit(supervisor_unit_code or "")
    # The unit that accepts the work sits at the batch's level or above it, never below.
    if not region.path.startswith(supervisor.region_path):
        raise ValidationFailed(_("验收单位须是%(region)s或其上级的单位。") % {"region": region.name},
                               field="supervisor_unit_code")
    matter = Matter.objects.filter(code=matter_code or "", kind=Kind.RECTIFICATION, active=True).first()
    if matter is None:
        raise ValidationFailed(_("请选择一个整改类事项。"), field="matter_code")
    if due_on is not None and due_on < clock.today():
        raise ValidationFailed(_("整改时限不能早于今天。"), field="due_on")
    title = _text(title, "title", _("批次名称"), max_length=200)
    with transaction.atomic():
        return Batch.objects.create(
            title=title, matter=matter, region_id=region.id, region_path=region.path, supervisor_unit_id=supervisor.id,
            due_on=due_on, created_by_id=viewer.user_id, created_at=clock.now(),
        )


def problem_list_create(*, viewer: Viewer, batch_id: int, title: str, region_code: str) -> ProblemList:
    """Add the problem list of one object of rectification (e.g. a village's party branch) to a batch."""
    _staff(viewer)
    batch = selectors.batch_get(viewer=viewer, batch_id=batch_id)
    if not selectors.leads(viewer, batch.region_path):
        raise PermissionDenied(_("只有批次所在区域的领导可以添加问题清单。"))
    if batch.accepted_at is not None:
        raise Conflict(_("该批次已通过验收，不能再添加问题清单。"), field="batch")
    region = hierarchy().region(region_code or "")
    if not region.path.startswith(batch.region_path):
        raise ValidationFailed(_("问题清单的区域须在批次区域之内。"), field="region_code")
    title = _text(title, "title", _("清单名称"), max_length=200)
    with transaction.atomic():
        return ProblemList.objects.create(title=title, batch=batch, region_id=region.id, region_path=region.path,
                                          created_by_id=viewer.user_id, created_at=clock.now())


def _due(value: dt.datetime | dt.date | None) -> dt.datetime:
    """A deadline given as a day runs to the end of that day's office hours (17:30)."""
    if value is None:
        raise ValidationFailed(_("请填写整改时限。"), field="due_at")
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(17, 30))
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def item_create(
    *, viewer: Viewer, problem_list_id: int, problem: str, measures: str, unit_code: str,
    due_at: dt.datetime | dt.date | None, immediate: bool = False, assignee_username: str | None = None,
    responsible_person: str = "", matter_code: str | None = None, visit_id: int | None = None,
    idempotency_key: str | None = None,
) -> RectificationItem:
    """Enter a rectification item in a problem list: a case of kind rectification given to the
    responsible unit, supervised by the batch's accepting unit (or the topic's leading unit)."""
    _staff(viewer)
    with transaction.atomic():
        plist = selectors.problem_list_get(viewer=viewer, list_id=problem_list_id)
        # Lock the list: concurrent entries must not take the same number.
        plist = ProblemList.objects.select_for_update(of=("self",)).select_related("batch__matter", "topic", "region").get(
            pk=plist.pk)
        if not selectors.may_add_items(viewer, plist):
            raise PermissionDenied(_("您不能向该问题清单添加整改事项。"))
        batch = plist.batch
        if batch is not None and batch.accepted_at is not None:
            raise Conflict(_("该批次已通过验收，不能再添加整改事项。"), field="batch")
        visit = None
        if visit_id is not None:
            visit = ResearchVisit.objects.filter(pk=visit_id, topic_id=plist.topic_id).first() if plist.topic_id else None
            if visit is None:
                raise ValidationFailed(_("该调研记录不属于此问题清单的课题。"), field="visit")
        problem = _text(problem, "problem", _("问题"))
        measures = _text(measures, "measures", _("整改措施"))
        responsible_person = _text(responsible_person, "responsible_person", _("责任人"), max_length=50,
                                   required=False)
        due = _due(due_at)
        if immediate and due > clock.now() + dt.timedelta(days=IMMEDIATE_MAX_DAYS):
            raise ValidationFailed(_("立行立改事项的整改时限不能超过 %(n)s 天；需要更久的，请按长期整改登记。")
                                   % {"n": IMMEDIATE_MAX_DAYS}, field="due_at")
        if batch is not None:
            matter, supervisor = batch.matter.code, batch.supervisor_unit.code
        else:
            matter = matter_code or selectors.default_rectification_matter()
            supervisor = plist.topic.unit.code if plist.topic_id else None
        if not matter:
            raise ValidationFailed(_("请选择一个整改类事项。"), field="matter_code")
        number = (plist.items.aggregate(n=Max("number"))["n"] or 0) + 1
        title = problem.splitlines()[0][:60]
        created = case_create(
            viewer=viewer, matter_code=matter, region_code=plist.region.code, title=title,
            description=_("问题：%(p)s\n整改措施：%(m)s") % {"p": problem, "m": measures},
            unit_code=unit_code or None, supervisor_unit_code=supervisor, assignee_username=assignee_username or None,
            due_at=due, channel="system", idempotency_key=idempotency_key,
            extra={"ledger": {"list": plist.title, "number": number, "immediate": immediate,
                              **({"batch": batch.title} if batch else {}), **({"visit": visit.pk} if visit else {})}},
        )
        if created.replayed:
            item = RectificationItem.objects.filter(case=created.case).first()
            if item is not None:
                return item
        if not responsible_person and created.case.assignee_id:
            user = created.case.assignee
            responsible_person = user.get_full_name() or user.get_username()
        return RectificationItem.objects.create(
            case=created.case, problem_list=plist, batch=batch, visit=visit, region_path=created.case.region_path,
            number=number, problem=problem, measures=measures, immediate=immediate,
            responsible_person=responsible_person,
        )


def visit_item_open(*, viewer: Viewer, visit_id: int, **fields) -> RectificationItem:
    """Open a rectification item from a research visit's findings, in its topic's problem list
    (made on first use)."""
    _staff(viewer)
    with transaction.atomic():
        visit = selectors.visit_get(viewer=viewer, visit_id=visit_id)
        topic = visit.topic
        if not selectors.may_edit_topic(viewer, topic):
            raise PermissionDenied(_("只有课题牵头单位或牵头领导可以据调研发现开具整改事项。"))
        plist, _created = ProblemList.objects.get_or_create(topic=topic, defaults={
            "title": _("《%(t)s》调研发现问题清单") % {"t": topic.title[:180]}, "region_id": topic.region_id,
            "region_path": topic.region_path, "created_by_id": viewer.user_id, "created_at": clock.now()})
        return item_create(viewer=viewer, problem_list_id=plist.pk, visit_id=visit.pk, **fields)


# Actions of the rectification workflow a responsible unit takes with evidence attached.
# Progress is a note to the supervising unit (no resident reads a rectification item); acceptance a result.
REPORTING_ACTIONS = {"report_progress": "note", "submit_acceptance": "result"}


def item_report(
    *, viewer: Viewer, item_id: int, action: str, version: int, text: str, uploads: Iterable = (),
) -> Case:
    """Report progress or submit for acceptance, with evidence files (photos, scanned minutes), through
    the case engine; the files' references are recorded on that timeline event."""
    if action not in REPORTING_ACTIONS:
        raise ValidationFailed(_("只能报告整改进展或提交验收。"), field="action")
    item = selectors.item_get(viewer=viewer, item_id=item_id)
    uploads = list(uploads)
    if len(uploads) > MAX_EVIDENCE_FILES:
        raise ValidationFailed(_("一次最多上传 %(n)s 个佐证材料。") % {"n": MAX_EVIDENCE_FILES}, field="evidence")
    checked = [(upload, *sniff_upload(upload, allowed=DOCUMENTS, field="evidence")) for upload in uploads]
    # Files are stored by content hash before the transaction: a refused action leaves at most an
    # unreferenced file that the next identical upload reuses.
    evidence = [attachment_store(upload=upload, content_type=content_type, ext=ext)
                for upload, content_type, ext in checked]
    inputs = {REPORTING_ACTIONS[action]: text}
    return case_act(viewer=viewer, case_id=item.case_id, action=action, version=version,
                    extra={"evidence": evidence} if evidence else None, **inputs)


def batch_accept(*, viewer: Viewer, batch_id: int, note: str) -> Batch:
    """Record that a batch passed acceptance (验收): allowed once every item of it has been accepted."""
    _staff(viewer)
    with transaction.atomic():
        batch = selectors.batch_get(viewer=viewer, batch_id=batch_id)
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if not selectors.may_accept_batch(viewer, batch):
            raise PermissionDenied(_("只有验收单位或上级领导可以验收该批次。"))
        if batch.accepted_at is not None:
            raise Conflict(_("该批次已于 %(d)s 通过验收。") % {
                "d": timezone.localtime(batch.accepted_at).strftime("%Y-%m-%d")}, field="batch")
        note = _text(note, "note", _("验收结论"))
        states = list(RectificationItem.objects.filter(batch=batch).order_by("problem_list_id", "number")
                      .values_list("problem_list__title", "number", "case__state"))
        pending = [f"{title} {number}" for title, number, state in states if state not in ("accepted", "cancelled")]
        if pending:
            raise ValidationFailed(
                _("还有 %(n)s 项整改事项未通过验收：%(items)s。") % {"n": len(pending), "items": "、".join(pending[:10])},
                field="batch")
        if not any(state == "accepted" for _t, _n, state in states):
            raise ValidationFailed(_("该批次还没有通过验收的整改事项。"), field="batch")
        batch.accepted_at = clock.now()
        batch.accepted_by_id = viewer.user_id
        batch.acceptance_note = note
        batch.save(update_fields=["accepted_at", "accepted_by", "acceptance_note"])
        return batch
