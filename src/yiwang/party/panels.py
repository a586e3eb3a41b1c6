"""The party app's part of an assistance pair's case page (cases.panels)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from yiwang.cases.models import Case
from yiwang.cases.panels import Panel
from yiwang.party.models import AssistancePair


def assistance_panel(viewer, case: Case, actions) -> Panel | None:
    pair = AssistancePair.objects.filter(case=case).only("id").first()
    if pair is None:
        return None
    # Income and measures keep a ledger row beside the event: they are recorded on the pair's page.
    return Panel(app_page=(reverse("party:pair", args=[pair.pk]), _("帮扶台账（记录收入、落实措施）")),
                 elsewhere=frozenset({"record_income", "add_measure"}))
