"""The party secretary's pages: branches, a branch (members, groups, pairs), the grouping proposal and
an assistance pair. Thin: selectors read, services write; a refused form comes back with its errors."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from yiwang.cases.selectors import allowed_actions, case_timeline
from yiwang.cases.workflows import action_label
from yiwang.core import clock, pages
from yiwang.core.errors import DomainError, NotFound, ValidationFailed
from yiwang.core.idempotency import idempotent_page
from yiwang.org.decorators import staff_required
from yiwang.org.selectors import request_viewer
from yiwang.party import selectors, services
from yiwang.party.forms import (
    STEP_FORMS,
    BranchForm,
    GroupCountForm,
    GroupsForm,
    MemberForm,
    PairForm,
)
from yiwang.party.models import Gender, GroupKind, IncomeSource, MeasureKind

# The pair page's forms: the step (URL part) → the case action whose availability shows the form.
STEPS = {"visit": "log_visit", "measure": "add_measure", "income": "record_income", "exit": "declare_exit",
         "relapse": "relapse", "end": "end_monitoring"}


def _branch(request, code: str):
    viewer = request_viewer(request)
    return viewer, pages.found(selectors.branch_get, viewer=viewer, code=code)


@staff_required
@require_safe
def index(request):
    viewer = request_viewer(request)
    rows = [(b, selectors.may_manage(viewer, b)) for b in selectors.branch_list(viewer=viewer)]
    if len(rows) == 1 and rows[0][1]:  # a secretary has one branch: straight to it
        return HttpResponseRedirect(reverse("party:branch", args=[rows[0][0].code]))
    return render(request, "party/index.html", {"rows": rows})


@staff_required
@require_http_methods(["GET", "POST"])
@idempotent_page
def branch(request, code: str):
    viewer, unit = _branch(request, code)
    errors: dict = {}
    form = pages.cleaned(BranchForm(request.POST))["form"]
    if request.method == "POST":
        try:
            if form == "member":
                data = pages.cleaned(MemberForm(request.POST))
                member = services.member_create(
                    viewer=viewer, branch=unit, name=data["name"], gender=data["gender"],
                    birth_date=data["birth_date"], joined_on=data["joined_on"], occupation=data["occupation"],
                    experience=data["experience"], phone=data["phone"])
                messages.success(request, _("已登记党员 %(name)s。") % {"name": member.name})
            elif form == "pair":
                data = pages.cleaned(PairForm(request.POST))
                pair = services.pair_create(viewer=viewer, branch=unit, member_id=data["member"],
                                            resident_id=data["resident"], needs=data["needs"])
                messages.success(request, _("已结对，帮扶案件 %(n)s。") % {"n": pair.case.number})
                return HttpResponseRedirect(reverse("party:pair", args=[pair.id]))
            else:
                raise ValidationFailed(_("未知的表单。"), field="form")
        except DomainError as exc:
            errors = pages.refused(request, exc)
        else:
            return HttpResponseRedirect(reverse("party:branch", args=[unit.code]))
    manage = selectors.may_manage(viewer, unit)
    members = list(selectors.member_list(viewer=viewer, branch=unit))
    pairs = [(p, selectors.state_label(p.case)) for p in selectors.pair_list(viewer=viewer, branch=unit)]
    return render(request, "party/branch.html", {
        "branch": unit, "may_manage": manage, "members": [(m, selectors.age(m.birth_date)) for m in members],
        "groups": selectors.group_list(viewer=viewer, branch=unit), "pairs": pairs,
        "poor": selectors.poor_residents(viewer=viewer, branch=unit) if manage else [],
        "genders": Gender.choices, "errors": errors, "form": form,
        "default_groups": min(4, len(members)) or 1,
        # Fresh on every render: a refused form is answered 200 and so kept, and must not hold the key.
        "idempotency_key": uuid.uuid4().hex,
    })


@staff_required
@require_http_methods(["GET", "POST"])
def grouping(request, code: str):
    """The grouping proposal: N groups proposed, edited here (names, kinds, leaders, who is where), saved."""
    viewer, unit = _branch(request, code)
    members = list(selectors.member_list(viewer=viewer, branch=unit))
    errors: dict = {}
    source = request.POST if request.method == "POST" else request.GET
    try:
        n = pages.cleaned(GroupCountForm(source))["groups"]
        if n is None:  # not asked: four groups, fewer when there are fewer members
            n = min(4, len(members)) or 1
        proposal = selectors.grouping_proposal(viewer=viewer, branch=unit, n=n)
    except DomainError as exc:
        errors = pages.refused(request, exc)
        n, proposal = 0, []
    if request.method == "POST" and proposal:
        groups = []
        try:
            groups = GroupsForm(request.POST, n=n, member_ids=[m.id for m in members]).groups()
            services.grouping_save(viewer=viewer, branch=unit, groups=groups)
        except DomainError as exc:
            errors = pages.refused(request, exc)
            proposal = _as_proposal(groups, members) if groups else proposal
        else:
            messages.success(request, _("已保存 %(n)s 个党小组。") % {"n": n})
            return HttpResponseRedirect(reverse("party:branch", args=[unit.code]))
    for g in proposal:
        for m in g.members:
            m.age_years = selectors.age(m.birth_date)
    rows = [(i, g, [e for key in ("name", "kind", "leader", "members") for e in errors.get(f"groups.{i}.{key}", [])])
            for i, g in enumerate(proposal)]
    return render(request, "party/grouping.html", {
        "branch": unit, "may_manage": selectors.may_manage(viewer, unit), "n": n, "rows": rows,
        "kinds": GroupKind.choices, "errors": errors, "members": members, "max_groups": len(members),
    })


def _as_proposal(groups: list[dict], members) -> list[selectors.ProposedGroup]:
    by_id = {m.id: m for m in members}
    return [selectors.ProposedGroup(g["name"], g["kind"], [by_id[i] for i in g["members"] if i in by_id], g["leader"])
            for g in groups]


@staff_required
def pair(request, pair_id: int, errors: dict | None = None, step: str = ""):
    viewer = request_viewer(request)
    row = pages.found(selectors.pair_get, viewer=viewer, pair_id=pair_id)
    case = row.case
    actions = {a.name for a in allowed_actions(viewer, case)}
    timeline = [(e, action_label(e.action)) for e in case_timeline(case)]
    visits = [e for e, _label in timeline if e.action == "log_visit"]
    return render(request, "party/pair.html", {
        "pair": row, "case": case, "state_label": selectors.state_label(case), "timeline": timeline,
        "steps": {step_name: action in actions for step_name, action in STEPS.items()},
        "measures": selectors.measure_list(pair=row), "incomes": selectors.income_list(pair=row),
        "income_chart": selectors.income_chart(pair=row), "visits": visits,
        "income_12_months": selectors.income_last_twelve_months(pair=row),
        "measure_kinds": MeasureKind.choices, "sources": IncomeSource.choices, "errors": errors or {}, "step": step,
        "today": clock.today(), "age": selectors.age(row.member.birth_date),
        "materials": selectors.application_materials(matter_code=services.SUBSISTENCE_MATTER),
        "months": range(1, 13),
    }, status=422 if errors else 200)


@staff_required
@require_POST
def pair_step(request, pair_id: int, step: str):
    """One step on a pair (visit, measure, income, exit, relapse, end); back to the pair page."""
    if step not in STEPS:
        raise Http404(step)
    viewer = request_viewer(request)
    try:
        data = pages.cleaned(STEP_FORMS[step](request.POST, request.FILES))
        common = {"viewer": viewer, "pair_id": pair_id, "version": data["version"]}
        if step == "visit":
            services.pair_visit(**common, comment=data["comment"], visited_on=data["visited_on"], photo=data["photo"])
            done = _("已记录走访。")
        elif step == "measure":
            measure = services.pair_measure_add(
                **common, kind=data["kind"], description=data["description"], household_size=data["household_size"],
                monthly_income=data["monthly_income"], materials=data["materials"])
            done = (_("已落实措施，并代为提交低保申请 %(n)s。") % {"n": measure.application.number}
                    if measure.application else _("已落实措施。"))
        elif step == "income":
            services.pair_income_record(**common, year=data["year"], month=data["month"], amount=data["amount"],
                                        source=data["source"], note=data["note"])
            done = _("已记录收入。")
        elif step == "exit":
            services.pair_declare_exit(**common, comment=data["comment"])
            done = _("已宣布脱贫，进入脱贫监测。")
        elif step == "relapse":
            services.pair_relapse(**common, comment=data["comment"])
            done = _("已恢复帮扶。")
        else:
            services.pair_end_monitoring(**common, result=data["result"])
            done = _("帮扶已结束。")
    except NotFound:
        raise  # the site's 404 page (core.middleware), not the pair page
    except DomainError as exc:
        return pair(request, pair_id, errors=pages.refused(request, exc), step=step)
    messages.success(request, done)
    return HttpResponseRedirect(reverse("party:pair", args=[pair_id]) + f"#{step}")
