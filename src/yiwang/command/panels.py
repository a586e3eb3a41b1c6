"""The command centre's part of an incident's case page (cases.panels): where the category and place
say to dispatch it, the open reports it may repeat, and the reports merged into it."""

from __future__ import annotations

from yiwang.cases import routing
from yiwang.cases.models import Case
from yiwang.cases.panels import Panel
from yiwang.command.selectors import duplicate_candidates


def incident_panel(viewer, case: Case, actions) -> Panel:
    return Panel(context={
        "suggestion": routing.case_dispatch_suggestion(case),
        "duplicates": duplicate_candidates(viewer, case) if any(a.name == "merge" for a in actions) else [],
        "children": list(case.children.order_by("id")),
    })
