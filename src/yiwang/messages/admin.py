from django.contrib import admin

from yiwang.messages.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read only: a message changes through the worker and `yiwang messages resend|confirm`, whose
    rules (never send an unknown one twice) an edit here would bypass."""

    list_display = ("created_at", "channel", "to", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    search_fields = ("to", "dedupe_key")
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
