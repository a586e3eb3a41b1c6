import asyncio
import email
import email.policy
import socket
import threading

import pytest


class Recorder:
    """An aiosmtpd handler keeping every message it accepted. A message whose body holds "[hold]"
    is kept but not answered until ``release`` is set: the client hangs mid-send, after DATA."""

    def __init__(self):
        self.received: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(message)
        if "[hold]" in message.get_content():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd), on a free port: .port, .handler.received."""
    from aiosmtpd.controller import Controller

    controller = Controller(Recorder(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.handler.release.set()
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Django's SMTP backend pointed at the loopback server (pytest-django swaps in locmem otherwise)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_server
