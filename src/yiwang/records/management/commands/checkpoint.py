from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yiwang.core.errors import DomainError
from yiwang.records import checkpoints
from yiwang.records.selectors import checkpoint_document
from yiwang.records.services import checkpoint_create, signing_key_rotate


class Command(BaseCommand):
    help = ("Sign the current state of every case's hash chain and of the tallies with the installation's "
            "Ed25519 key (docs/checkpoints.md); --out writes the signed file for an outside archive.")

    def add_arguments(self, parser):
        parser.add_argument("--out", help="write the signed checkpoint file (canonical JSON) here; - for stdout")
        parser.add_argument("--daily", action="store_true",
                            help="the worker's run: do nothing when today's checkpoint exists already")
        parser.add_argument("--rotate-key", action="store_true",
                            help="retire the signing key and make a new one (the old one signs the new one's "
                                 "public key and stays published), then sign a checkpoint with the new key")

    def handle(self, *args, out=None, daily=False, rotate_key=False, **options):
        if rotate_key:
            if daily:
                raise CommandError("--rotate-key and --daily do not go together")
            try:
                new = signing_key_rotate()
            except DomainError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"key {new.endorsed_by[:16]}… retired; new key {new.key_id} (endorsed by the old key)")
        cp = checkpoint_create(daily=daily)
        if cp is None:
            self.stdout.write("today's checkpoint exists already")
            return
        self.stdout.write(f"checkpoint {cp.number}: {cp.case_count} cases, {cp.event_count} events, "
                          f"root {cp.root}, signed by key {cp.key_id[:16]}")
        if out:
            data = checkpoints.canonical(checkpoint_document(cp))
            if out == "-":
                self.stdout.write(data.decode())
                return
            try:
                Path(out).write_bytes(data)
            except OSError as exc:
                raise CommandError(f"cannot write {out}: {exc.strerror}") from None
            self.stdout.write(f"wrote {out} ({len(data)} bytes)")

