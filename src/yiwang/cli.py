"""The ``yiwang`` console script: Django's management commands under the product's name."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yiwang.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        # Loading the settings: a refusal (a weak key, an unwritable var/) is one line, not a traceback.
        settings.SECRET_KEY  # noqa: B018
    except ImproperlyConfigured as exc:
        sys.exit(f"yiwang: {exc}")

    execute_from_command_line(["yiwang", *sys.argv[1:]])


if __name__ == "__main__":
    main()
