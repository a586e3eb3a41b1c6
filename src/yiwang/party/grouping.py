"""The grouping proposal: a branch's members split into N party groups (党小组). Pure and deterministic.

程家村's branch broke with groups drawn by where members live and grouped its 35 members by age and
working experience instead, so that every group can both serve and teach. The proposal gives each
group the same spread: members sorted by age are dealt to the groups like cards, snaking back and
forth (so no group always gets the elder of each round), which also keeps sizes within one of each
other; then members of the same round swap groups while that evens out the experience tags (养殖,
种植, 务工 …) across groups. Swapping within a round never changes a group's size or age profile.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

MAX_SWAP_PASSES = 50


@dataclass(frozen=True)
class Candidate:
    id: int
    birth_date: dt.date
    tags: frozenset[str] = frozenset()


def check_group_count(n: object, members: int) -> int:
    """N as an int in 1..members, or a field-level refusal."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValidationFailed(_("党小组数须为整数。"), field="groups")
    if members == 0:
        raise ValidationFailed(_("该支部没有在册党员，无法分组。"), field="groups")
    if not 1 <= n <= members:
        raise ValidationFailed(_("党小组数须在 1 到 %(n)s(在册党员人数)之间。") % {"n": members}, field="groups")
    return n


def imbalance(groups: Sequence[Sequence[Candidate]]) -> int:
    """How unevenly the tags are spread: for each tag, the most minus the fewest holders in a group."""
    counts = [Counter(tag for c in group for tag in c.tags) for group in groups]
    tags = set().union(*counts) if counts else set()
    return sum(max(c[t] for c in counts) - min(c[t] for c in counts) for t in tags)


def propose(candidates: Iterable[Candidate], n: int) -> list[list[int]]:
    """N groups of member ids: sizes differ by at most one, ages and experience spread over them."""
    ordered = sorted(candidates, key=lambda c: (c.birth_date, c.id))
    check_group_count(n, len(ordered))
    groups: list[list[Candidate]] = [[] for _ in range(n)]
    rounds: list[list[int]] = []  # for each round of the deal, the groups that got a card in it
    for start in range(0, len(ordered), n):
        dealt = ordered[start:start + n]
        order = list(range(n)) if (start // n) % 2 == 0 else list(range(n - 1, -1, -1))
        rounds.append(order[:len(dealt)])
        for g, c in zip(order, dealt, strict=False):
            groups[g].append(c)
    _balance(groups, rounds)
    return [sorted(c.id for c in group) for group in groups]


def _balance(groups: list[list[Candidate]], rounds: list[list[int]]) -> None:
    """Hill-climb on ``imbalance`` by swapping two members dealt in the same round; first best swap wins,
    scanning in a fixed order, so equal inputs always give equal outputs."""
    if not any(c.tags for group in groups for c in group):
        return
    score = imbalance(groups)
    for _pass in range(MAX_SWAP_PASSES):
        improved = False
        for r, got in enumerate(rounds):
            for i, a in enumerate(got):
                for b in got[i + 1:]:
                    ga, gb = groups[a], groups[b]
                    if ga[r].tags == gb[r].tags:
                        continue
                    ga[r], gb[r] = gb[r], ga[r]
                    new = imbalance(groups)
                    if new < score:
                        score, improved = new, True
                    else:
                        ga[r], gb[r] = gb[r], ga[r]
        if not improved or score == 0:
            return
