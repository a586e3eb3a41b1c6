"""The installation's Ed25519 key that signs checkpoints (docs/checkpoints.md).

The private key is a PKCS#8 PEM file, YIWANG_SIGNING_KEY_FILE (a setting or the environment), by
default var/checkpoint_signing_key.pem; it is created on first use, readable by its owner only. Whoever
holds the public key checks a checkpoint without trusting this server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


def key_path() -> Path:
    configured = getattr(settings, "YIWANG_SIGNING_KEY_FILE", None) or os.environ.get("YIWANG_SIGNING_KEY_FILE")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "checkpoint_signing_key.pem"


def _write_private(key: Ed25519PrivateKey, *, replace: bool) -> None:
    """Write ``key`` to the key file, whole under a private name first and then moved into place, so no
    process ever reads a half-written key. ``replace``: overwrite the current key (rotation); otherwise
    link it only where there is none, so two processes starting at once keep the key linked first."""
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def replace_private_key(key: Ed25519PrivateKey) -> None:
    """Make ``key`` the installation's key; the old private key is overwritten (records.services rotates)."""
    _write_private(key, replace=True)


def private_key() -> Ed25519PrivateKey:
    """The installation's key, created (0600, never overwritten) when there is none yet."""
    path = key_path()
    if not path.exists():
        _write_private(Ed25519PrivateKey.generate(), replace=False)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: names the key in every checkpoint it signed."""
    return hashlib.sha256(raw(key)).hexdigest()


def load_public(data: bytes) -> Ed25519PublicKey:
    """A public key from a PEM file, or its raw 32 bytes in base64 (as /api/v1/public/signing-key gives it)."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def sign(message: bytes) -> str:
    return base64.b64encode(private_key().sign(message)).decode()


def valid(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def public_b64(key: Ed25519PublicKey | None = None) -> str:
    return base64.b64encode(raw(key or public_key())).decode()
