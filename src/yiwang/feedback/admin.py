from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from yiwang.core.idnumber import mask_text
from yiwang.feedback.models import Evaluation


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("case", "rating", "channel", "handling_unit", "created_at")
    list_filter = ("rating", "channel")
    # A comment is typed by the resident: an ID number in it shows masked (core.idnumber).
    exclude = ("comment",)
    readonly_fields = ("comment_masked",)

    @admin.display(description=_("评价意见"))
    def comment_masked(self, obj):
        return mask_text(obj.comment, phones=False)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
