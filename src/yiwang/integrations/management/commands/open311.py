"""`yiwang open311 …`: the Open311 client's forwarding of cases to other servers (docs/integrations.md).

  yiwang open311 forward        # POST the cases waiting to be forwarded
  yiwang open311 pull [--all]   # read the status and notes of forwarded cases (--all: not only those due)
  yiwang open311 list           # the forwarded cases, newest first

Rules (server, api_key, service codes, region) are set in the admin (Open311 转发规则).
"""

from django.core.management.base import BaseCommand

from yiwang.integrations import forwarding, selectors


class Command(BaseCommand):
    help = "Forward cases to other Open311 servers and pull back their status and notes."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("forward")
        sub.add_parser("pull").add_argument("--all", dest="force", action="store_true")
        sub.add_parser("list").add_argument("--limit", type=int, default=50)

    def handle(self, *args, verb, **options):
        if verb == "forward":
            c = forwarding.forward_due()
            self.stdout.write(f"open311: {c['forwarded']} forwarded, {c['failed']} failed, {c['dead']} given up")
        elif verb == "pull":
            c = forwarding.pull_due(force=options["force"])
            self.stdout.write(f"open311: {c['updated']} updated, {c['closed']} closed, {c['unchanged']} unchanged, "
                              f"{c['failed']} failed")
        else:
            for row in selectors.forwarded_list(limit=max(options["limit"], 1)):
                self.stdout.write(f"{row.case.number}  {row.rule.name}  {row.status}  {row.service_request_id or '-'}  "
                                  f"{row.remote_status or '-'}  {row.last_error}".rstrip())
