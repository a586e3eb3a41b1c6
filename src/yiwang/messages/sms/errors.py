"""The two ways an SMS provider adapter fails: worth trying again later, or never worth it.

They derive from the message channels' own RetryableError/PermanentError when that module is there,
so the delivery worker (yiwang.messages), which treats any exception it does not know as retryable,
files a provider's refusal as permanent without knowing these names. The import falls back to plain
Exception if channels.py is absent or is itself importing this module (a cycle), so that either side
may import the other's names.
"""

from __future__ import annotations

try:
    from yiwang.messages.channels import PermanentError as _PermanentBase
    from yiwang.messages.channels import RetryableError as _RetryableBase
except ImportError:  # pragma: no cover - depends on the other module's state
    _PermanentBase = _RetryableBase = Exception  # type: ignore[misc,assignment]


class RetryableSendError(_RetryableBase):
    """Try again later: the network, throttling or a flow-control limit, the provider's 5xx."""


class PermanentSendError(_PermanentBase):
    """Never: a bad number, an unapproved template or signature, refused credentials."""
