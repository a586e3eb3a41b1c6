"""Administrators keep zones, their tariffs, tagged places and the penalty rules here. Violations,
penalties and appeals are read-only: they change only through the services (and the case engine)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yiwang.core.admin import ReadOnlyAdmin
from yiwang.core.idnumber import mask_text
from yiwang.parking import fees, penalties
from yiwang.parking.models import (
    Appeal,
    ParkingSession,
    Penalty,
    PenaltyRule,
    TaggedPlace,
    TariffPeriod,
    Violation,
    Zone,
)


class PeriodFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        bands = [fees.Band(f.cleaned_data["start"], f.cleaned_data["end"], f.cleaned_data.get("unit_minutes") or 1,
                           f.cleaned_data.get("unit_price") or 0)
                 for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if fees.bands_overlap(bands):
            raise ValidationError(_("收费时段相互重叠：同一时刻只能有一个价格。"))


class PeriodInline(admin.TabularInline):
    model = TariffPeriod
    formset = PeriodFormSet
    extra = 0


class RegionPathAdmin(admin.ModelAdmin):
    """Rows that copy their region's path: keep the copy true whoever saves them."""

    def save_model(self, request, obj, form, change):
        obj.region_path = obj.region.path
        super().save_model(request, obj, form, change)


@admin.register(Zone)
class ZoneAdmin(RegionPathAdmin):
    list_display = ("code", "name", "kind", "region", "capacity", "operator", "free_minutes", "daily_cap", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name", "operator")
    autocomplete_fields = ("region",)
    inlines = [PeriodInline]


@admin.register(TaggedPlace)
class TaggedPlaceAdmin(RegionPathAdmin):
    list_display = ("name", "kind", "region", "lat", "lng")
    list_filter = ("kind",)
    search_fields = ("name",)
    autocomplete_fields = ("region",)


class PenaltyRuleForm(forms.ModelForm):
    class Meta:
        model = PenaltyRule
        fields = ("name", "zone_kind", "place_kind", "min_repeat", "decision", "amount", "active")

    def clean(self):
        data = super().clean()
        if data.get("decision") and data.get("amount") is not None \
                and penalties.amount_problem(data["decision"], data["amount"]):
            raise ValidationError({"amount": _("罚款金额须在 20 至 200 元之间(道路交通安全法第九十三条)，警告不能有金额。")})
        return data


@admin.register(PenaltyRule)
class PenaltyRuleAdmin(admin.ModelAdmin):
    form = PenaltyRuleForm
    list_display = ("name", "zone_kind", "place_kind", "min_repeat", "decision", "amount", "active")
    list_filter = ("decision", "active")


@admin.register(ParkingSession)
class SessionAdmin(ReadOnlyAdmin):
    list_display = ("plate", "zone", "entered_at", "exited_at", "fee")
    search_fields = ("plate",)


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    list_display = ("plate", "observed_at", "source", "region", "zone", "case")
    list_filter = ("source",)
    search_fields = ("plate",)
    # Typed text shows with its ID numbers masked, as on every page (core.idnumber).
    exclude = ("address", "description")
    readonly_fields = ("address_masked", "description_masked")

    @admin.display(description=gettext_lazy("地点"))
    def address_masked(self, obj):
        return mask_text(obj.address, phones=False)

    @admin.display(description=gettext_lazy("描述"))
    def description_masked(self, obj):
        return mask_text(obj.description, phones=False)


@admin.register(Penalty)
class PenaltyAdmin(ReadOnlyAdmin):
    list_display = ("plate", "decision", "amount", "state", "decided_at", "unit")
    list_filter = ("decision", "state")
    search_fields = ("plate",)


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("penalty", "state", "filed_at", "decided_at")
    list_filter = ("state",)
    exclude = ("reason", "note")
    readonly_fields = ("reason_masked", "note_masked")

    @admin.display(description=gettext_lazy("申诉理由"))
    def reason_masked(self, obj):
        return mask_text(obj.reason, phones=False)

    @admin.display(description=gettext_lazy("处理意见"))
    def note_masked(self, obj):
        return mask_text(obj.note, phones=False)
