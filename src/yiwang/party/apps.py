from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartyConfig(AppConfig):
    name = "yiwang.party"
    label = "party"
    verbose_name = _("党建与帮扶")

    def ready(self) -> None:
        from yiwang.cases import panels
        from yiwang.party.panels import assistance_panel

        panels.register("assistance", assistance_panel)
