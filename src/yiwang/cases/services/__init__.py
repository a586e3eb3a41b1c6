"""Every write to a case. Each public function is one transaction and appends the CaseEvent that
explains it; nothing else in yiwang writes Case or CaseEvent rows: the timeline is the audit log,
and every indicator can be recomputed from it (`yiwang verify`).

What each action does is declared in cases.workflows and applied by workflows.transition; this
package only checks, resolves and writes:

- ``intake``: opening a case (applications, reports, named units, follow-ups, 免申即享);
- ``actions``: taking a step, by staff or by the system, and the sweeps' steps;
- ``notifications``: who is told, as each action declares;
- ``timeline``: the two writes every change is made of (a new case, one more event);
- ``calendar``: the working-day calendar's corrections.
"""

from yiwang.cases.services.actions import (
    case_act,
    case_auto_escalate,
    case_flag_duplicate,
    case_for_action,
    case_mark_warning,
    case_recompute_due,
    case_reveal_id,
    case_system_act,
    cases_attach_by_phone,
    due_from_timeline,
    escalation_rule_for,
    register_and_dispatch,
    suspensions,
)
from yiwang.cases.services.calendar import CALENDAR, CalendarChange, calendar_load_year, workday_set
from yiwang.cases.services.intake import (
    MAX_TITLE,
    RESIDENT_CHANNELS,
    Created,
    auto_key,
    case_auto_issue,
    case_create,
    case_open_follow_up,
    case_opened,
    case_report_by_phone,
)
from yiwang.cases.services.notifications import notifications_mark_read, notify

__all__ = [
    "CALENDAR", "MAX_TITLE", "RESIDENT_CHANNELS", "CalendarChange", "Created", "auto_key", "calendar_load_year",
    "case_act", "case_auto_escalate", "case_auto_issue", "case_create", "case_flag_duplicate", "case_for_action",
    "case_mark_warning", "case_open_follow_up", "case_opened", "case_recompute_due", "case_report_by_phone",
    "case_reveal_id", "case_system_act", "cases_attach_by_phone", "due_from_timeline", "escalation_rule_for", "notifications_mark_read", "notify",
    "register_and_dispatch", "suspensions", "workday_set",
]
