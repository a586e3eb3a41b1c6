"""SMS through a provider: Alibaba Cloud or Tencent Cloud, chosen by YIWANG_SMS_PROVIDER.

Each adapter is a class with ``send(to, text, *, idempotency_id) -> str`` (the provider's message
id) that raises errors.RetryableSendError or errors.PermanentSendError. With no provider configured
there is no adapter here, and the caller sends SMS to the file channel under var/ (docs/sms.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from ._common import setting
from .errors import PermanentSendError, RetryableSendError

if TYPE_CHECKING:
    from .aliyun import AliyunSms
    from .tencent import TencentSms

__all__ = ["PermanentSendError", "RetryableSendError", "sms_backend_from_settings"]

PROVIDERS = ("aliyun", "tencent")


def sms_backend_from_settings() -> AliyunSms | TencentSms | None:
    """The adapter YIWANG_SMS_PROVIDER names, built from its settings; None when it is empty.

    An unknown provider or a missing setting raises ImproperlyConfigured: an installation that asked
    for a provider must not fall back to a file silently.
    """
    provider = setting("YIWANG_SMS_PROVIDER").strip().lower()
    if not provider:
        return None
    # Imported here: each SDK is a few hundred milliseconds to import, and the demo needs neither.
    if provider == "aliyun":
        from .aliyun import AliyunSms

        return AliyunSms()
    if provider == "tencent":
        from .tencent import TencentSms

        return TencentSms()
    raise ImproperlyConfigured(f"YIWANG_SMS_PROVIDER is {provider!r}: use one of {', '.join(PROVIDERS)} or leave it empty")
