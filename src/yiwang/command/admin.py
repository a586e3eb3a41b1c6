from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from yiwang.command import services
from yiwang.command.models import DispatchModel, DispatchSettings
from yiwang.core.errors import DomainError


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@admin.register(DispatchModel)
class DispatchModelAdmin(admin.ModelAdmin):
    """Versions are made by `yiwang train-dispatch`; here administrators compare and switch them."""

    list_display = ("version", "region_path", "created_at", "trained_on", "category_accuracy", "unit_accuracy",
                    "active")
    list_filter = ("active",)
    readonly_fields = ("created_at", "region", "region_path", "trained_on", "labels", "metrics", "library", "active",
                       "trained_by")
    exclude = ("blob", "signature")
    actions = ["activate"]

    @admin.display(description=_("版本"), ordering="id")
    def version(self, obj: DispatchModel) -> str:
        return f"v{obj.pk}"

    @admin.display(description=_("类别准确率 (top-1 / top-3)"))
    def category_accuracy(self, obj: DispatchModel) -> str:
        return f"{_percent(obj.metrics.get('category_top1'))} / {_percent(obj.metrics.get('category_top3'))}"

    @admin.display(description=_("单位准确率 (top-1 / top-3)"))
    def unit_accuracy(self, obj: DispatchModel) -> str:
        return f"{_percent(obj.metrics.get('unit_top1'))} / {_percent(obj.metrics.get('unit_top3'))}"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("blob")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is None or not obj.active  # the model in use stays until another replaces it

    @admin.action(description=_("启用所选版本"))
    def activate(self, request, queryset):
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, _t("请只选择一个版本。"), messages.ERROR)
            return
        try:
            model = services.dispatch_model_activate(model_id=chosen[0])
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, _t("已启用 v%(v)s。") % {"v": model.pk}, messages.SUCCESS)


@admin.register(DispatchSettings)
class DispatchSettingsAdmin(admin.ModelAdmin):
    """One row; saved through the service so every process sees the change."""

    fields = ("auto_enabled", "auto_threshold", "min_training_cases", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request) -> bool:
        return not DispatchSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        row = DispatchSettings.objects.first()
        if row is not None:
            return HttpResponseRedirect(reverse("admin:command_dispatchsettings_change", args=[row.pk]))
        return HttpResponseRedirect(reverse("admin:command_dispatchsettings_add"))

    def save_model(self, request, obj, form, change):
        try:
            saved = services.dispatch_settings_update(
                auto_enabled=obj.auto_enabled, auto_threshold=obj.auto_threshold,
                min_training_cases=obj.min_training_cases, updated_by=request.user.get_username())
        except DomainError as exc:  # the form's validators catch these first; this is the last word
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk
