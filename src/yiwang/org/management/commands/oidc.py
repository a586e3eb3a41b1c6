"""`yiwang oidc link USERNAME --sub SUB [--issuer URL]` lets an account log in through 统一身份认证 as the
provider's subject; `yiwang oidc unlink USERNAME --sub SUB [--issuer URL]`; `yiwang oidc list [USERNAME]`.

How a staff account is connected to the province's identity: a claim of an ID number never opens a
staff account (org/oidc.py), only a link an administrator made. The issuer defaults to
YIWANG_OIDC_ISSUER.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError
from yiwang.core.text import holds_control_character
from yiwang.org import oidc


class Command(BaseCommand):
    help = "Link accounts to subjects of the OpenID Connect provider (统一身份认证), unlink them, list them."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        for verb, text in (("link", "let USERNAME log in as the provider's subject SUB"),
                           ("unlink", "stop SUB from logging in as USERNAME")):
            command = sub.add_parser(verb, help=text)
            command.add_argument("username")
            command.add_argument("--sub", required=True, help="the provider's stable subject identifier (sub)")
            command.add_argument("--issuer", default=None, help="the provider's issuer URL (default: YIWANG_OIDC_ISSUER)")
        listing = sub.add_parser("list", help="every link, or USERNAME's")
        listing.add_argument("username", nargs="?")

    def handle(self, *args, verb, **options):
        try:
            user = self._user(options["username"]) if options.get("username") else None
            if verb == "link":
                link = oidc.link_create(user=user, subject=options["sub"], issuer_url=options["issuer"])
                self.stdout.write(f"linked {user.get_username()} to {link.subject} at {link.issuer}")
            elif verb == "unlink":
                oidc.link_delete(user=user, subject=options["sub"], issuer_url=options["issuer"])
                self.stdout.write(f"unlinked {user.get_username()} from {options['sub']}")
            else:
                for link in oidc.links(user=user):
                    last = link.last_login_at.isoformat(timespec="seconds") if link.last_login_at else "-"
                    # A subject a provider chose may hold anything: never a terminal's escape sequence.
                    subject = repr(link.subject) if holds_control_character(link.subject) else link.subject
                    self.stdout.write(f"{link.user.get_username()}\t{link.issuer}\t{subject}\t{last}")
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @staticmethod
    def _user(username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        return user
