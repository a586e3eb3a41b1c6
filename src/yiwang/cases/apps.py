from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "yiwang.cases"
    label = "cases"
    verbose_name = _("案件")

    def ready(self) -> None:
        from yiwang.org.services import resident_changed

        resident_changed.connect(_resident_changed, dispatch_uid="cases.auto_rules")


def _resident_changed(sender, resident_id: int, **kwargs) -> None:
    """A resident's data changed: the 免申即享 rules look at that resident now, not tomorrow."""
    import logging

    from yiwang.cases.tasks import apply_auto_rules

    try:
        apply_auto_rules(resident_ids=[resident_id])
    except Exception:  # the resident's change is committed; the daily sweep will try again
        logging.getLogger("yiwang.auto").exception("auto rules failed for resident %s", resident_id)
