"""Party branches over HTTP: members, the grouping proposal and its saving, assistance pairs and their
steps. Thin: parse, call one selector or service, render."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Router, Schema, Status

from yiwang.cases.selectors import allowed_actions
from yiwang.core import idnumber
from yiwang.core.schemas import Input
from yiwang.org.selectors import request_viewer
from yiwang.party import selectors, services
from yiwang.party.models import AssistancePair, PartyGroup, PartyMember

router = Router(tags=["party"])


class MemberOut(Schema):
    id: int
    name: str
    gender: str
    birth_date: dt.date
    age: int
    joined_on: dt.date | None
    occupation: str
    experience: list[str]
    phone: str
    active: bool
    group: str | None = Field(None, description="name of the member's party group")


class MemberIn(Input):
    name: str = Field(..., max_length=50)
    gender: str = Field(..., description="male or female")
    birth_date: dt.date
    joined_on: dt.date | None = None
    occupation: str = Field("", max_length=100)
    experience: list[str] = Field(default_factory=list, description="从业经历 tags, e.g. 养殖, 种植, 务工")
    phone: str = Field("", max_length=20)


class MemberPatch(Input):
    name: str | None = Field(None, max_length=50)
    gender: str | None = None
    birth_date: dt.date | None = None
    joined_on: dt.date | None = None
    occupation: str | None = Field(None, max_length=100)
    experience: list[str] | None = None
    phone: str | None = Field(None, max_length=20)


class GroupOut(Schema):
    id: int | None = None
    name: str
    kind: str
    leader: int | None
    members: list[int]


class GroupIn(Input):
    name: str = Field(..., max_length=50)
    kind: str = "custom"
    leader: int | None = None
    members: list[int]


class GroupsIn(Input):
    groups: list[GroupIn] = Field(..., max_length=services.MAX_GROUPS)


class PairSummaryOut(Schema):
    id: int
    member: str
    resident: str
    case_number: str
    state: str
    state_label: str


class BranchOut(Schema):
    code: str
    name: str
    region: str
    may_manage: bool
    members: list[MemberOut]
    groups: list[GroupOut]
    pairs: list[PairSummaryOut]


class BranchSummaryOut(Schema):
    code: str
    name: str
    region: str
    may_manage: bool


class PairIn(Input):
    member_id: int
    resident_id: int
    needs: str = Field(..., max_length=services.MAX_TEXT)


class MeasureOut(Schema):
    kind: str
    description: str
    application: str | None = Field(None, description="number of the application case it opened")
    taken_at: dt.datetime


class IncomeOut(Schema):
    year: int
    month: int
    amount: Decimal
    source: str
    note: str


class PairOut(Schema):
    id: int
    branch: str
    member: MemberOut
    resident: str
    needs: str
    case_number: str
    state: str
    state_label: str
    version: int
    actions: list[str] = Field(..., description="case actions the caller may take now")
    measures: list[MeasureOut]
    incomes: list[IncomeOut]
    income_12_months: Decimal


class PairVisitIn(Input):
    version: int
    comment: str = Field(..., max_length=services.MAX_TEXT)
    visited_on: dt.date | None = None


class MeasureIn(Input):
    version: int
    kind: str = Field(..., description="land_transfer, subsistence, job_info, industry, medical, education, other")
    description: str = Field(..., max_length=services.MAX_TEXT)
    household_size: int | None = Field(None, description="申办低保: people in the household")
    monthly_income: Decimal | None = Field(None, description="申办低保: the household's monthly income (元)")
    materials: list[str] = Field(default_factory=list, description="申办低保: codes of materials checked at the hall")


class IncomeIn(Input):
    version: int
    year: int
    month: int
    amount: Decimal
    source: str
    note: str = Field("", max_length=200)


class CommentIn(Input):
    version: int
    comment: str = Field(..., max_length=services.MAX_TEXT)


class ResultIn(Input):
    version: int
    result: str = Field(..., max_length=services.MAX_TEXT)



def _member(m: PartyMember) -> MemberOut:
    membership = getattr(m, "group_membership", None)
    return MemberOut(id=m.id, name=m.name, gender=m.gender, birth_date=m.birth_date, age=selectors.age(m.birth_date),
                     joined_on=m.joined_on, occupation=idnumber.mask_text(m.occupation, phones=False),
                     experience=[idnumber.mask_text(t, phones=False) for t in m.experience or []], phone=m.phone, active=m.active,
                     group=idnumber.mask_text(membership.group.name, phones=False) if membership else None)


def _group(g: PartyGroup) -> GroupOut:
    return GroupOut(id=g.id, name=idnumber.mask_text(g.name, phones=False), kind=g.kind, leader=g.leader_id,
                    members=[ms.member_id for ms in g.memberships.all()])


def _pair(request, pair_id: int) -> PairOut:
    viewer = request_viewer(request)
    pair: AssistancePair = selectors.pair_get(viewer=viewer, pair_id=pair_id)
    case = pair.case
    return PairOut(
        id=pair.id, branch=pair.branch.code, member=_member(pair.member), resident=pair.resident.name,
        needs=idnumber.mask_text(pair.needs, phones=False), case_number=case.number, state=case.state,
        state_label=selectors.state_label(case),
        version=case.version, actions=[a.name for a in allowed_actions(viewer, case)],
        measures=[MeasureOut(kind=m.kind, description=idnumber.mask_text(m.description, phones=False), taken_at=m.taken_at,
                             application=m.application.number if m.application else None)
                  for m in selectors.measure_list(pair=pair)],
        incomes=[IncomeOut(year=r.year, month=r.month, amount=r.amount, source=r.source, note=idnumber.mask_text(r.note, phones=False))
                 for r in selectors.income_list(pair=pair)],
        income_12_months=selectors.income_last_twelve_months(pair=pair),
    )


@router.get("/party/branches", response=list[BranchSummaryOut], summary="Party branches the caller may see")
def branches(request):
    viewer = request_viewer(request)
    return [BranchSummaryOut(code=b.code, name=b.name, region=b.region.code, may_manage=selectors.may_manage(viewer, b))
            for b in selectors.branch_list(viewer=viewer)]


@router.get("/party/branches/{code}", response=BranchOut, summary="A branch: members, groups and pairs")
def branch(request, code: str):
    viewer = request_viewer(request)
    unit = selectors.branch_get(viewer=viewer, code=code)
    return BranchOut(
        code=unit.code, name=unit.name, region=unit.region.code, may_manage=selectors.may_manage(viewer, unit),
        members=[_member(m) for m in selectors.member_list(viewer=viewer, branch=unit)],
        groups=[_group(g) for g in selectors.group_list(viewer=viewer, branch=unit)],
        pairs=[PairSummaryOut(id=p.id, member=p.member.name, resident=p.resident.name, case_number=p.case.number,
                              state=p.case.state, state_label=selectors.state_label(p.case))
               for p in selectors.pair_list(viewer=viewer, branch=unit)],
    )


@router.post("/party/branches/{code}/members", response={201: MemberOut}, summary="Enter a member in the register")
def member_create(request, code: str, payload: MemberIn):
    viewer = request_viewer(request)
    unit = selectors.branch_get(viewer=viewer, code=code)
    return Status(201, _member(services.member_create(viewer=viewer, branch=unit, **payload.model_dump())))


@router.patch("/party/members/{member_id}", response=MemberOut, summary="Change a member's record")
def member_update(request, member_id: int, payload: MemberPatch):
    viewer = request_viewer(request)
    member = selectors.member_get(viewer=viewer, member_id=member_id)
    return _member(services.member_update(viewer=viewer, member=member, **payload.model_dump(exclude_unset=True)))


@router.post("/party/members/{member_id}/deactivate", response=MemberOut, summary="Take a member off the register")
def member_deactivate(request, member_id: int):
    viewer = request_viewer(request)
    member = selectors.member_get(viewer=viewer, member_id=member_id)
    return _member(services.member_deactivate(viewer=viewer, member=member))


@router.get("/party/branches/{code}/grouping", response=list[GroupOut],
            summary="A proposal splitting the active members into N groups by age and experience")
def grouping(request, code: str, groups: int = 4):
    viewer = request_viewer(request)
    unit = selectors.branch_get(viewer=viewer, code=code)
    proposal = selectors.grouping_proposal(viewer=viewer, branch=unit, n=groups)
    return [GroupOut(**{**g, "name": idnumber.mask_text(g["name"], phones=False)}) for g in services.proposal_as_groups(proposal)]


@router.put("/party/branches/{code}/groups", response=list[GroupOut],
            summary="Replace the branch's groups (every active member in exactly one)")
def groups_save(request, code: str, payload: GroupsIn):
    viewer = request_viewer(request)
    unit = selectors.branch_get(viewer=viewer, code=code)
    services.grouping_save(viewer=viewer, branch=unit, groups=[g.model_dump() for g in payload.groups])
    return [_group(g) for g in selectors.group_list(viewer=viewer, branch=unit)]


@router.post("/party/branches/{code}/pairs", response={201: PairOut},
             summary="Pair a member with a poor household (opens its assistance case)")
def pair_create(request, code: str, payload: PairIn):
    viewer = request_viewer(request)
    unit = selectors.branch_get(viewer=viewer, code=code)
    pair = services.pair_create(viewer=viewer, branch=unit, **payload.model_dump())
    return Status(201, _pair(request, pair.id))


@router.get("/party/pairs/{pair_id}", response=PairOut, summary="An assistance pair with its measures and income")
def pair(request, pair_id: int):
    return _pair(request, pair_id)


@router.post("/party/pairs/{pair_id}/visits", response={201: PairOut}, summary="Log a visit (走访)")
def pair_visit(request, pair_id: int, payload: PairVisitIn):
    services.pair_visit(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return Status(201, _pair(request, pair_id))


@router.post("/party/pairs/{pair_id}/measures", response={201: PairOut},
             summary="Record a measure; subsistence (申办低保) opens an application for the household")
def pair_measure(request, pair_id: int, payload: MeasureIn):
    services.pair_measure_add(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return Status(201, _pair(request, pair_id))


@router.post("/party/pairs/{pair_id}/incomes", response={201: PairOut}, summary="Record a month's income")
def pair_income(request, pair_id: int, payload: IncomeIn):
    services.pair_income_record(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return Status(201, _pair(request, pair_id))


@router.post("/party/pairs/{pair_id}/exit", response=PairOut, summary="Declare the household out of poverty (脱贫)")
def pair_exit(request, pair_id: int, payload: CommentIn):
    services.pair_declare_exit(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return _pair(request, pair_id)


@router.post("/party/pairs/{pair_id}/relapse", response=PairOut, summary="Back into poverty (返贫): resume assistance")
def pair_relapse(request, pair_id: int, payload: CommentIn):
    services.pair_relapse(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return _pair(request, pair_id)


@router.post("/party/pairs/{pair_id}/end-monitoring", response=PairOut, summary="End monitoring and the pair")
def pair_end(request, pair_id: int, payload: ResultIn):
    services.pair_end_monitoring(viewer=request_viewer(request), pair_id=pair_id, **payload.model_dump())
    return _pair(request, pair_id)
