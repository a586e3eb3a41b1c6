"""`yiwang train-dispatch [--min-cases N] [--region CODE] [--no-activate]`: train 智能派单's model.

Learns the incident category and the handling unit from the district's closed incidents, judges the
model on the newest 20 % of them, stores the new version and (unless --no-activate) puts it in use:
every app server loads it within seconds. Run it again as cases accumulate (nightly, say).
"""

from django.core.management.base import BaseCommand, CommandError

from yiwang.command import services
from yiwang.core.errors import DomainError


def _percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


class Command(BaseCommand):
    help = "Train the smart-dispatch model (category and handling unit) on the district's closed incidents."

    def add_arguments(self, parser):
        parser.add_argument("--min-cases", type=int, default=None,
                            help="refuse with fewer closed incidents than this (default: the administrators' "
                                 "setting, 200 unless changed)")
        parser.add_argument("--region", default=None,
                            help="code of the region to train for (default: the one top-level region)")
        parser.add_argument("--no-activate", action="store_true", help="store the version without putting it in use")

    def handle(self, *args, min_cases, region, no_activate, **options):
        try:
            model = services.dispatch_model_train(region_code=region, min_cases=min_cases, activate=not no_activate,
                                                  trained_by="train-dispatch", log=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        m = model.metrics
        self.stdout.write(self.style.SUCCESS(
            f"model v{model.pk} for {model.region_path}: trained on {model.trained_on} closed incidents, "
            f"{len(model.labels['categories'])} categories, {len(model.labels['units'])} units"
            + ("" if no_activate else "; now active")))
        self.stdout.write(
            f"held-out test on the newest {m['tested_on']} (trained on the older {m['trained_on_split']}): "
            f"category top-1 {_percent(m['category_top1'])}, top-3 {_percent(m['category_top3'])} "
            f"(always the commonest: {_percent(m['category_majority'])}); "
            f"unit top-1 {_percent(m['unit_top1'])}, top-3 {_percent(m['unit_top3'])} "
            f"(always the commonest: {_percent(m['unit_majority'])})")
