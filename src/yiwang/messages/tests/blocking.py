"""SMS backends for the tests, named by dotted path in YIWANG_SMS_BACKEND (also in a worker subprocess)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from yiwang.messages.channels import FileSms, PermanentError, RetryableError


class StuckFileSms(FileSms):
    """The file channel, hanging once mid-send on a message whose text says where: "[stuck-before]"
    before the line is written (the provider never got it), "[stuck-after]" after it (the provider took
    it, the worker never heard). It touches $YIWANG_TEST_STUCK so the test knows it is hanging there;
    once that file exists it hangs no more, so the worker that takes over gets through."""

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        marker = Path(os.environ["YIWANG_TEST_STUCK"])
        if "[stuck-before]" in text and not marker.exists():
            self._hang(marker)
        sent = super().send(to, text, idempotency_id=idempotency_id)
        if "[stuck-after]" in text and not marker.exists():
            self._hang(marker)
        return sent

    @staticmethod
    def _hang(marker: Path) -> None:
        marker.touch()
        time.sleep(600)  # until the test kills the process


class FlakySms:
    """Refuses everything: retryably, or for good when the text says "[permanent]"."""

    idempotent = False
    calls: list[str] = []

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        FlakySms.calls.append(idempotency_id)
        if "[permanent]" in text:
            raise PermanentError("invalid number")
        raise RetryableError("provider busy")


class SlowFileSms(FileSms):
    """The file channel taking 20 ms a message, so that workers side by side interleave."""

    def send(self, to: str, text: str, *, idempotency_id: str) -> str:
        time.sleep(0.02)
        return super().send(to, text, idempotency_id=idempotency_id)
