"""What an app adds to a case's staff page, by the case's kind.

The workbench shows every kind of case, but what an incident's page needs (the suggested unit, the
likely duplicates) is the command centre's, and an assistance pair's ledger is the party app's. An app
registers a panel for a kind in its AppConfig.ready(); the page asks :func:`panel_for` and knows no
app. This is one of the engine's three extension points (docs/architecture.md): the others are the
``case_opened`` signal and ``org.services.resident_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from yiwang.cases.models import Case
from yiwang.cases.workflows import Action
from yiwang.org.selectors import Viewer


@dataclass(frozen=True)
class Panel:
    # (url, label) of the app's own page for this case, where some steps are recorded with the app's rows.
    app_page: tuple[str, str] | None = None
    # Actions taken on that page instead (they write the app's rows beside the event): not offered here.
    elsewhere: frozenset[str] = frozenset()
    context: dict = field(default_factory=dict)  # what the app's part of the template reads


PanelFn = Callable[[Viewer, Case, list[Action]], Panel | None]
_PANELS: dict[str, list[PanelFn]] = {}


def register(kind: str, fn: PanelFn) -> None:
    """Add ``fn``'s panel to the staff page of every case of ``kind`` (call from AppConfig.ready)."""
    if fn not in _PANELS.setdefault(kind, []):
        _PANELS[kind].append(fn)


def panel_for(viewer: Viewer, case: Case, actions: list[Action]) -> Panel:
    """The panels registered for the case's kind, merged (the first app page wins)."""
    app_page = None
    elsewhere: set[str] = set()
    context: dict = {}
    for fn in _PANELS.get(case.kind, ()):
        panel = fn(viewer, case, actions)
        if panel is None:
            continue
        app_page = app_page or panel.app_page
        elsewhere |= panel.elsewhere
        context.update(panel.context)
    return Panel(app_page, frozenset(elsewhere), context)
