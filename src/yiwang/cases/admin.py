from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from yiwang.cases.models import (
    CannedReply,
    Case,
    CaseEvent,
    EscalationRule,
    Notification,
    RetentionRun,
    Workday,
)
from yiwang.cases.selectors import staff_payload
from yiwang.cases.services import workday_set
from yiwang.core.admin import ReadOnlyAdmin
from yiwang.core.idnumber import mask_data, mask_text


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    """Read-only: cases change only through their workflow (the API, pages and CLI)."""

    list_display = ("id", "kind", "title_masked", "state", "holder_unit", "created_at", "due_at")
    list_filter = ("kind", "state")
    search_fields = ("title", "applicant_name")
    # ID numbers in a case's text show masked here as everywhere; seeing one in full is a recorded
    # act on the workbench (cases.services.case_reveal_id), not a page view.
    exclude = ("title", "description", "form_data", "materials", "address", "result", "search_text", "applicant_name")
    readonly_fields = ("title_masked", "applicant_name_masked", "description_masked", "form_masked",
                       "materials_masked", "address_masked", "result_masked")

    @admin.display(description=_("申请人"))
    def applicant_name_masked(self, obj):
        return mask_text(obj.applicant_name, phones=False)

    @admin.display(description=_("标题"))
    def title_masked(self, obj):
        return mask_text(obj.title, phones=False)

    @admin.display(description=_("描述"))
    def description_masked(self, obj):
        return mask_text(obj.description, phones=False)

    @admin.display(description=_("表单"))
    def form_masked(self, obj):
        return mask_data(obj.form_data, phones=False)

    @admin.display(description=_("材料"))
    def materials_masked(self, obj):
        return mask_data(obj.materials, phones=False)

    @admin.display(description=_("地址"))
    def address_masked(self, obj):
        return mask_text(obj.address, phones=False)

    @admin.display(description=_("办理结果"))
    def result_masked(self, obj):
        return mask_text(obj.result, phones=False)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("case", "seq", "at", "action", "actor_name", "from_state", "to_state")
    exclude = ("payload",)
    readonly_fields = ("payload_masked",)

    @admin.display(description="payload")
    def payload_masked(self, obj):
        return mask_data(staff_payload(obj.payload), phones=False)


@admin.register(Workday)
class WorkdayAdmin(admin.ModelAdmin):
    list_display = ("date", "is_workday", "name", "source")
    list_filter = ("is_workday", "source")
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change):
        workday_set(day=obj.date, is_workday=obj.is_workday, name=obj.name)


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "matter", "after_hours", "active")
    list_filter = ("active", "kind")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "unit", "kind", "message", "read_at")
    list_filter = ("kind",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


def reply_actions() -> list[tuple[str, str]]:
    """The staff actions a canned reply may be for: those of the kinds residents read (an internal
    kind takes no reply), each named with the kinds and labels it has."""
    from yiwang.cases.workflows import APPLICANT, WORKFLOWS

    labels: dict[str, list[str]] = {}
    for wf in WORKFLOWS.values():
        for act in wf.actions.values() if wf.residents_read else ():
            if not act.system and act.actors - {APPLICANT}:
                labels.setdefault(act.name, []).append(f"{wf.label}·{act.label}")
    return [(name, f"{name}（{'、'.join(found)}）") for name, found in sorted(labels.items())]


class CannedReplyForm(forms.ModelForm):
    # A choice, not a typed name: an incident's 不予立案 is offered as an application's 不予受理 is.
    action = forms.ChoiceField(label=_("操作"), choices=reply_actions)

    class Meta:
        model = CannedReply
        fields = ("matter", "action", "title", "text", "active")


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    """常用回复: what the workbench offers to start a reply from, per matter (or every matter) and action."""

    form = CannedReplyForm
    list_display = ("title", "action", "matter", "active")
    list_filter = ("action", "active")
    search_fields = ("title", "text", "matter__name")
    list_select_related = ("matter",)
    raw_id_fields = ("matter",)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    """Read-only: the retention sweep's log (docs/retention.md). Only the sweep writes it."""

    list_display = ("started_at", "finished_at", "cases", "counts_shown", "files_deleted", "error_count")
    date_hierarchy = "started_at"
    fields = ("started_at", "finished_at", "cases", "counts_shown", "files_deleted", "errors_shown")
    readonly_fields = fields

    @admin.display(description=_("各类数量"))
    def counts_shown(self, obj):
        return "，".join(f"{k} {v}" for k, v in (obj.counts or {}).items())

    @admin.display(description=_("错误数"))
    def error_count(self, obj):
        return len(obj.errors or [])

    @admin.display(description=_("错误"))
    def errors_shown(self, obj):
        # An error quotes an exception's text, which may quote data: ID numbers stay masked.
        return "\n".join(mask_text(str(e), phones=False) for e in obj.errors or [])
