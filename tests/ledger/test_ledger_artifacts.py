"""The content-addressed artifact store."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from torghut.errors import NotFoundError, TorghutError
from torghut.ledger.artifacts import ArtifactCorrupted, ArtifactStore


def test_round_trip_and_layout(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    data = b'{"sharpe": 1.25}'
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    path = tmp_path / "artifacts" / "sha256" / digest[:2] / digest
    assert path.is_file() and store.path(digest) == path
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # read-only once written
    assert store.get(digest) == data and digest in store and store.check(digest) is None
    assert store.put(data) == digest  # idempotent
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temp files left


def test_corrupted_blob_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    digest = store.put(b"original")
    path = store.path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(ArtifactCorrupted, match="does not match"):
        store.get(digest)
    assert store.check(digest) == "artifact_corrupted"
    assert store.put(b"original") == digest  # re-putting the true bytes repairs it
    assert store.get(digest) == b"original"


def test_missing_and_malformed_digests(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    absent = "0" * 64
    with pytest.raises(NotFoundError):
        store.get(absent)
    assert store.check(absent) == "artifact_missing"
    with pytest.raises(TorghutError, match="sha256"):
        store.get("../../etc/passwd")
