"""`yiwang backup [PATH]`: the database and the uploaded files in one checked archive, while the server runs."""

from django.core.management.base import BaseCommand, CommandError

from yiwang.core.backup import BackupError, backup_create


class Command(BaseCommand):
    # Not held up by a failing system check: a backup must still run, and a restore is for when
    # something is broken.
    requires_system_checks: list = []
    help = ("Back up the database (SQLite: an online copy; PostgreSQL: pg_dump -Fc) and the uploaded files "
            "into one tar with a manifest of checksums. Safe while the server runs.")

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="the archive to write, or a directory to write it in "
                            "(default: var/backups/yiwang-<date>-<time>.tar)")
        parser.add_argument("--force", action="store_true", help="replace PATH if it exists")

    def handle(self, *args, path, force, **options):
        try:
            backup_create(path=path, force=force, say=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
