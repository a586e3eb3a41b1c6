"""`yiwang restore PATH [--force] [--check] [--trust-unsigned]`: check a backup, put it back, and verify
every hash chain."""

from django.core.management.base import BaseCommand, CommandError

from yiwang.core.backup import BackupError, backup_check, backup_restore
from yiwang.records.verification import verify


class Command(BaseCommand):
    # Not held up by a failing system check: a backup must still run, and a restore is for when
    # something is broken.
    requires_system_checks: list = []
    help = ("Restore a `yiwang backup` archive into the configured database and MEDIA_ROOT, after checking "
            "its signature, manifest and checksums; then verify every hash chain. Stop the server first.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="an archive written by `yiwang backup`")
        parser.add_argument("--force", action="store_true",
                            help="replace a database that already holds data")
        parser.add_argument("--check", action="store_true",
                            help="only check the archive (signature, manifest and every checksum); change nothing")
        parser.add_argument("--trust-unsigned", action="store_true",
                            help="accept an archive this installation did not sign (another installation's, one "
                                 "made under an earlier secret key, or one of yiwang 0.1): only when you know "
                                 "where it comes from")

    def handle(self, *args, path, force, check, trust_unsigned, **options):
        try:
            if check:
                backup_check(path=path, trust_unsigned=trust_unsigned, say=self.stdout.write)
                self.stdout.write("archive: every checksum matches the manifest")
                return
            backup_restore(path=path, force=force, trust_unsigned=trust_unsigned, say=self.stdout.write)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        report = verify()
        self.stdout.write(f"verify: checked {report.cases} cases and {report.events} events")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write("  " + problem)
            raise CommandError(f"the restored database fails verification: {len(report.problems)} problem(s)")
        self.stdout.write("verify: all hash chains intact; indicators equal their recomputation from the timelines")
