"""`yiwang webhooks …`: an administrator's hands on outbound webhooks (docs/integrations.md).

  yiwang webhooks add NAME URL [--action submit --action close …] [--region CODE] [--secret S]
  yiwang webhooks list [--deliveries] [--subscription NAME] [--status S] [--limit N]
  yiwang webhooks replay DELIVERY_ID …            # send these again, under the same ids
  yiwang webhooks replay --subscription NAME [--since 2026-12-01T00:00] [--status dead]
  yiwang webhooks disable NAME | enable NAME
  yiwang webhooks deliver                          # what `yiwang worker` does every few seconds
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from yiwang.core.errors import DomainError
from yiwang.integrations import selectors, services
from yiwang.integrations.models import DeliveryStatus


def _fmt(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


class Command(BaseCommand):
    help = "Subscribe endpoints to case events, list subscriptions and deliveries, replay deliveries."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        p = sub.add_parser("add", help="subscribe URL; prints the signing secret once")
        p.add_argument("name")
        p.add_argument("url")
        p.add_argument("--action", dest="actions", action="append", default=[],
                       help="an action name (submit, dispatch, close, …); repeat; none: all")
        p.add_argument("--region", dest="region_code", default=None, help="a region code: it and below")
        p.add_argument("--secret", default=None, help="use this secret instead of a generated one")
        p = sub.add_parser("list", help="subscriptions, or with --deliveries the newest deliveries")
        p.add_argument("--deliveries", action="store_true")
        p.add_argument("--subscription", default=None)
        p.add_argument("--status", choices=DeliveryStatus.values, default=None)
        p.add_argument("--limit", type=int, default=50)
        p = sub.add_parser("replay", help="queue deliveries again under their own ids")
        p.add_argument("ids", nargs="*")
        p.add_argument("--subscription", default=None)
        p.add_argument("--since", default=None, help="ISO date-time: deliveries created since")
        p.add_argument("--status", choices=DeliveryStatus.values, default=None)
        for name in ("disable", "enable"):
            sub.add_parser(name).add_argument("name")
        sub.add_parser("deliver", help="send what is due now")

    def handle(self, *args, verb, **options):
        try:
            getattr(self, "do_" + verb)(**options)
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else str(exc.message)) from None

    def do_add(self, name, url, actions, region_code, secret, **_):
        sub = services.subscription_add(name=name, url=url, actions=actions, region_code=region_code, secret=secret)
        self.stdout.write(f"subscribed {sub.name} → {sub.url}")
        self.stdout.write(f"secret (shown once, give it to the receiver): {sub.secret}")

    def do_list(self, deliveries, subscription, status, limit, **_):
        if deliveries:
            for d in selectors.delivery_list(subscription=subscription, status=status, limit=max(limit, 1)):
                self.stdout.write(f"{d.delivery_id}  {d.subscription.name}  case {d.case_id}#{d.seq} {d.action}  "
                                  f"{d.status}  attempts {d.attempts}  next {_fmt(d.next_attempt_at)}  "
                                  f"{d.last_error}".rstrip())
            return
        rows = selectors.subscription_list()
        if not rows:
            self.stdout.write("no subscriptions")
        for s in rows:
            scope = s.region.code if s.region_id else "all regions"
            self.stdout.write(f"{s.name}  {s.url}  {','.join(s.actions) or 'all actions'}  {scope}  "
                              f"{'active' if s.active else 'disabled'}")

    def do_replay(self, ids, subscription, since, status, **_):
        moment = None
        if since:
            moment = parse_datetime(since)
            if moment is None:
                raise CommandError("--since: an ISO date-time, e.g. 2026-12-01T00:00")
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
        n = services.replay(delivery_ids=ids, subscription=subscription, since=moment, status=status)
        self.stdout.write(f"{n} queued again")

    def do_disable(self, name, **_):
        services.subscription_set_active(name=name, active=False)
        self.stdout.write(f"{name} disabled")

    def do_enable(self, name, **_):
        services.subscription_set_active(name=name, active=True)
        self.stdout.write(f"{name} enabled")

    def do_deliver(self, **_):
        c = services.deliver_due(batch=10_000)
        self.stdout.write(f"webhooks: {c['delivered']} delivered, {c['failed']} failed, {c['dead']} given up")
