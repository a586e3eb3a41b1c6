"""`yiwang demo [--force | --keep-existing] [--cases N] [--seed S]`: load the Xixian demo (docs/demo.md)."""

import unicodedata

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from yiwang.demo import data
from yiwang.demo.loader import KEY_LOGINS, database_has_data, load, wipe


class Command(BaseCommand):
    help = ("Load the Xixian demo — regions, units, staff, residents, the matter catalogue and a year and a "
            "half of cases — into an empty database, and print the demo logins.")

    def add_arguments(self, parser):
        existing = parser.add_mutually_exclusive_group()
        existing.add_argument("--force", action="store_true",
                              help="empty a database that already holds data (keeps the working-day calendar) "
                                   "and load the demo afresh")
        existing.add_argument("--keep-existing", action="store_true",
                              help="if the database already holds data, leave it alone and exit successfully")
        parser.add_argument("--cases", type=int, default=3000, help="historical cases to generate (default 3000)")
        parser.add_argument("--seed", type=int, default=2019, help="random seed, for a reproducible demo")
        parser.add_argument("--no-apps", action="store_true",
                            help="only regions, staff, catalogue and case history: no grid data, patrols, "
                                 "ledgers, party groups, parking or Open311 reports")

    def handle(self, *args, force: bool, keep_existing: bool, cases: int, seed: int, no_apps: bool, **options):
        if cases < 0:
            raise CommandError("--cases must be zero or more.")
        erase = False
        if database_has_data():
            if keep_existing:
                self.stdout.write("the database already holds data; reusing it")
                return
            if not force:
                raise CommandError(
                    "the database already holds data (regions exist), so the demo was not loaded. "
                    "Run `yiwang demo --force` to erase it and load the demo, or `yiwang demo --keep-existing` "
                    "to keep it."
                )
            erase = True
        # One transaction: if loading fails, an erased database comes back as it was.
        with transaction.atomic():
            if erase:
                self.stdout.write("erasing the existing data (the working-day calendar is kept)…")
                wipe()
            self.stdout.write(f"loading the Xixian demo with {cases} historical cases (seed {seed})…")
            loaded = load(cases=cases, seed=seed, log=self.stdout.write, apps=() if no_apps else None)
        self.stdout.write(self.style.SUCCESS(f"loaded in {loaded.seconds:.1f} s: {loaded.cases} cases"))
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(loaded.outcomes.items()))
        self.stdout.write(f"  {outcomes}")
        self.stdout.write("")
        self.stdout.write("Demo logins (the full list and the naming pattern are in docs/demo.md):")
        for login in loaded.logins(KEY_LOGINS):
            self.stdout.write(f"  {login.username:<16} {_pad(login.role, 22)} {login.unit}")
        self.stdout.write(f"  … and {len(loaded.users) - len(KEY_LOGINS)} more: <place>_clerk / _handler for every "
                          "service hall, <city>_operator, <town>_enforcer / _police / _sanitation, <village>_secretary, "
                          "<community>_grid")
        self.stdout.write(f"Password for every demo account: {data.DEMO_PASSWORD}")
        self.stdout.write("")
        self.stdout.write(f"API token for {data.ADMIN_USERNAME}: {loaded.token}")
        self.stdout.write(f'  curl -H "Authorization: Bearer {loaded.token}" http://127.0.0.1:8000/api/v1/indicators')
        open311 = loaded.extras.get("open311") or {}
        if open311.get("api_key"):
            self.stdout.write(f"Open311 api_key ({'xixian-suishoupai'}): {open311['api_key']}")
            self.stdout.write("  curl http://127.0.0.1:8000/open311/v2/services.json")


def _pad(text: str, width: int) -> str:
    """Pad to ``width`` terminal columns; Chinese characters take two."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)
