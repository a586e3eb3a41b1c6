from django.contrib import admin

from yiwang.core.models import AccessLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the admin shows and never changes: written only by the code that owns it (a log, an
    audit trail, a ledger the engine keeps)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Read-only: the audit trail of who saw an ID number in full, and why."""

    list_display = ("at", "actor_name", "subject", "subject_id", "field", "reason")
    list_filter = ("subject", "field")
    search_fields = ("actor_name",)
    date_hierarchy = "at"
