"""`yiwang token create USERNAME [--name N]` prints a new API token; `yiwang token revoke PREFIX`."""

from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError
from yiwang.org.services import token_create, token_revoke


class Command(BaseCommand):
    help = "Create or revoke API tokens for staff and integrations."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="print a new token for USERNAME")
        create.add_argument("username")
        create.add_argument("--name", default="")
        revoke = sub.add_parser("revoke", help="revoke the tokens starting with PREFIX")
        revoke.add_argument("prefix")

    def handle(self, *args, verb, **options):
        try:
            if verb == "create":
                self.stdout.write(token_create(username=options["username"], name=options["name"]))
            else:
                n = token_revoke(prefix=options["prefix"])
                if not n:
                    raise CommandError(f"no active token starts with {options['prefix']!r}")
                self.stdout.write(f"revoked {n} token(s)")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
