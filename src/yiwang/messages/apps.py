from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagesConfig(AppConfig):
    name = "yiwang.messages"
    # Not "messages": django.contrib.messages (the pages' flash messages) already holds that label.
    label = "messaging"
    verbose_name = _("消息")
