from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from yiwang.cases.selectors import case_get
from yiwang.cases.workflows import workflow
from yiwang.core.errors import NotFound
from yiwang.core.idnumber import mask_text
from yiwang.core.schemas import Input
from yiwang.feedback import selectors, services
from yiwang.feedback.models import Rating
from yiwang.org.selectors import request_viewer

router = Router(tags=["evaluations"])


class EvaluationIn(Input):
    rating: int = Field(..., ge=1, le=5, description="5 非常满意 · 4 满意 · 3 基本满意 · 2 不满意 · 1 非常不满意")
    channel: str = Field("online", max_length=10)
    comment: str = Field("", max_length=1000)
    tags: list[str] = Field(default_factory=list, max_length=10)


class FollowUpOut(Schema):
    number: str
    state: str
    state_label: str
    due_at: dt.datetime | None
    result: str


class EvaluationOut(Schema):
    case: str
    rating: int
    rating_label: str
    channel: str
    tags: list[str]
    comment: str
    created_at: dt.datetime
    follow_up: FollowUpOut | None


def _out(evaluation, number: str) -> dict:
    f = evaluation.follow_up_case
    return {
        "case": number, "rating": evaluation.rating, "rating_label": str(Rating(evaluation.rating).label),
        "channel": evaluation.channel, "tags": evaluation.tags,
        "comment": mask_text(evaluation.comment, phones=False),
        "created_at": evaluation.created_at,
        "follow_up": None if f is None else {
            "number": f.number, "state": f.state, "state_label": str(workflow(f.kind).states[f.state]),
            "due_at": f.due_at, "result": mask_text(f.result, phones=False),
        },
    }


@router.post("/cases/{number}/evaluation", response={201: EvaluationOut}, summary="Rate a finished case (好差评), once")
def rate(request, number: str, payload: EvaluationIn):
    viewer = request_viewer(request)
    case = case_get(viewer=viewer, number=number)
    evaluation = services.evaluation_create(viewer=viewer, case_id=case.pk, rating=payload.rating,
                                            channel=payload.channel, comment=payload.comment, tags=payload.tags)
    return Status(201, _out(evaluation, case.number))


@router.get("/cases/{number}/evaluation", response=EvaluationOut, summary="A case's rating and its follow-up outcome")
def get_rating(request, number: str):
    case = case_get(viewer=request_viewer(request), number=number)
    evaluation = selectors.evaluation_for_case(case.pk)
    if evaluation is None:
        raise NotFound(_("该案件尚未评价。"), field="number")
    return _out(evaluation, case.number)
