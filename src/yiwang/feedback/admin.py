from django.contrib import admin

from yiwang.feedback.models import Evaluation


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("case", "rating", "channel", "handling_unit", "created_at")
    list_filter = ("rating", "channel")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
