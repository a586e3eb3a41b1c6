from django import forms
from django.contrib import admin

from yiwang.catalog.autorules import validate_rule
from yiwang.catalog.models import Delivery, Matter, MatterDocument, MatterFAQ, MatterVersion, RoutingRule
from yiwang.catalog.services import (
    MAX_DOCUMENT_BYTES,
    document_check,
    document_describe,
    document_store,
    faq_personal_details,
    matter_publish,
    routing_rule_delete,
    routing_rule_save,
)
from yiwang.core import text as core_text
from yiwang.core.errors import DomainError


class MatterForm(forms.ModelForm):
    # No Meta: ModelAdmin builds the form for Matter with the admin's own field list.
    delivery = forms.MultipleChoiceField(label=Matter._meta.get_field("delivery").verbose_name,
                                         choices=Delivery.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple)

    def clean_auto_rule(self):
        # The same check matter_publish makes, shown on the field instead of failing the save.
        rule = self.cleaned_data.get("auto_rule") or {}
        problems = validate_rule(rule)
        if problems:
            raise forms.ValidationError(problems)
        return rule


class MatterDocumentForm(forms.ModelForm):
    """A blank form or sample uploaded by staff: checked and stored by catalog.services.document_store."""

    class Meta:
        model = MatterDocument
        fields = ("kind", "title", "file", "position")

    def clean(self):
        # document_store's checks, shown beside the field instead of failing the save.
        data = super().clean()
        upload = data.get("file")
        if upload is None or not hasattr(upload, "read") or getattr(upload, "_committed", False):
            # No new file (the stored one stays): the title alone is checked, as document_store would.
            try:
                core_text.check_text(data.get("title") or "", field="title")
            except DomainError as exc:
                raise forms.ValidationError({"title": exc.message}) from None
            return data
        # Read at most one byte past the limit, so a huge upload is refused without holding it all.
        content = upload.read(MAX_DOCUMENT_BYTES + 1)
        upload.seek(0)
        try:
            document_check(title=(data.get("title") or "").strip(), kind=data.get("kind") or "", data=content,
                           filename=upload.name)
        except DomainError as exc:
            raise forms.ValidationError({exc.field or "file": exc.message}) from None
        return data


class MatterDocumentInline(admin.TabularInline):
    model = MatterDocument
    form = MatterDocumentForm
    extra = 1
    readonly_fields = ("filename", "content_type", "size")


@admin.register(Matter)
class MatterAdmin(admin.ModelAdmin):
    form = MatterForm
    inlines = [MatterDocumentInline]
    list_display = ("code", "name", "kind", "resident_can_apply", "visits", "time_limit", "time_unit", "is_instant",
                    "active")
    list_filter = ("kind", "resident_can_apply", "is_instant", "active")
    search_fields = ("code", "name", "keywords")

    def save_model(self, request, obj, form, change):
        # Publishing freezes a new version; cases already opened keep the version they had.
        matter_publish(matter=obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not MatterDocument:
            return super().save_formset(request, form, formset, change)
        # Files go through document_store (checked by content, named by hash), not the formset's save;
        # the admin's history reads what changed from these three lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for f in formset.deleted_forms:
            if f.instance.pk:
                f.instance.delete()
                formset.deleted_objects.append(f.instance)
        for f in formset.forms:
            if not f.has_changed() or f in formset.deleted_forms or not f.cleaned_data:
                continue
            upload = f.cleaned_data.get("file")
            instance = f.instance if f.instance.pk else None
            if upload is not None and not getattr(upload, "_committed", False):
                doc = document_store(matter=form.instance, title=f.cleaned_data["title"], data=upload.read(),
                                     filename=upload.name, kind=f.cleaned_data["kind"],
                                     position=f.cleaned_data.get("position") or 0, document=instance)
            elif instance is not None:
                doc = document_describe(document=instance, title=f.cleaned_data["title"],
                                        kind=f.cleaned_data["kind"], position=f.cleaned_data.get("position") or 0)
            else:
                continue
            if instance is None:
                formset.new_objects.append(doc)
            else:
                formset.changed_objects.append((doc, f.changed_data))


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


class MatterFAQForm(forms.ModelForm):
    """An administrator's correction of an entry: the same refusals as publishing on /work/faq/."""

    def clean(self):
        data = super().clean()
        for field in ("question", "answer"):
            found = faq_personal_details(data.get(field) or "")
            if found:
                self.add_error(field, "、".join(found))
        return data


@admin.register(MatterFAQ)
class MatterFAQAdmin(admin.ModelAdmin):
    # Drafts are edited and published on the workbench (/work/faq/), which refuses personal details;
    # here an administrator corrects or removes an entry, and cannot publish one past those checks.
    form = MatterFAQForm
    list_display = ("matter", "question", "published_at", "published_by")
    list_filter = (("published_at", admin.EmptyFieldListFilter),)
    search_fields = ("question", "answer")
    readonly_fields = ("published_at", "published_by", "created_at", "source_case_id")


# --- search: synonyms staff keep, and the queries that found nothing (catalog/search.py) ---------
# Imported here, not at the top: this section was added while the top was being edited by another
# change; keeping it self-contained keeps the two apart.
from urllib.parse import urlencode  # noqa: E402

from django.db import transaction  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.html import format_html  # noqa: E402
from django.utils.translation import gettext_lazy as _  # noqa: E402

from yiwang.catalog.models import SearchMiss, SearchSynonym  # noqa: E402
from yiwang.catalog.services import search_synonym_delete, search_synonym_save  # noqa: E402
from yiwang.core import confcache  # noqa: E402
from yiwang.core.errors import ValidationFailed  # noqa: E402
from yiwang.core.text import check_text  # noqa: E402


class SearchSynonymForm(forms.ModelForm):
    class Meta:
        model = SearchSynonym
        fields = ("phrase", "means", "matter", "active")

    def clean(self):
        data = super().clean()
        # The service's own checks, shown on their fields instead of failing the save.
        for name in ("phrase", "means"):
            try:
                check_text(data.get(name) or "", field=name)
            except ValidationFailed as exc:
                self.add_error(name, exc.message)
        if not (data.get("means") or "").strip() and data.get("matter") is None:
            raise forms.ValidationError({"means": _("请填写对应目录用语或选择事项。")})
        return data


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    form = SearchSynonymForm
    list_display = ("phrase", "means", "matter", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("phrase", "means", "matter__name")
    autocomplete_fields = ("matter",)

    def save_model(self, request, obj, form, change):
        search_synonym_save(synonym=obj)

    def delete_model(self, request, obj):
        search_synonym_delete(synonym=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            queryset.delete()
            confcache.bump("catalog.search")


@admin.register(SearchMiss)
class SearchMissAdmin(admin.ModelAdmin):
    """Read-only: what residents searched for and did not find, to add the synonym it lacked."""

    list_display = ("query", "count", "last_seen", "first_seen", "add_synonym")
    search_fields = ("query",)
    ordering = ("-last_seen",)
    sortable_by = ("query", "count", "last_seen", "first_seen")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("添加同义词"))
    def add_synonym(self, obj: SearchMiss) -> str:
        url = reverse("admin:catalog_searchsynonym_add") + "?" + urlencode({"phrase": obj.query})
        return format_html('<a href="{}">{}</a>', url, _("添加同义词"))
