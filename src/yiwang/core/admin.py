from django.contrib import admin

from yiwang.core.models import AccessLog


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """Read-only: the audit trail of who saw an ID number in full, and why."""

    list_display = ("at", "actor_name", "subject", "subject_id", "field", "reason")
    list_filter = ("subject", "field")
    search_fields = ("actor_name",)
    date_hierarchy = "at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
