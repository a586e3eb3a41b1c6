"""`yiwang district load DIR [--check] | show`: set up the district from files, or print who it is."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yiwang.org.district import identity, map_centre
from yiwang.records.district import DistrictFilesInvalid, district_load


class Command(BaseCommand):
    help = "The district this installation serves: load it from files (docs/operations.md), or show it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        load = sub.add_parser("load", help="regions, units, staff and matters from DIR, checked whole first")
        load.add_argument("directory", type=Path)
        load.add_argument("--check", action="store_true", help="check and report; write nothing")
        sub.add_parser("show", help="print the district's name, map and signature as pages use them")

    def handle(self, *args, verb, **options):
        getattr(self, "do_" + verb)(**options)

    def do_load(self, directory: Path, check: bool, **_):
        try:
            loaded = district_load(directory, dry_run=check)
        except DistrictFilesInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(f"{len(exc.problems)} problem(s) in {directory}; nothing was written") from None
        for line in loaded.lines():
            self.stdout.write(f"  {line}")
        self.stdout.write("checked; nothing was written (--check)" if check else f"loaded {directory}")

    def do_show(self, **_):
        district = identity()
        self.stdout.write(f"name:            {district.name or '(none: pages read 一网通办)'}")
        self.stdout.write(f"short name:      {district.short_name}")
        self.stdout.write(f"map centre:      {map_centre()}")
        self.stdout.write(f"map bounds:      {list(district.bounds) if district.bounds else ''}")
        self.stdout.write(f"logo:            {'yes' if district.logo else 'no'}")
        self.stdout.write(f"SMS signature:   {district.sms_signature}")
        self.stdout.write(f"Open311 contact: {district.open311_contact()}")
