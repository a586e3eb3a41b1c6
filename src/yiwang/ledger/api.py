"""Ledger API: research topics and visits, their counts, batches, problem lists, rectification items
and the ledger's exports. Thin over selectors and services; the items' workflow actions are the
cases API's (POST /cases/{number}/actions/...)."""

from __future__ import annotations

import datetime as dt

from ninja import Field as SchemaField
from ninja import Router, Schema, Status

from yiwang.core import idnumber
from yiwang.core.schemas import Input
from yiwang.ledger import exports, selectors, services
from yiwang.ledger.models import Batch, ProblemList, RectificationItem, ResearchTopic, ResearchVisit
from yiwang.org.selectors import request_viewer

router = Router(tags=["ledger"])


class TopicIn(Input):
    title: str = SchemaField(..., max_length=200)
    field: str = SchemaField(..., description="urban, economy, industry, reform, party or livelihood")
    unit_code: str = SchemaField(..., max_length=40, description="the leading unit")
    leader: str | None = SchemaField(None, max_length=150, description="username of a leader of the unit; default: you")
    problem: str = SchemaField(..., description="问题是什么")
    crux: str = SchemaField(..., description="症结在哪")
    plan: str = SchemaField(..., description="今后怎么办")


class TopicOut(Schema):
    id: int
    title: str
    field: str
    level: str
    unit: str
    region: str
    leader: str
    problem: str
    crux: str
    plan: str
    created_at: dt.datetime
    visits: int = 0


class VisitIn(Input):
    visited_on: dt.date
    place: str = SchemaField(..., max_length=200)
    people_met: str = SchemaField("", max_length=500)
    findings: str


class VisitOut(Schema):
    id: int
    topic_id: int
    visited_on: dt.date
    place: str
    people_met: str
    findings: str


class CountOut(Schema):
    key: str
    label: str
    topics: int
    visits: int


class CountsOut(Schema):
    topics: int
    visits: int
    by_level: list[CountOut]
    by_leader: list[CountOut]
    by_field: list[CountOut]


class BatchIn(Input):
    title: str = SchemaField(..., max_length=200)
    region_code: str = SchemaField(..., max_length=32)
    supervisor_unit_code: str = SchemaField(..., max_length=40, description="the unit that accepts the items")
    matter_code: str = SchemaField(..., max_length=40, description="a matter of kind rectification")
    due_on: dt.date | None = None


class ProgressOut(Schema):
    total: int
    accepted: int
    by_state: dict[str, int]
    overdue: int
    percent: int
    stage: str


class BatchOut(Schema):
    id: int
    title: str
    region: str
    supervisor_unit: str
    matter: str
    due_on: dt.date | None
    accepted_at: dt.datetime | None
    acceptance_note: str
    progress: ProgressOut


class AcceptIn(Input):
    note: str = SchemaField(..., max_length=5000)


class ListIn(Input):
    title: str = SchemaField(..., max_length=200)
    region_code: str = SchemaField(..., max_length=32)


class ListOut(Schema):
    id: int
    title: str
    region: str
    batch_id: int | None
    topic_id: int | None


class ItemIn(Input):
    problem: str
    measures: str
    unit_code: str = SchemaField(..., max_length=40, description="the responsible unit")
    due_on: dt.date = SchemaField(..., description="整改时限 (the day; the deadline is 17:30 that day)")
    immediate: bool = SchemaField(False, description="立行立改 (true) or long-term (false)")
    assignee: str | None = SchemaField(None, max_length=150, description="username of the responsible person")
    responsible_person: str = SchemaField("", max_length=50)
    matter_code: str | None = SchemaField(None, max_length=40, description="lists outside a batch only")
    idempotency_key: str | None = SchemaField(None, max_length=64)


class ItemOut(Schema):
    id: int
    number: int
    case_number: str
    problem_list_id: int
    batch_id: int | None
    visit_id: int | None
    problem: str
    measures: str
    immediate: bool
    responsible_unit: str
    responsible_person: str
    state: str
    version: int
    due_at: dt.datetime | None
    overdue: bool
    accepted_on: dt.date | None



def _topic(t: ResearchTopic, visits: int = 0) -> TopicOut:
    return TopicOut(id=t.pk, title=idnumber.mask_text(t.title, phones=False), field=t.field, level=t.level, unit=t.unit.code,
                    region=t.region_path, leader=t.leader_name, problem=idnumber.mask_text(t.problem, phones=False),
                    crux=idnumber.mask_text(t.crux, phones=False), plan=idnumber.mask_text(t.plan, phones=False), created_at=t.created_at, visits=visits)


