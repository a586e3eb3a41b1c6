from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    """The custody of the case records as a whole: bulk import of a legacy system's history, backup
    and restore, and `yiwang verify` of every hash chain. Statistics only read the records."""

    name = "yiwang.records"
    label = "records"
    verbose_name = _("记录")  # an existing catalogue entry ("Record"), so no locale file changes
