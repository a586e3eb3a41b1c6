"""`yiwang open311-key NAME [--user USERNAME | --unit UNIT_CODE]` prints a new Open311 api_key.

  yiwang open311-key wechat-app                 # an account is made for the key (网格员 at the top command centre)
  yiwang open311-key kg-app --unit KG-CC        # … at a given unit
  yiwang open311-key wang-phone --user resident_wang   # reports as an existing resident or staff member
  yiwang open311-key wechat-app --revoke        # revoke the live key of that name (or prefix)
  yiwang open311-key --list

The file name has a hyphen so the command reads as documented; Django finds commands by file name
and imports them by that name, which works although no `import` statement could spell it.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from yiwang.core.errors import DomainError
from yiwang.open311 import selectors, services


class Command(BaseCommand):
    help = "Issue (print once), revoke or list Open311 GeoReport v2 api_keys."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="a name for the key, e.g. the client app")
        parser.add_argument("--user", dest="username", help="report as this existing staff member or resident")
        parser.add_argument("--unit", dest="unit_code", help="unit of the account made for the key")
        parser.add_argument("--revoke", action="store_true", help="revoke the live key NAME (or with prefix NAME)")
        parser.add_argument("--list", dest="list_keys", action="store_true", help="list keys")

    def handle(self, *args, name, username, unit_code, revoke, list_keys, **options):
        if list_keys:
            for key in selectors.api_key_list():
                state = f"revoked {timezone.localtime(key.revoked_at):%Y-%m-%d}" if key.revoked_at else "active"
                self.stdout.write(f"{key.prefix}…  {key.name}  {key.user.username}  {state}")
            return
        if not name:
            raise CommandError("give the key a NAME (or use --list)")
        try:
            if revoke:
                if not services.api_key_revoke(name=name):
                    raise CommandError(f"no live key named {name!r}")
                self.stdout.write(f"revoked {name}")
                return
            api_key, key = services.api_key_create(name=name, username=username, unit_code=unit_code)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(f"api_key for {api_key.name}, reporting as {api_key.user.username} (shown once):")
        self.stdout.write(key)
