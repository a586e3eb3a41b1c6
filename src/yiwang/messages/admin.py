from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from yiwang.core import idnumber
from yiwang.core.admin import ReadOnlyAdmin
from yiwang.messages import texts
from yiwang.messages.models import ChannelPreference, Message, MessageTemplate


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """Read only: a message changes through the worker and `yiwang messages resend|confirm`, whose
    rules (never send an unknown one twice) an edit here would bypass."""

    list_display = ("created_at", "channel", "to", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    search_fields = ("to", "dedupe_key")
    date_hierarchy = "created_at"


class MessageTemplateForm(forms.ModelForm):
    event = forms.ChoiceField(label=_("事件"), choices=texts.event_choices)
    language = forms.ChoiceField(label=_("语言"), choices=settings.LANGUAGES, initial="zh-hans")

    class Meta:
        model = MessageTemplate
        fields = ["event", "matter", "language", "channel", "text", "active"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        variables = format_html_join(mark_safe("<br>"), "{{{}}}：{}", ((k, v) for k, v in texts.VARIABLES.items()))
        self.fields["text"].help_text = format_html(
            "{}<br>{}", _("用花括号写变量，只能用下面这些；要写花括号本身请写成 {{ 或 }}。短信每条 70 字（含签名），"
                          "超过按 67 字一条计费。"), variables)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    """The texts residents are sent, per event and optionally per matter (docs/messages.md). A template
    that names an unknown variable or would not render is refused with a message on its field."""

    form = MessageTemplateForm
    list_display = ("event_label", "matter", "language", "channel", "active", "sms_segments", "updated_at")
    list_filter = ("event", "language", "channel", "active")
    search_fields = ("text", "matter__name", "matter__code")
    autocomplete_fields = ("matter",)
    readonly_fields = ("default_text", "preview")
    fields = ("event", "matter", "language", "channel", "text", "active", "default_text", "preview")

    @admin.display(description=_("事件"), ordering="event")
    def event_label(self, obj: MessageTemplate) -> str:
        label = texts.DEFAULTS.get(obj.event, (obj.event, ""))[0]
        return f"{label}（{obj.event}）"

    @admin.display(description=_("内置默认内容"))
    def default_text(self, obj: MessageTemplate) -> str:
        return str(texts.DEFAULTS[obj.event][1]) if obj and obj.event in texts.DEFAULTS else "—"

    @admin.display(description=_("示例"))
    def preview(self, obj: MessageTemplate) -> str:
        if not obj or not obj.pk:
            return "—"
        try:
            text = texts.fill(obj.text, texts.SAMPLE)
        except (KeyError, ValueError, IndexError):
            return "—"
        return _("%(sign)s%(text)s（短信 %(n)s 条）") % {"sign": texts.signature(), "text": text,
                                                   "n": texts.segments(text)}

    @admin.display(description=_("短信条数（示例）"))
    def sms_segments(self, obj: MessageTemplate) -> int | str:
        try:
            return texts.segments(texts.fill(obj.text, texts.SAMPLE))
        except (KeyError, ValueError, IndexError):
            return "—"


@admin.register(ChannelPreference)
class ChannelPreferenceAdmin(admin.ModelAdmin):
    """Who asked for SMS or e-mail and where to (why someone got no SMS: no number, or the kind not
    ticked). Read only: each staff member sets their own at /work/preferences/, which checks the
    number and the address; an edit here would bypass that."""

    list_display = ("user", "masked_phone", "email", "channels", "updated_at")
    search_fields = ("user__username", "phone", "email")

    @admin.display(description=_("手机号"))
    def masked_phone(self, obj: ChannelPreference) -> str:
        return idnumber.mask_phone(obj.phone) if obj.phone else ""

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
