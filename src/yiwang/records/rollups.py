"""Every indicator rollup in one place: rebuilt together after a bulk import, verified together.

cases.rollups holds the case, day and month tallies, feedback.rollups the rating tallies and the
rating month tallies; each rebuilds and compares all of its own."""

from __future__ import annotations

from yiwang.cases import rollups as case_rollups
from yiwang.feedback import rollups as rating_rollups


def rebuild() -> dict[str, int]:
    """Recompute every tally from the rows it counts; returns the number of tally rows per kind."""
    return {"cases": case_rollups.rebuild(), "ratings": rating_rollups.rebuild()}


def differences(limit: int = 10) -> list[str]:
    """Where the stored tallies disagree with a recomputation (empty when they all agree)."""
    return case_rollups.differences(limit) + rating_rollups.differences(limit)
