import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yiwang.records import rollups, signing
from yiwang.records.checkpoints import body_digest, canonical, verify_document
from yiwang.records.models import Checkpoint
from yiwang.records.selectors import public_key_for
from yiwang.records.verification import verify


class Command(BaseCommand):
    help = ("Recompute every case's hash chain, every indicator from the timelines and every indicator "
            "tally from the rows it counts; exit 1 on any mismatch. With --checkpoint FILE, check the cases "
            "against a signed checkpoint instead (docs/checkpoints.md).")

    def add_arguments(self, parser):
        parser.add_argument(
            "--rollups-only", action="store_true",
            help="only compare the tallies with one GROUP BY over cases and ratings (seconds at ten million "
                 "cases, where the full check reads every event)")
        parser.add_argument(
            "--checkpoint", metavar="FILE",
            help="a checkpoint file (yiwang checkpoint --out, or /checkpoints/N.json): check its signature and "
                 "that every event it covers is still as it was signed, naming each case that changed")
        parser.add_argument(
            "--key", metavar="PUBFILE",
            help="with --checkpoint: the public key to check the signature with (PEM, or base64 of the raw "
                 "32 bytes as /api/v1/public/signing-key gives it); default the published key the checkpoint "
                 "names, also one rotated out since")

    def handle(self, *args, **options):
        if options["checkpoint"]:
            return self._checkpoint(options["checkpoint"], options["key"])
        if options["key"]:
            raise CommandError("--key goes with --checkpoint FILE")
        if options["rollups_only"]:
            problems = rollups.differences(limit=50)
            for p in problems:
                self.stderr.write("  " + p)
            if problems:
                raise CommandError(f"{len(problems)} tally mismatch(es) found")
            self.stdout.write("every tally equals its recomputation from the cases and ratings")
            return
        report = verify()
        self.stdout.write(f"checked {report.cases} cases and {report.events} events")
        if not report.ok:
            for p in report.problems:
                self.stderr.write("  " + p)
            raise CommandError(f"{len(report.problems)} problem(s) found")
        self.stdout.write("all hash chains intact; indicators and tallies equal their recomputation")

    def _checkpoint(self, path: str, key_path: str | None) -> None:
        doc = _read_json(path)
        if key_path:
            try:
                key = signing.load_public(Path(key_path).read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read {key_path}: {exc.strerror}") from None
            except ValueError as exc:
                raise CommandError(f"{key_path} is not an Ed25519 public key: {exc}") from None
        header = doc.get("checkpoint") if isinstance(doc, dict) else None
        number = header.get("number") if isinstance(header, dict) else None
        if not key_path:
            # The key the checkpoint names, among every key this installation published (also one
            # rotated out since): a checkpoint signed before a rotation still checks.
            named = str(header.get("key_id") or "") if isinstance(header, dict) else ""
            key = public_key_for(named) if named else signing.public_key()
            if key is None:
                raise CommandError(f"checkpoint {number} names signing key {named[:16]}…, which this installation "
                                   "never published (see /api/v1/public/signing-key): it was not signed here, or "
                                   "its key_id was changed")
        report = verify_document(doc, key)
        if report.ok and number is not None:
            # The installation's own copy must be the one that was handed out: a checkpoint re-signed
            # after a rewrite would carry the same number and another digest.
            mine = Checkpoint.objects.filter(number=number).values_list("digest", flat=True).first()
            if mine is not None and mine != body_digest(canonical(header).decode()):
                report.problems.append(f"this installation's checkpoint {number} differs from the file's: "
                                       "the published checkpoint was replaced")
            before = Checkpoint.objects.filter(number=number - 1).values_list("digest", flat=True).first()
            if before is not None and before != header.get("previous"):
                report.problems.append(f"the file's checkpoint does not chain to this installation's checkpoint "
                                       f"{number - 1}")
        self.stdout.write(f"checkpoint {number}: checked {report.cases} cases and {report.events} events")
        if not report.ok:
            for p in report.problems[:200]:
                self.stderr.write("  " + p)
            raise CommandError(f"{len(report.problems)} problem(s) found against checkpoint {number}")
        self.stdout.write("signature valid; every event the checkpoint covers is as it was signed")


def _read_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} is not a checkpoint file")
    return data
