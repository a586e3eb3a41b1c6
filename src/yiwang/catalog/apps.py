from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogueConfig(AppConfig):
    name = "yiwang.catalog"
    label = "catalog"
    verbose_name = _("事项目录")
