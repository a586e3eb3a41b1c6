from django.contrib import admin

from yiwang.open311.models import ApiKey, Submission


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by `yiwang open311-key NAME` (the plain key is shown there once); here they
    can be read and revoked, never created, since the admin could not show the key."""

    list_display = ("name", "prefix", "user", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("name", "prefix", "key_hash", "user", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("token", "case", "api_key", "device_id", "account_id", "created_at")
    search_fields = ("token", "device_id", "account_id")
    readonly_fields = [f.name for f in Submission._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
