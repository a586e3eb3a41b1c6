from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from yiwang.core.idnumber import mask_text
from yiwang.patrol.models import Finding, PatrolLog, PatrolTeam, PatrolWindow, Shift, ShiftMember, TeamMember


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    raw_id_fields = ("user",)


class PatrolWindowInline(admin.TabularInline):
    model = PatrolWindow
    extra = 0


@admin.register(PatrolTeam)
class PatrolTeamAdmin(admin.ModelAdmin):
    list_display = ("name", "unit", "region", "team_size", "active")
    list_filter = ("active",)
    search_fields = ("name", "unit__name", "region__name")
    raw_id_fields = ("unit", "region")
    inlines = [TeamMemberInline, PatrolWindowInline]

    def save_model(self, request, obj, form, change):
        # The copied path is what scoping reads; keep it equal to the region's whatever an admin edits.
        obj.region_path = obj.region.path
        super().save_model(request, obj, form, change)


@admin.register(PatrolWindow)
class PatrolWindowAdmin(admin.ModelAdmin):
    list_display = ("team", "earliest_start", "latest_start", "duration_minutes", "weekdays")


@admin.register(TeamMember)
class TeamMemberAdmin(admin.ModelAdmin):
    list_display = ("team", "user", "active")
    list_filter = ("active", "team")
    raw_id_fields = ("user",)


class ShiftMemberInline(admin.TabularInline):
    model = ShiftMember
    extra = 0
    fields = ("user", "night")
    readonly_fields = ("user", "night")
    can_delete = False


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    # Shifts are drawn by the scheduler (`yiwang patrol schedule` or the team page), not typed in.
    list_display = ("team", "night", "starts_at", "ends_at", "state", "seed")
    list_filter = ("state", "team")
    date_hierarchy = "night"
    readonly_fields = ("team", "window", "night", "starts_at", "ends_at", "generated_by", "seed", "created_at",
                       "region_path")
    inlines = [ShiftMemberInline]

    def has_add_permission(self, request):
        return False


@admin.register(PatrolLog)
class PatrolLogAdmin(admin.ModelAdmin):
    list_display = ("user", "shift", "started_at", "ended_at", "region")
    list_filter = ("shift__team",)
    readonly_fields = ("shift", "user", "started_at", "ended_at", "track", "region", "region_path")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ("category", "description_masked", "reported_by", "created_at", "case")
    list_filter = ("category",)
    # ID numbers typed into a finding show masked here as on every page (core.idnumber).
    exclude = ("description",)
    readonly_fields = ("log", "reported_by", "description_masked", "lat", "lng", "category", "photo", "case",
                       "created_at", "region_path")

    @admin.display(description=_("描述"))
    def description_masked(self, obj):
        return mask_text(obj.description, phones=False)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
