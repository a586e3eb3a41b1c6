"""`yiwang messages …`: what the outbox sent, and the operator's hands on it (docs/messages.md).

  yiwang messages list [--to PHONE_OR_EMAIL] [--status S] [--limit N] [--json]
  yiwang messages deliver [--loop] [--interval SECONDS]
  yiwang messages resend ID       # an unknown/dead/failed message, after checking it did not arrive
  yiwang messages confirm ID      # an unknown message that did arrive
"""

import json
import threading

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yiwang.messages import selectors, services
from yiwang.messages.models import Message, Status
from yiwang.messages.tasks import delivery_loop


def _fmt(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _row(m: Message) -> dict:
    return {"id": m.pk, "to": m.to, "channel": m.channel, "subject": m.subject, "text": m.text,
            "time": timezone.localtime(m.sent_at or m.created_at).isoformat(timespec="seconds"),
            "status": m.status, "created_at": timezone.localtime(m.created_at).isoformat(timespec="seconds"),
            "sent_at": timezone.localtime(m.sent_at).isoformat(timespec="seconds") if m.sent_at else None,
            "attempts": m.attempts, "last_error": m.last_error, "provider_id": m.provider_id,
            "segments": m.segments}


class Command(BaseCommand):
    help = "List the messages sent (SMS, e-mail, in-app), deliver what is due, resend or confirm one."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        p = sub.add_parser("list", help="the newest messages first")
        p.add_argument("--to", default=None, help="only those to this phone number or e-mail address")
        p.add_argument("--status", choices=Status.values, default=None)
        p.add_argument("--limit", type=int, default=50)
        p.add_argument("--json", action="store_true", help="one JSON array, for scripts")
        p = sub.add_parser("deliver", help="deliver what is due now (what `yiwang worker` does every second)")
        p.add_argument("--loop", action="store_true", help="keep delivering until interrupted")
        p.add_argument("--interval", type=float, default=1.0)
        for name in ("resend", "confirm"):
            sub.add_parser(name).add_argument("id", type=int)

    def handle(self, *args, verb, **options):
        getattr(self, "do_" + verb)(**options)

    def do_list(self, to, status, limit, json, **_):
        rows = selectors.message_list(to=to, status=status, limit=max(limit, 1))
        if json:
            self.stdout.write(_dumps([_row(m) for m in rows]))
            return
        if not rows:
            self.stdout.write("no messages")
        for m in rows:
            text = " ".join((f"{m.subject}: {m.text}" if m.subject else m.text).split())  # one line each
            self.stdout.write(f"{m.pk:>6}  {_fmt(m.sent_at or m.created_at)}  {m.status:<8} {m.channel:<6} {m.to}  {text}")

    def do_deliver(self, loop, interval, **_):
        if loop:
            stop = threading.Event()
            try:
                delivery_loop(stop, interval=interval)
            except KeyboardInterrupt:
                stop.set()
            return
        counts = services.deliver_due(batch=10_000)
        self.stdout.write(f"messages: {counts['sent']} sent, {counts['failed']} failed, {counts['dead']} given up, "
                          f"{counts['unknown']} unknown")

    def do_resend(self, id, **_):
        self._settle(services.resend, id)

    def do_confirm(self, id, **_):
        self._settle(services.confirm_sent, id)

    def _settle(self, service, message_id: int) -> None:
        try:
            m = service(message_id=message_id)
        except Message.DoesNotExist:
            raise CommandError(f"no message {message_id}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{m.pk}  {m.status}  {m.channel}  {m.to}")


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
