"""Reads of party branches, members, groups and assistance pairs, each scoped by org.selectors.scope_q.

Who may change a branch's records is decided here too (``may_manage``): the branch's own secretary,
or a leader whose region contains the branch. Everyone else in scope may read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import workflow
from yiwang.core import clock
from yiwang.core.errors import NotFound
from yiwang.org.models import Resident, Role, Unit, UnitKind
from yiwang.org.selectors import Viewer, scope_q
from yiwang.party import grouping
from yiwang.party.models import (
    AssistancePair,
    GroupKind,
    GroupMembership,
    IncomeRecord,
    Measure,
    PartyGroup,
    PartyMember,
)

# The proposal names its groups after the report's characteristic groups first, then by number.
DEFAULT_KINDS = (GroupKind.WEALTH, GroupKind.SERVICE, GroupKind.YOUTH)
CHINESE_NUMERALS = "一二三四五六七八九十"


def _scoped(viewer: Viewer) -> Q:
    return scope_q(viewer, holder_field=None, resident_field=None)


def _visible(viewer: Viewer, branch_field: str) -> Q:
    """In the viewer's regions, or of a branch they belong to wherever it lies."""
    if viewer.is_superuser:
        # A superuser's scope is the empty Q: OR-ing it with anything would narrow it to that thing.
        return _scoped(viewer)
    return _scoped(viewer) | Q(**{f"{branch_field}__in": sorted(viewer.unit_ids)})


def may_manage(viewer: Viewer, branch: Unit) -> bool:
    """The branch's secretary, a leader over its region, or a superuser may change its records."""
    if viewer.is_superuser:
        return True
    return any(
        (m.unit_id == branch.id and m.role == Role.SECRETARY)
        or (m.role == Role.LEADER and branch.region_path.startswith(m.region_path))
        for m in viewer.memberships
    )


def branch_list(*, viewer: Viewer) -> list[Unit]:
    """Branches the viewer may see, the ones they manage first."""
    rows = list(Unit.objects.filter(_visible(viewer, "pk"), kind=UnitKind.PARTY_BRANCH,
                                    active=True).select_related("region").order_by("region_path"))
    return sorted(rows, key=lambda u: not may_manage(viewer, u))


def branch_get(*, viewer: Viewer, code: str) -> Unit:
    rows = list(Unit.objects.filter(_visible(viewer, "pk"), code=code,
                                    kind=UnitKind.PARTY_BRANCH).select_related("region")[:1])
    if not rows:
        raise NotFound(_("没有找到党支部 %(code)s，或您无权查看。") % {"code": code}, field="branch")
    return rows[0]


def member_list(*, viewer: Viewer, branch: Unit, active_only: bool = True) -> QuerySet[PartyMember]:
    qs = PartyMember.objects.filter(_visible(viewer, "branch_id"), branch=branch)
    if active_only:
        qs = qs.filter(active=True)
    return qs.select_related("group_membership__group").order_by("birth_date", "id")


def member_get(*, viewer: Viewer, member_id: int) -> PartyMember:
    rows = list(PartyMember.objects.filter(_visible(viewer, "branch_id"),
                                           pk=member_id).select_related("branch")[:1])
    if not rows:
        raise NotFound(_("没有找到该党员，或您无权查看。"), field="member")
    return rows[0]


def age(birth_date: dt.date, on: dt.date | None = None) -> int:
    on = on or clock.today()
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def group_list(*, viewer: Viewer, branch: Unit) -> list[PartyGroup]:
    """The branch's groups with their members (eldest first) and leader."""
    members = PartyMember.objects.filter(active=True).order_by("birth_date", "id")
    return list(
        PartyGroup.objects.filter(_visible(viewer, "branch_id"), branch=branch)
        .select_related("leader")
        .prefetch_related(Prefetch("memberships", GroupMembership.objects.select_related("member")
                                   .filter(member__in=members).order_by("member__birth_date", "member_id")))
        .order_by("position", "id")
    )


@dataclass
class ProposedGroup:
    name: str
    kind: str
    members: list[PartyMember]
    leader_id: int | None
    tags: dict[str, int] = field(default_factory=dict)

    @property
    def ages(self) -> tuple[int, int] | None:
        years = [age(m.birth_date) for m in self.members]
        return (min(years), max(years)) if years else None


def default_group_name(index: int) -> tuple[str, str]:
    """(name, kind) of the proposal's group number ``index`` (from 0)."""
    if index < len(DEFAULT_KINDS):
        kind = DEFAULT_KINDS[index]
        return str(kind.label) + _("党小组"), kind.value
    numeral = CHINESE_NUMERALS[index] if index < len(CHINESE_NUMERALS) else str(index + 1)
    return _("第%(n)s党小组") % {"n": numeral}, GroupKind.CUSTOM.value


