from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from yiwang.core.errors import DomainError
from yiwang.grid import services
from yiwang.grid.models import Building, Camera, GridAssignment, Household, HouseholdMember, Organisation
from yiwang.org import geo


class GridPathAdmin(admin.ModelAdmin):
    """Rows that copy their grid's path: keep the copy true whoever saves them."""

    def save_model(self, request, obj, form, change):
        obj.region_path = obj.grid.path
        super().save_model(request, obj, form, change)


@admin.register(Building)
class BuildingAdmin(GridPathAdmin):
    list_display = ("name", "grid", "kind", "floors", "address")
    list_filter = ("kind",)
    search_fields = ("name", "address", "grid__name", "grid__code")
    autocomplete_fields = ("grid",)


@admin.register(Organisation)
class OrganisationAdmin(GridPathAdmin):
    list_display = ("name", "grid", "kind", "contact", "phone")
    list_filter = ("kind",)
    search_fields = ("name", "contact", "grid__name", "grid__code")
    autocomplete_fields = ("grid",)


class MemberInline(admin.TabularInline):
    model = HouseholdMember
    extra = 0
    autocomplete_fields = ("resident",)


@admin.register(Household)
class HouseholdAdmin(GridPathAdmin):
    list_display = ("__str__", "grid", "head_name", "address")
    search_fields = ("number", "address", "head_name", "grid__name", "grid__code")
    autocomplete_fields = ("grid", "building")
    inlines = [MemberInline]


@admin.register(HouseholdMember)
class HouseholdMemberAdmin(admin.ModelAdmin):
    list_display = ("resident", "household", "relation")
    list_filter = ("relation",)
    search_fields = ("resident__name", "household__address", "household__number")
    autocomplete_fields = ("household", "resident")


@admin.register(GridAssignment)
class GridAssignmentAdmin(admin.ModelAdmin):
    list_display = ("user", "grid")
    search_fields = ("user__username", "grid__name", "grid__code")
    autocomplete_fields = ("grid",)


class CameraForm(forms.ModelForm):
    class Meta:
        model = Camera
        fields = ("code", "name", "lat", "lng", "owner_unit", "active")

    def clean(self):
        data = super().clean()
        if data.get("lat") is not None and data.get("lng") is not None:
            try:
                geo.check_point(data["lat"], data["lng"])
            except DomainError as exc:
                raise ValidationError({exc.field: exc.message}) from exc
        return data


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    form = CameraForm
    list_display = ("code", "name", "grid", "owner_unit", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    readonly_fields = ("grid",)

    def save_model(self, request, obj, form, change):
        # Placed by the same lookup as every located case, so the admin cannot put it in a wrong grid.
        services.camera_save(camera=obj)
