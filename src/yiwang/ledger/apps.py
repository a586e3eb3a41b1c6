from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "yiwang.ledger"
    label = "ledger"
    verbose_name = _("调研与整改台账")
