"""`yiwang verify`: recompute every hash chain, every indicator from the timelines alone, and every
indicator rollup (tally) from the rows it counts."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction

from yiwang.cases import rollups as case_rollups
from yiwang.cases.chain import verify_events
from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.workflows import workflow
from yiwang.records import rollups

BATCH = 2000


@dataclass
class Report:
    cases: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _batches() -> Iterator[tuple[list[Case], dict[int, list[CaseEvent]]]]:
    last = 0
    while True:
        cases = list(Case.objects.filter(pk__gt=last).order_by("pk")[:BATCH])
        if not cases:
            return
        events: dict[int, list[CaseEvent]] = {c.pk: [] for c in cases}
        for e in CaseEvent.objects.filter(case_id__gte=cases[0].pk, case_id__lte=cases[-1].pk).order_by("case_id", "seq"):
            events.setdefault(e.case_id, []).append(e)
        yield cases, events
        last = cases[-1].pk


def verify(*, max_problems: int = 50) -> Report:
    report = Report()
    replay_state: Counter[str] = Counter()
    replay_closed = 0
    for cases, events in _batches():
        for case in cases:
            report.cases += 1
            timeline = events.get(case.pk, [])
            report.events += len(timeline)
            problem = _check_case(case, timeline)
            if problem and len(report.problems) < max_problems:
                report.problems.append(f"{case.number}: {problem}")
            if timeline:
                replay_state[timeline[-1].to_state] += 1
                if timeline[-1].to_state in workflow(case.kind).closed:
                    replay_closed += 1
    # The published indicators are sums of the tallies (stats reads nothing else): the tallies by state
    # must equal the timelines' last states. Inside a transaction stale_ok() answers the primary.
    with transaction.atomic():
        tallies = case_rollups.stored()
    by_state: Counter[str] = Counter()
    tallied_closed = 0
    for (_path, _kind, state, closed, _holder, _handling), (cases, *_rest) in tallies.items():
        by_state[state] += cases
        tallied_closed += cases if closed else 0
    if dict(sorted(replay_state.items())) != dict(sorted(by_state.items())):
        report.problems.append(f"cases by state from the timelines {dict(replay_state)} != tallies {dict(by_state)}")
    if replay_closed != tallied_closed:
        report.problems.append(f"closed cases from the timelines {replay_closed} != tallies {tallied_closed}")
    # The tallies must also equal a recomputation from the rows they count.
    report.problems.extend(rollups.differences())
    return report


def _check_case(case: Case, timeline: list[CaseEvent]) -> str | None:
    if len(timeline) != case.event_count:
        return f"{len(timeline)} events but the case counts {case.event_count}"
    broken = verify_events(timeline, case.last_hash)
    if broken:
        return broken
    last = timeline[-1]
    if last.to_state != case.state:
        return f"timeline ends in {last.to_state!r} but the case is {case.state!r}"
    if last.to_unit_id != case.holder_unit_id:
        return "timeline ends at another unit than the case's holder"
    # The moment of the last closing; none while a reopened incident is open again.
    closed = workflow(case.kind).closed
    closed_at = next((e.at for e in reversed(timeline) if e.to_state in closed and e.from_state not in closed),
                     None) if last.to_state in closed else None
    if closed_at != case.closed_at:
        return f"closed at {closed_at} by the timeline but {case.closed_at} on the case"
    dues = [e.payload["due_at"] for e in timeline if e.payload.get("due_at")]
    if dues and case.due_at and dt.datetime.fromisoformat(dues[-1]) != case.due_at:
        return f"deadline {case.due_at.isoformat()} differs from the timeline's {dues[-1]}"
    return None
