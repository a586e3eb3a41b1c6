"""The installation's SECRET_KEY: given in YIWANG_SECRET_KEY, or made once and kept in var/secret_key.

The key signs sessions, password-reset links, the stored 智能派单 model and backup archives, so a
key anybody can read (a published default, a short one) would let anybody forge all of them. No
mode of yiwang — demo, development or production — runs on such a key; a fresh installation makes
its own on first start instead, so `make demo` needs no set-up and is not left open either.

Read while settings load: nothing here may import Django beyond its exceptions.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ENVIRONMENT = "YIWANG_SECRET_KEY"
FILE_NAME = "secret_key"
# Keys that are public: the default of yiwang 0.1 (in its source and every copy of it). A key made
# by Django's startproject starts with INSECURE_PREFIX and has been in a settings file.
KNOWN_KEYS = frozenset({"dev-only-insecure-key-change-me-in-production"})
INSECURE_PREFIX = "django-insecure-"
# Django's own bar (`check --deploy`, security.W009): at least 50 characters, 5 of them different.
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def weakness(key: str) -> str | None:
    """Why ``key`` must not sign anything, or None when it may."""
    if key in KNOWN_KEYS:
        return "it is the default published in yiwang's source"
    if key.startswith(INSECURE_PREFIX):
        return f"it is a development key from Django's project template ({INSECURE_PREFIX}…)"
    if len(key) < MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {MIN_LENGTH}"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"it has fewer than {MIN_UNIQUE_CHARACTERS} different characters"
    return None


def secret_key(environ_key: str | None, var_dir: Path) -> str:
    """The key from the environment if one is given there, else this installation's own; refuses a weak one."""
    if environ_key is not None:
        reason = weakness(environ_key)
        if reason:
            raise ImproperlyConfigured(
                f"{ENVIRONMENT} is refused: {reason}. Set it to a new random secret, e.g. the output of "
                f"`{GENERATE}`, or unset it to use the key yiwang keeps in {var_dir / FILE_NAME}")
        return environ_key
    path = var_dir / FILE_NAME
    key = installation_key(var_dir)
    reason = weakness(key)
    if reason:
        raise ImproperlyConfigured(
            f"{path} holds a key that is refused: {reason}. Delete the file (yiwang writes a new one at the next "
            f"start; sessions end and the 智能派单 model must be retrained) or set {ENVIRONMENT}")
    return key


def installation_key(var_dir: Path) -> str:
    """The key in ``var_dir``/secret_key, written there first if it is not yet (readable by its owner only).

    Processes that start together (granian's workers, parallel test workers) all read the one key
    written first: each writes a whole key to a file of its own, and a hard link gives it the name
    only if nobody has it yet, so a key is never seen half-written nor replaced.
    """
    path = var_dir / FILE_NAME
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        return _read(path)
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(prefix=f".{FILE_NAME}-", dir=var_dir)  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: its key stands
                os.link(draft, path)
        finally:
            os.unlink(draft)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"cannot write this installation's secret key to {path} ({exc.strerror}): make {var_dir} writable "
            f"by the user that runs yiwang, or set {ENVIRONMENT} (e.g. to the output of `{GENERATE}`)") from exc
    return _read(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        raise
    except UnicodeDecodeError:
        raise ImproperlyConfigured(f"{path} is not a key yiwang wrote (it is not ASCII text): delete it to get a "
                                   f"new one, or set {ENVIRONMENT}") from None
    except OSError as exc:
        raise ImproperlyConfigured(f"cannot read the secret key in {path} ({exc.strerror}): make it readable by "
                                   f"the user that runs yiwang, or set {ENVIRONMENT}") from exc
