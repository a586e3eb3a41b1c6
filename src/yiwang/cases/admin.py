from django.contrib import admin

from yiwang.cases.models import Case, CaseEvent, EscalationRule, Notification, Workday
from yiwang.cases.services import workday_set


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Read-only: cases change only through their workflow (the API, pages and CLI)."""

    list_display = ("id", "kind", "title", "state", "holder_unit", "created_at", "due_at")
    list_filter = ("kind", "state")
    search_fields = ("title", "applicant_name")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ("case", "seq", "at", "action", "actor_name", "from_state", "to_state")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
