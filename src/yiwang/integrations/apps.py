from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "yiwang.integrations"
    label = "integrations"
    verbose_name = _("外部系统对接")

    def ready(self) -> None:
        from yiwang.cases.services.timeline import event_written
        from yiwang.integrations import hooks

        # In the event's transaction, not on commit: a delivery exists exactly when its event does.
        event_written.connect(hooks.on_event_written, dispatch_uid="integrations.on_event_written")
