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

    refused = control_character_argument(sys.argv[1:])
    if refused:
        sys.exit(f"yiwang: {refused}")
    execute_from_command_line(["yiwang", *sys.argv[1:]])


def control_character_argument(args: list[str]) -> str | None:
    """Why the command line is refused, when an argument holds a control character (yiwang.core.text):
    every command's free text (a title, a comment, a key's name) arrives here, before any is stored."""
    from yiwang.core.text import CONTROL_CHARACTERS

    for index, arg in enumerate(args):
        found = CONTROL_CHARACTERS.search(arg)
        if found:
            option, sep, _value = arg.partition("=")
            if not (arg.startswith("--") and sep):
                option = args[index - 1] if index and args[index - 1].startswith("-") else f"argument {index + 1}"
            return (f"{option} holds an invisible control character (U+{ord(found.group()):04X}): "
                    f"remove it and run the command again.")
    return None


if __name__ == "__main__":
    main()
