"""Subscriptions and forwarding rules are an administrator's alone: a subscription streams every
case event of a region to a URL, and a rule sends cases out. Superusers only, whatever model
permissions a staff account was given."""

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from yiwang.integrations import services
from yiwang.integrations.models import Attempt, Delivery, Forwarded, ForwardingRule, Subscription


class AdministratorsOnly:
    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("接收地址"), max_length=500, assume_scheme="https")

    class Meta:
        model = Subscription
        fields = ("name", "url", "secret", "actions", "region", "active")

    def clean_actions(self):
        # The same check as the CLI's (services.subscription_add): an unknown action name is a typo.
        actions = self.cleaned_data.get("actions") or []
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise forms.ValidationError(_("请填写事件类型名称的列表，如 [\"submit\", \"close\"]。"))
        unknown = set(actions) - services.known_actions()
        if unknown:
            raise forms.ValidationError(_("没有这种事件类型：%(names)s。") % {"names": "、".join(sorted(unknown))})
        return actions


class ConfigAdmin(AdministratorsOnly, admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    # Every process caches the active subscriptions and rules (hooks.config): a change is announced.
    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            services.config_changed()

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            super().delete_model(request, obj)
            services.config_changed()

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            services.config_changed()


@admin.register(Subscription)
class SubscriptionAdmin(ConfigAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "actions", "region", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    autocomplete_fields = ("region",)


class AttemptInline(AdministratorsOnly, admin.TabularInline):
    model = Attempt
    extra = 0
    fields = readonly_fields = ("at", "ok", "status_code", "duration_ms", "error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ("delivery_id", "subscription", "case_id", "seq", "action", "status", "attempts",
                    "next_attempt_at", "delivered_at")
    list_filter = ("status", "subscription")
    search_fields = ("delivery_id",)
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("重新推送所选记录"))
    def replay(self, request, queryset) -> None:
        n = services.replay(delivery_ids=list(queryset.values_list("delivery_id", flat=True)))
        self.message_user(request, ngettext("已重新排队 %(n)d 条推送。", "已重新排队 %(n)d 条推送。", n) % {"n": n},
                          messages.SUCCESS)


@admin.register(ForwardingRule)
class ForwardingRuleAdmin(ConfigAdmin):
    list_display = ("name", "base_url", "jurisdiction_id", "region", "pull_minutes", "active")
    list_filter = ("active",)
    autocomplete_fields = ("region",)


@admin.register(Forwarded)
class ForwardedAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ("case", "rule", "status", "service_request_id", "remote_status", "attempts", "pulled_at")
    list_filter = ("status", "rule")
    search_fields = ("service_request_id",)
    readonly_fields = [f.name for f in Forwarded._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