def _visit(v: ResearchVisit) -> VisitOut:
    return VisitOut(id=v.pk, topic_id=v.topic_id, visited_on=v.visited_on, place=idnumber.mask_text(v.place, phones=False),
                    people_met=idnumber.mask_text(v.people_met, phones=False), findings=idnumber.mask_text(v.findings, phones=False))


def _progress(p: selectors.Progress) -> ProgressOut:
    return ProgressOut(total=p.total, accepted=p.accepted, by_state=dict(p.by_state), overdue=p.overdue,
                       percent=p.percent, stage=p.stage)


def _batch(b: Batch, p: selectors.Progress) -> BatchOut:
    return BatchOut(id=b.pk, title=idnumber.mask_text(b.title, phones=False), region=b.region.code,
                    supervisor_unit=b.supervisor_unit.code, matter=b.matter.code, due_on=b.due_on,
                    accepted_at=b.accepted_at, acceptance_note=idnumber.mask_text(b.acceptance_note, phones=False),
                    progress=_progress(p))


def _list(plist: ProblemList) -> ListOut:
    return ListOut(id=plist.pk, title=idnumber.mask_text(plist.title, phones=False), region=plist.region.code, batch_id=plist.batch_id,
                   topic_id=plist.topic_id)


def _items(items: list[RectificationItem]) -> list[ItemOut]:
    return [ItemOut(
        id=r.item.pk, number=r.item.number, case_number=r.case.number, problem_list_id=r.item.problem_list_id,
        batch_id=r.item.batch_id, visit_id=r.item.visit_id, problem=idnumber.mask_text(r.item.problem, phones=False),
        measures=idnumber.mask_text(r.item.measures, phones=False), immediate=r.item.immediate,
        responsible_unit=r.case.holder_unit.code, responsible_person=idnumber.mask_text(r.item.responsible_person, phones=False),
        state=r.case.state, version=r.case.version,
        due_at=r.case.due_at, overdue=r.overdue, accepted_on=r.accepted_on,
    ) for r in selectors.ledger_rows(items)]


def _item_fields(payload: ItemIn) -> dict:
    return {"problem": payload.problem, "measures": payload.measures, "unit_code": payload.unit_code,
            "due_at": payload.due_on, "immediate": payload.immediate, "assignee_username": payload.assignee,
            "responsible_person": payload.responsible_person, "matter_code": payload.matter_code,
            "idempotency_key": payload.idempotency_key}


# --- topics and visits -----------------------------------------------------------------------


@router.get("/ledger/topics", response=list[TopicOut], summary="Research topics (调研课题) you may see")
def topics(request, field: str = "", level: str = "", region: str = "", cursor: str | None = None,
           limit: int = 50):
    filters = selectors.TopicFilters(field=field, level=level, region_code=region)
    page = selectors.topic_list(viewer=request_viewer(request), filters=filters, cursor=cursor, limit=limit)
    return [_topic(t, t.visit_count) for t in page.items]


@router.post("/ledger/topics", response={201: TopicOut}, summary="Register a research topic")
def topic_create(request, payload: TopicIn):
    topic = services.topic_create(viewer=request_viewer(request), title=payload.title, field=payload.field,
                                  unit_code=payload.unit_code, problem=payload.problem, crux=payload.crux,
                                  plan=payload.plan, leader_username=payload.leader)
    return Status(201, _topic(topic))


@router.get("/ledger/topics/counts", response=CountsOut, summary="Topics and visits by level, leader and field")
def counts(request, field: str = "", level: str = "", region: str = ""):
    figures = selectors.topic_counts(viewer=request_viewer(request),
                                     filters=selectors.TopicFilters(field=field, level=level, region_code=region))
    rows = lambda rs: [CountOut(key=r.key, label=r.label, topics=r.topics, visits=r.visits) for r in rs]  # noqa: E731
    return CountsOut(topics=figures.topics, visits=figures.visits, by_level=rows(figures.by_level),
                     by_leader=rows(figures.by_leader), by_field=rows(figures.by_field))


@router.get("/ledger/topics/{topic_id}", response=TopicOut, summary="One research topic")
def topic(request, topic_id: int):
    t = selectors.topic_get(viewer=request_viewer(request), topic_id=topic_id)
    return _topic(t, t.visits.count())


@router.get("/ledger/topics/{topic_id}/visits", response=list[VisitOut], summary="A topic's research visits")
def visits(request, topic_id: int):
    t = selectors.topic_get(viewer=request_viewer(request), topic_id=topic_id)
    return [_visit(v) for v in selectors.visits_of(t)]


