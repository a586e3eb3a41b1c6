"""Which penalty rule applies to a violation. Pure: the facts come in, the rule goes out.

The law sets the frame: 《道路交通安全法》第九十三条 — a driver who parks against the rules is
warned and told to move on; one who is absent, or refuses and blocks traffic, is fined 20 to 200
yuan. Rules inside that frame say where (zone kind, a tagged place nearby) and for which repeat
the district warns or fines how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

FINE_MIN = Decimal("20.00")
FINE_MAX = Decimal("200.00")
# A tagged place this close makes a violation "near" it for the rules (and for the hotspot page).
NEAR_METRES = 200
# Earlier penalties count as repeats for this long (一个记分周期).
REPEAT_WINDOW_DAYS = 365


class RuleLike(Protocol):
    zone_kind: str
    place_kind: str
    min_repeat: int
    decision: str
    amount: Decimal
    active: bool


@dataclass(frozen=True)
class Facts:
    zone_kind: str  # "" when the violation lies outside every parking zone
    place_kinds: frozenset[str]  # kinds of tagged places within NEAR_METRES
    repeat: int  # earlier penalties of the same vehicle within REPEAT_WINDOW_DAYS, not overturned


def matches(rule: RuleLike, facts: Facts) -> bool:
    return (rule.active
            and (not rule.zone_kind or rule.zone_kind == facts.zone_kind)
            and (not rule.place_kind or rule.place_kind in facts.place_kinds)
            and rule.min_repeat <= facts.repeat)


def specificity(rule: RuleLike) -> int:
    return (2 if rule.place_kind else 0) + (1 if rule.zone_kind else 0)


def choose_rule(rules: list, facts: Facts):
    """The rule for the most earlier penalties among those that match, then the most specific, then
    the harsher; None when no rule matches. A repeat offender is never treated more leniently
    because a milder rule happens to be more specific."""
    candidates = [r for r in rules if matches(r, facts)]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.min_repeat, specificity(r), r.decision == "fine", r.amount,
                                          -(getattr(r, "pk", None) or 0)))


def amount_problem(decision: str, amount: Decimal) -> str | None:
    """Why a rule's amount is unlawful (a code the service words), or None."""
    if decision == "warning":
        return None if amount == 0 else "warning_with_amount"
    if not FINE_MIN <= amount <= FINE_MAX:
        return "fine_out_of_range"
    return None
