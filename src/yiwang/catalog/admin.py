from django import forms
from django.contrib import admin

from yiwang.catalog.autorules import validate_rule
from yiwang.catalog.models import Matter, MatterFAQ, MatterVersion, RoutingRule
from yiwang.catalog.services import matter_publish, routing_rule_delete, routing_rule_save


class MatterForm(forms.ModelForm):
    # No Meta: ModelAdmin builds the form for Matter with the admin's own field list.

    def clean_auto_rule(self):
        # The same check matter_publish makes, shown on the field instead of failing the save.
        rule = self.cleaned_data.get("auto_rule") or {}
        problems = validate_rule(rule)
        if problems:
            raise forms.ValidationError(problems)
        return rule


@admin.register(Matter)
class MatterAdmin(admin.ModelAdmin):
    form = MatterForm
    list_display = ("code", "name", "kind", "time_limit", "time_unit", "is_instant", "active")
    list_filter = ("kind", "is_instant", "active")
    search_fields = ("code", "name", "keywords")

    def save_model(self, request, obj, form, change):
        # Publishing freezes a new version; cases already opened keep the version they had.
        matter_publish(matter=obj)


@admin.register(MatterVersion)
class MatterVersionAdmin(admin.ModelAdmin):
    list_display = ("matter", "number", "published_at")
    readonly_fields = ("matter", "number", "snapshot", "published_at")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "matter", "region", "target_unit", "priority", "active")

    def save_model(self, request, obj, form, change):
        routing_rule_save(rule=obj)

    def delete_model(self, request, obj):
        routing_rule_delete(rule=obj)


@admin.register(MatterFAQ)
class MatterFAQAdmin(admin.ModelAdmin):
    list_display = ("matter", "question", "published_at")
    search_fields = ("question", "answer")
