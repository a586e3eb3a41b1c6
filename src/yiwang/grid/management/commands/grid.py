"""`yiwang grid …`: grid outlines in and out as GeoJSON, basic data in from CSV or Excel.

  yiwang grid import FILE.geojson
  yiwang grid export [--community CODE] [-o FILE]
  yiwang grid import-data --kind residents|buildings|organisations FILE [--skip-bad] [--as USER]

Run on the server, the command acts as the administrator unless --as names a staff member, whose
scope then limits which grids a data file may touch. A refused file exits non-zero.
"""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError
from yiwang.grid import selectors, services
from yiwang.grid.imports import KINDS
from yiwang.org.selectors import Viewer, viewer_for

ADMINISTRATOR = Viewer(user_id=None, username="yiwang grid", is_superuser=True)


class Command(BaseCommand):
    help = "Import and export grid outlines (GeoJSON) and import grid basic data (CSV, .xlsx)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        outlines = sub.add_parser("import", help="create or redraw grids from a GeoJSON FeatureCollection")
        outlines.add_argument("file")
        export = sub.add_parser("export", help="write grid outlines as a GeoJSON FeatureCollection")
        export.add_argument("--community", default=None, help="only this community's grids")
        export.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
        data = sub.add_parser("import-data", help="import residents/households, buildings or organisations")
        data.add_argument("--kind", required=True, choices=KINDS)
        data.add_argument("file")
        data.add_argument("--skip-bad", action="store_true", help="import the good rows, report the bad ones")
        data.add_argument("--as", dest="username", default=None, help="act as this staff member")

    def handle(self, *args, verb, **options):
        try:
            {"import": self.do_import, "export": self.do_export, "import-data": self.do_import_data}[verb](**options)
        except services.ImportRefused as exc:
            for error in exc.rows:
                self.stderr.write(f"  {error}")
            raise CommandError(exc.message) from exc
        except DomainError as exc:
            for name, messages in exc.errors.items():
                for message in messages:
                    self.stderr.write(f"  {name}: {message}")
            raise CommandError(exc.message) from exc

    def _read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc

    def do_import(self, file, **_):
        try:
            collection = json.loads(self._read(file).decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from exc
        report = services.grid_outlines_import(collection=collection)
        self.stdout.write(f"created {len(report.created)}, redrawn {len(report.updated)}, "
                          f"unchanged {len(report.unchanged)}")
        for code in report.created:
            self.stdout.write(f"  + {code}")
        for code in report.updated:
            self.stdout.write(f"  ~ {code}")

    def do_export(self, community, output, **_):
        text = json.dumps(selectors.grid_feature_collection(viewer=ADMINISTRATOR, community_code=community),
                          ensure_ascii=False, indent=1)
        if output == "-":
            self.stdout.write(text)
        else:
            Path(output).write_text(text + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {output}")

    def do_import_data(self, kind, file, skip_bad, username, **_):
        viewer = ADMINISTRATOR
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {username!r}")
            viewer = viewer_for(user)
        report = services.data_import(viewer=viewer, kind=kind, filename=file, data=self._read(file),
                                      skip_bad=skip_bad)
        self.stdout.write(f"{report.total} rows: created {report.created}, updated {report.updated}"
                          + (f", households created {report.households_created}" if kind == "residents" else ""))
        for error in report.errors:
            self.stderr.write(f"  {error}")
        if report.errors:
            raise CommandError(f"{report.refused} row(s) refused; the other rows were imported")