def grouping_proposal(*, viewer: Viewer, branch: Unit, n: int) -> list[ProposedGroup]:
    """A proposal for N groups of the branch's active members (see party.grouping)."""
    members = {m.id: m for m in member_list(viewer=viewer, branch=branch)}
    ids = grouping.propose(
        [grouping.Candidate(m.id, m.birth_date, frozenset(m.experience or ())) for m in members.values()], n)
    out = []
    for index, group in enumerate(ids):
        rows = sorted((members[i] for i in group), key=lambda m: (m.birth_date, m.id))
        name, kind = default_group_name(index)
        # A suggested leader: the member with the widest experience, the longer-standing on a tie.
        leader = min(rows, key=lambda m: (-len(m.experience or ()), m.joined_on or dt.date.max, m.id))
        tags: dict[str, int] = defaultdict(int)
        for m in rows:
            for t in m.experience or ():
                tags[t] += 1
        out.append(ProposedGroup(name, kind, rows, leader.id, dict(sorted(tags.items()))))
    return out


def pair_list(*, viewer: Viewer, branch: Unit | None = None) -> QuerySet[AssistancePair]:
    qs = AssistancePair.objects.filter(_visible(viewer, "branch_id"))
    if branch is not None:
        qs = qs.filter(branch=branch)
    return qs.select_related("member", "resident", "case", "branch").order_by("id")


def pair_get(*, viewer: Viewer, pair_id: int) -> AssistancePair:
    rows = list(pair_list(viewer=viewer).select_related("case__matter", "household").filter(pk=pair_id)[:1])
    if not rows:
        raise NotFound(_("没有找到该帮扶对子，或您无权查看。"), field="pair")
    return rows[0]


def state_label(case: Case) -> str:
    return str(workflow(case.kind).states.get(case.state, case.state))


def poor_residents(*, viewer: Viewer, branch: Unit) -> list[Resident]:
    """Residents flagged 贫困户 in the branch's region, that the viewer may see, not yet paired there."""
    paired = AssistancePair.objects.filter(branch=branch, case__closed_at__isnull=True).values("resident_id")
    return list(Resident.objects.filter(_scoped(viewer), poverty=True, region_path__startswith=branch.region_path)
                .exclude(pk__in=paired).order_by("name", "id"))


def measure_list(*, pair: AssistancePair) -> list[Measure]:
    return list(pair.measures.select_related("application").order_by("taken_at", "id"))


def income_list(*, pair: AssistancePair) -> list[IncomeRecord]:
    return list(pair.incomes.order_by("year", "month", "source"))


def income_by_month(*, pair: AssistancePair) -> list[tuple[str, Decimal]]:
    """Total income per month ("2025-03"), oldest first: what the pair page's chart draws."""
    rows = (pair.incomes.values("year", "month").annotate(total=Sum("amount")).order_by("year", "month"))
    return [(f"{r['year']}-{r['month']:02d}", r["total"]) for r in rows]


def income_chart(*, pair: AssistancePair) -> dict:
    """{labels, values, hrefs} for the ECharts bar chart (stats/dashboard.js's data-bar)."""
    months = income_by_month(pair=pair)
    return {"labels": [m for m, _t in months], "values": [float(t) for _m, t in months],
            "hrefs": ["" for _m in months]}


def income_last_twelve_months(*, pair: AssistancePair, on: dt.date | None = None) -> Decimal:
    """The household's income over the twelve months before ``on``'s month (what 脱贫 is judged on)."""
    on = on or clock.today()
    end = on.year * 12 + on.month - 1  # months since year 0, this month excluded
    start = end - 12
    total = Decimal("0")
    for r in pair.incomes.values("year", "month", "amount"):
        if start <= r["year"] * 12 + r["month"] - 1 < end:
            total += r["amount"]
    return total


def visits_since_exit(*, pair: AssistancePair) -> int:
    """Visits logged since the latest 宣布脱贫 (the follow-up monitoring visits)."""
    events = list(CaseEvent.objects.filter(case_id=pair.case_id, action__in=("declare_exit", "log_visit"))
                  .order_by("seq").values_list("action", flat=True))
    count = 0
    for action in events:
        count = 0 if action == "declare_exit" else count + 1
    return count if "declare_exit" in events else 0


def application_materials(*, matter_code: str) -> list[dict]:
    """The materials of the matter a measure applies for (申办低保), for the checklist on the pair page."""
    from yiwang.catalog.models import Matter

    return Matter.objects.filter(code=matter_code).values_list("materials", flat=True).first() or []
