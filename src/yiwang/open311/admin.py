from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed
from yiwang.open311 import services
from yiwang.open311.models import ApiKey, PublicText, PublicTextLog, Submission
from yiwang.org.selectors import viewer_for


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


class PublicTextForm(forms.ModelForm):
    class Meta:
        model = PublicText
        fields = ("case", "hidden", "text")

    def clean_case(self):
        case = self.cleaned_data.get("case")
        if case is not None and case.kind != "incident":
            raise forms.ValidationError(_("只有事件会出现在公开地图上。"))
        return case

    def clean_text(self) -> str:
        try:
            return services.public_text_clean(self.cleaned_data.get("text", ""))
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(PublicText)
class PublicTextAdmin(admin.ModelAdmin):
    """The public map's moderation, as on the workbench case page: every save goes through
    ``public_text_set``, so it is checked and logged the same way."""

    form = PublicTextForm
    list_display = ("case", "hidden", "text", "updated_by", "updated_at")
    list_filter = ("hidden",)
    raw_id_fields = ("case",)
    fields = ("case", "hidden", "text", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "case") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        saved = services.public_text_set(viewer=viewer_for(request.user), number=obj.case.number,
                                         hidden=obj.hidden, text=obj.text)
        obj.pk, obj.updated_at, obj.updated_by_id, obj.text = saved.pk, saved.updated_at, saved.updated_by_id, saved.text

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # unhiding is a logged change; a deleted row would leave the log without its subject


@admin.register(PublicTextLog)
class PublicTextLogAdmin(admin.ModelAdmin):
    list_display = ("case", "actor", "at", "hidden_before", "hidden_after", "text_before", "text_after")
    readonly_fields = [f.name for f in PublicTextLog._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
