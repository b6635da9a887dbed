"""Ed25519 signing keys in the workspace's ``keys/`` folder.

One key per identity, ``keys/<name>.key``, PEM-encoded unencrypted PKCS#8 (RFC 8410 for
Ed25519), mode 0600 in a 0700 folder — the same rule OpenSSH applies to private keys: a key
file that group or others can read is refused, because anyone who can read it can act as
that identity. A key is written once and never replaced: rotating a key is a new identity
change reviewed in GitOps, not a silent overwrite.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from torghut.contracts.base import SLUG_PATTERN
from torghut.errors import TorghutError

KEY_SUFFIX = ".key"
_NAME = re.compile(SLUG_PATTERN)


def key_path(keys_dir: Path, name: str) -> Path:
    """``keys_dir/<name>.key``; the name must be an identity slug (no path tricks)."""
    if not _NAME.match(name):
        raise TorghutError(f"not an identity name: {name!r} (must match {SLUG_PATTERN})",
                           field="identity")
    return keys_dir / f"{name}{KEY_SUFFIX}"


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The raw 32-byte public key, base64 — the form ``identities.yaml`` stores."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_key(keys_dir: Path, name: str) -> Ed25519PrivateKey:
    """Create ``keys/<name>.key`` (mode 0600) and return the key; an existing file is refused.

    The PEM is written to a 0600 temporary sibling, fsynced, then hard-linked into place:
    ``link`` fails if the target exists, so two processes racing cannot both create the key
    and neither can overwrite one that is already there.
    """
    path = key_path(keys_dir, name)
    if path.exists():
        raise TorghutError("a key for this identity already exists; keys are never "
                           "overwritten", file=path)
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    _write_new(path, pem)
    return key


def _write_new(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise TorghutError("a key for this identity already exists; keys are never "
                               "overwritten", file=path) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def load_key(keys_dir: Path, name: str) -> Ed25519PrivateKey:
    """The private key of ``name``; a missing, unsafe or malformed key file is an error."""
    path = key_path(keys_dir, name)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise TorghutError(f"no private key for identity {name!r}: this workspace cannot act "
                           "as it", file=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise TorghutError("not a regular file", file=path)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise TorghutError(f"key file is accessible by group/others (mode {mode:04o}); "
                           f"run `chmod 600 {path}`", file=path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise TorghutError(f"not an unencrypted PEM/PKCS#8 private key: {exc}",
                           file=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TorghutError(f"not an Ed25519 key ({type(key).__name__})", file=path)
    return key
