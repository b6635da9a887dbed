"""The identities file, read from the GitOps repository's ``main`` — never the working tree.

Only what was reviewed and merged counts: an identity added on a branch, or edited in the
checkout, cannot act until its pull request is merged. Errors name ``main:PATH:line`` (git's
notation for a file at a ref) and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from torghut.contracts.governance import Identity, IdentityFile
from torghut.errors import NotFoundError, TorghutError
from torghut.gitops.manifests import APP_DIR
from torghut.gitops.repo import MAIN, show
from torghut.yamlio import dump_yaml, load_yaml_text, validate_yaml_model

IDENTITIES_FILE = "identities.yaml"
IDENTITIES_PATH = f"{APP_DIR}/{IDENTITIES_FILE}"

_HEADER = (
    "Torghut identities: who may act, in which lanes, with which Ed25519 public key.\n"
    "Changed only by a reviewed pull request (`torghut identity create` opens one).\n"
    "kind: human | agent (agents never approve).\n"
    "roles: research, validation, promotion, operations, approver.\n"
    "public_key: raw 32-byte Ed25519 public key, base64; the private key stays in the\n"
    "workspace's keys/<name>.key (mode 0600)."
)


def where(ref: str = MAIN) -> str:
    """How errors name the file: ``main:apps/torghut/identities.yaml``."""
    return f"{ref}:{IDENTITIES_PATH}"


def parse_identities(text: str, *, file: str | Path) -> IdentityFile:
    """Validate identities YAML; errors name ``file:line`` and the field path."""
    data = load_yaml_text(text, file=file)
    if not isinstance(data, dict):
        raise TorghutError("expected a mapping with an 'identities' list", file=file)
    return validate_yaml_model(IdentityFile, data, file=file)


def read_identities(path: Path) -> IdentityFile:
    """An identities file on disk (``config validate`` reads candidate files this way)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TorghutError("file not found", file=path) from None
    return parse_identities(text, file=path)


def load_identities(repo: Path, ref: str = MAIN) -> IdentityFile:
    """The identities merged on ``ref`` (``main``) of the GitOps repository."""
    text = show(repo, IDENTITIES_PATH, ref=ref)
    if text is None:
        raise TorghutError(f"no identities file on {ref}; run `torghut init --force` to "
                           "bootstrap one", file=where(ref))
    return parse_identities(text, file=where(ref))


def lookup(repo: Path, name: str, ref: str = MAIN) -> Identity:
    """The identity registered as ``name`` on ``ref``; an unknown name is bad input (exit 2)."""
    identity = load_identities(repo, ref).get(name)
    if identity is None:
        raise NotFoundError(f"unknown identity {name!r}", file=where(ref), field="identities")
    return identity


def _entry(identity: Identity) -> CommentedMap:
    entry = CommentedMap()
    entry["name"] = identity.name
    entry["kind"] = identity.kind.value
    entry["roles"] = CommentedSeq(r.value for r in identity.roles)
    entry["roles"].fa.set_flow_style()
    entry["public_key"] = identity.public_key
    return entry


def render_identities(identities: IdentityFile) -> str:
    """A documented identities file (``torghut init`` writes it)."""
    doc = CommentedMap()
    doc["schema_version"] = identities.schema_version
    doc["identities"] = CommentedSeq(_entry(i) for i in identities.identities)
    doc.yaml_set_start_comment(_HEADER)
    return dump_yaml(doc)


def add_identity(text: str, identity: Identity, *, file: str | Path) -> str:
    """``text`` with ``identity`` appended, everything else byte-for-byte as it was.

    Round-trip YAML (ruamel) keeps comments and order; the result is re-validated, so a
    duplicate name or key is refused here rather than in review.
    """
    current = parse_identities(text, file=file)
    if current.get(identity.name) is not None:
        raise TorghutError(f"identity {identity.name!r} is already registered", file=file,
                           field="identities")
    data: Any = load_yaml_text(text, file=file)
    items = data.get("identities")
    if not isinstance(items, CommentedSeq):
        items = data["identities"] = CommentedSeq()
    if not items:
        items.fa.set_block_style()  # `identities: []` becomes a list entries can be added to
    items.append(_entry(identity))
    new_text = dump_yaml(data)
    parse_identities(new_text, file=file)
    return new_text
