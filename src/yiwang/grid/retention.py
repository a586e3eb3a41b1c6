"""The grid's basic data in the retention sweep (docs/retention.md, kind ``grid_household``).

A household (户) names its head and a phone, and its members are residents. When a resident closes
their account, that is personal data nobody needs once the retention period has run from the closing:
the sweep (cases.retention, which calls this through ``register``) removes the resident from their
household, and erases the household's head name and phone where they were the head, where the phone
was theirs, or where nobody is left in it. The household's address and building stay: they describe
the dwelling, not a person, and the grid's figures count them.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from yiwang.cases.retention import ERASED
from yiwang.grid.models import Household, HouseholdMember, Relation


def sweep_households(*, now: dt.datetime, days: int, batch: int) -> tuple[int, list[str]]:
    """Up to ``batch`` memberships of accounts closed more than ``days`` ago, each erased in its own
    transaction; (how many, the errors)."""
    cutoff = now - dt.timedelta(days=days)
    ids = list(HouseholdMember.objects.filter(resident__closed_at__lte=cutoff).order_by("resident__closed_at", "pk")
               .values_list("pk", flat=True)[:batch])
    done, errors = 0, []
    for pk in ids:
        try:
            done += household_member_erase(member_id=pk)
        except Exception as exc:  # logged on the run; the next one goes on
            errors.append(f"household member {pk}: {type(exc).__name__}: {exc}"[:300])
    return done, errors


def household_member_erase(*, member_id: int) -> int:
    """Remove one closed account from its household, and the household's personal fields that were
    theirs or that nobody is left to own; 1 when done, 0 when it was gone already."""
    with transaction.atomic():
        member = HouseholdMember.objects.select_related("resident").filter(pk=member_id).first()
        if member is None:
            return 0
        household = Household.objects.select_for_update().get(pk=member.household_id)
        resident = member.resident
        member.delete()
        changes = {}
        alone = not HouseholdMember.objects.filter(household_id=household.pk).exists()
        # The resident's own name and phone may already be erased from their record (an account with no
        # case is erased at once): the relation and an empty household still say whose they were.
        theirs = member.relation == Relation.HEAD or alone
        if household.head_name not in ("", ERASED) and (theirs or household.head_name == resident.name):
            changes["head_name"] = ERASED
        if household.phone and (theirs or household.phone == resident.phone):
            changes["phone"] = ""
        if changes:
            Household.objects.filter(pk=household.pk).update(**changes)
    return 1
