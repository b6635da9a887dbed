"""Content-addressed, immutable artifact store: ``artifacts/sha256/ab/abcdef…``.

A blob's name is the sha256 of its bytes, so a name can never point at other content:
writes go to a temporary sibling, are fsynced and renamed into place (see
:mod:`torghut.fsutil`), and every read re-hashes the bytes before handing them out.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from torghut.errors import NotFoundError, TorghutError
from torghut.fsutil import atomic_write_bytes, file_sha256

_HASH = re.compile(r"^[0-9a-f]{64}$")


class ArtifactCorrupted(TorghutError):
    """A stored blob no longer matches the hash it is filed under."""


class ArtifactStore:
    """Blobs under ``root/sha256/<first two hex>/<hash>``; written once, never modified."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise TorghutError("not a sha256 hex digest", field="artifact", file=digest)
        return self.root / "sha256" / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256; storing the same bytes twice is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and file_sha256(target) == digest:
            return digest
        atomic_write_bytes(target, data)
        os.chmod(target, 0o444)
        return digest

    def get(self, digest: str) -> bytes:
        """The blob filed under ``digest``, refused if its bytes no longer hash to it."""
        target = self.path(digest)
        if not target.is_file():
            raise NotFoundError("artifact not in the store", file=target)
        data = target.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactCorrupted("content does not match its sha256 name", file=target)
        return data

    def check(self, digest: str) -> str | None:
        """``None`` if the blob is present and intact, else a short reason."""
        target = self.path(digest)
        if not target.is_file():
            return "artifact_missing"
        return None if file_sha256(target) == digest else "artifact_corrupted"

    def __contains__(self, digest: str) -> bool:
        return self.path(digest).is_file()
