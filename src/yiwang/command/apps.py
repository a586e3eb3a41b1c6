from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommandConfig(AppConfig):
    name = "yiwang.command"
    label = "command"
    verbose_name = _("综合执法指挥")

    def ready(self) -> None:
        from yiwang.cases import panels
        from yiwang.cases.models import Kind
        from yiwang.cases.services import case_opened
        from yiwang.cases.services.intake import announce_opened
        from yiwang.command.panels import incident_panel
        from yiwang.command.services import on_case_opened

        # 智能派单 reacts to every new report without cases knowing about it (see case_opened).
        # Sent by the worker, not in the reporter's request: duplicates and dispatch can wait a second.
        case_opened.connect(on_case_opened, dispatch_uid="command.smart_dispatch")
        announce_opened(Kind.INCIDENT)
        panels.register("incident", incident_panel)
