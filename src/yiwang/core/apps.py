from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "yiwang.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        from yiwang.core import checks  # noqa: F401 - registers them
