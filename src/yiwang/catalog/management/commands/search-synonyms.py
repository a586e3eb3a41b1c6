"""``yiwang search-synonyms load``: add the default search synonyms; ``list``: print those in force."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the default search synonyms (catalog/synonyms.py) or list the synonyms in force."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["load", "list"])

    def handle(self, *args, action: str, **options):
        from yiwang.catalog.models import SearchSynonym
        from yiwang.catalog.services import search_synonyms_load

        if action == "load":
            added, kept = search_synonyms_load()
            self.stdout.write(f"{added} synonyms added, {kept} already there (kept as they are)")
            return
        for s in SearchSynonym.objects.select_related("matter").order_by("phrase"):
            target = f" → {s.matter.code}" if s.matter_id else ""
            off = "" if s.active else "\t(off)"
            self.stdout.write(f"{s.phrase}\t{s.means}{target}{off}")