@router.post("/ledger/topics/{topic_id}/visits", response={201: VisitOut}, summary="Record a research visit")
def visit_create(request, topic_id: int, payload: VisitIn):
    visit = services.visit_log(viewer=request_viewer(request), topic_id=topic_id, visited_on=payload.visited_on,
                               place=payload.place, people_met=payload.people_met, findings=payload.findings)
    return Status(201, _visit(visit))


@router.post("/ledger/visits/{visit_id}/items", response={201: ItemOut},
             summary="Open a rectification item from a visit's findings")
def visit_item(request, visit_id: int, payload: ItemIn):
    item = services.visit_item_open(viewer=request_viewer(request), visit_id=visit_id, **_item_fields(payload))
    return Status(201, _items([item])[0])


# --- batches, lists, items -------------------------------------------------------------------


@router.get("/ledger/batches", response=list[BatchOut], summary="Rectification batches with their progress")
def batches(request):
    return [_batch(b, p) for b, p in selectors.batch_list(viewer=request_viewer(request))]


@router.post("/ledger/batches", response={201: BatchOut}, summary="Open a rectification batch")
def batch_create(request, payload: BatchIn):
    batch = services.batch_create(viewer=request_viewer(request), title=payload.title, region_code=payload.region_code,
                                  supervisor_unit_code=payload.supervisor_unit_code, matter_code=payload.matter_code,
                                  due_on=payload.due_on)
    return Status(201, _batch(batch, selectors.Progress()))


@router.get("/ledger/batches/{batch_id}", response=BatchOut, summary="One batch and its progress")
def batch(request, batch_id: int):
    viewer = request_viewer(request)
    b = selectors.batch_get(viewer=viewer, batch_id=batch_id)
    return _batch(b, selectors.progress_of(selectors.items_of(viewer, batch=b), accepted_at=b.accepted_at))


@router.post("/ledger/batches/{batch_id}/accept", response=BatchOut,
             summary="Record the batch's acceptance (验收) once every item has passed")
def batch_accept(request, batch_id: int, payload: AcceptIn):
    viewer = request_viewer(request)
    services.batch_accept(viewer=viewer, batch_id=batch_id, note=payload.note)
    return batch(request, batch_id)


@router.get("/ledger/batches/{batch_id}/lists", response=list[ListOut], summary="A batch's problem lists")
def lists(request, batch_id: int):
    viewer = request_viewer(request)
    return [_list(plist) for plist in selectors.lists_of(viewer, selectors.batch_get(viewer=viewer, batch_id=batch_id))]


@router.post("/ledger/batches/{batch_id}/lists", response={201: ListOut}, summary="Add a problem list to a batch")
def list_create(request, batch_id: int, payload: ListIn):
    plist = services.problem_list_create(viewer=request_viewer(request), batch_id=batch_id, title=payload.title,
                                         region_code=payload.region_code)
    return Status(201, _list(plist))


@router.get("/ledger/items", response=list[ItemOut], summary="Rectification items of a batch or a problem list")
def items(request, batch: int | None = None, problem_list: int | None = None, state: str = ""):
    viewer = request_viewer(request)
    b = selectors.batch_get(viewer=viewer, batch_id=batch) if batch is not None else None
    plist = selectors.problem_list_get(viewer=viewer, list_id=problem_list) if problem_list is not None else None
    return _items(selectors.items_of(viewer, batch=b, problem_list=plist, state=state))


@router.post("/ledger/lists/{list_id}/items", response={201: ItemOut}, summary="Enter a rectification item")
def item_create(request, list_id: int, payload: ItemIn):
    item = services.item_create(viewer=request_viewer(request), problem_list_id=list_id, **_item_fields(payload))
    return Status(201, _items([item])[0])


@router.get("/ledger/items/{item_id}", response=ItemOut, summary="One rectification item")
def item(request, item_id: int):
    return _items([selectors.item_get(viewer=request_viewer(request), item_id=item_id)])[0]


# --- exports ---------------------------------------------------------------------------------


@router.get("/ledger/batches/{batch_id}/ledger.xlsx", summary="The batch's ledger as Excel")
def batch_xlsx(request, batch_id: int):
    viewer = request_viewer(request)
    return exports.download(exports.batch_document(viewer, selectors.batch_get(viewer=viewer, batch_id=batch_id)), "xlsx",
                 f"batch{batch_id}")


@router.get("/ledger/batches/{batch_id}/ledger.pdf", summary="The batch's ledger as PDF (台账 print layout)")
def batch_pdf(request, batch_id: int):
    viewer = request_viewer(request)
    return exports.download(exports.batch_document(viewer, selectors.batch_get(viewer=viewer, batch_id=batch_id)), "pdf",
                 f"batch{batch_id}")
