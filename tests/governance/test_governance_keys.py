"""Private keys: 0600 on disk, never overwritten, refused when others can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from torghut.errors import TorghutError
from torghut.governance.keys import generate_key, key_path, load_key, public_key_b64


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_key_is_0600_pkcs8_and_loads_back(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = generate_key(keys, "alice")
    path = key_path(keys, "alice")
    assert _mode(path) == 0o600
    assert _mode(keys) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8 PEM
    assert public_key_b64(load_key(keys, "alice")) == public_key_b64(key)
    assert [p.name for p in keys.iterdir()] == ["alice.key"]  # no temporary file left


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate_key(keys, "alice")
    before = key_path(keys, "alice").read_bytes()
    with pytest.raises(TorghutError, match="never overwritten"):
        generate_key(keys, "alice")
    assert key_path(keys, "alice").read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_readable_by_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    keys = tmp_path / "keys"
    generate_key(keys, "oscar")
    path = key_path(keys, "oscar")
    os.chmod(path, mode)
    with pytest.raises(TorghutError) as info:
        load_key(keys, "oscar")
    assert info.value.file == str(path)
    assert "chmod 600" in info.value.message and f"{mode:04o}" in info.value.message


def test_missing_malformed_and_foreign_keys_are_errors(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    with pytest.raises(TorghutError, match="no private key"):
        load_key(keys, "nobody")
    bad = key_path(keys, "garbage")
    bad.write_bytes(b"not a key")
    bad.chmod(0o600)
    with pytest.raises(TorghutError, match="not an unencrypted PEM"):
        load_key(keys, "garbage")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    foreign = key_path(keys, "ecdsa")
    foreign.write_bytes(ec_pem)
    foreign.chmod(0o600)
    with pytest.raises(TorghutError, match="not an Ed25519 key"):
        load_key(keys, "ecdsa")


@pytest.mark.parametrize("name", ["../escape", "Alice", "a/b", ""])
def test_key_names_are_identity_slugs(tmp_path: Path, name: str) -> None:
    with pytest.raises(TorghutError, match="not an identity name"):
        generate_key(tmp_path, name)
    assert not any(tmp_path.iterdir())
