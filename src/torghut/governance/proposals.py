"""Propose a new identity: a key pair in ``keys/`` and an identities change on a branch.

The change is a commit on a new ``codex/identity-<name>-<yyyymmddHHMM>`` branch whose only
difference from ``main`` is the new entry's lines in ``identities.yaml`` (round-trip YAML,
comments and order kept). ``main`` and the working tree are not touched: the identity can
act only once a reviewer merges the branch. The caller registers the branch as a pull
request (see :func:`propose_identity`'s return value).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import ValidationError

from torghut.contracts.governance import Identity, IdentityKind, Role
from torghut.errors import TorghutError, from_validation_error
from torghut.gitops.repo import (
    BOT,
    MAIN,
    Author,
    branch_exists,
    commit_files,
    rev_parse,
    show,
    update_ref,
)
from torghut.governance.identities import (
    IDENTITIES_PATH,
    add_identity,
    parse_identities,
    where,
)
from torghut.governance.keys import generate_key, key_path, public_key_b64
from torghut.workspace import Workspace


class ProposedChange(NamedTuple):
    """A GitOps change waiting for review: its branch and head commit."""

    branch: str
    commit_sha: str


def identity_branch(name: str, now: datetime) -> str:
    return f"codex/identity-{name}-{now.astimezone(UTC):%Y%m%d%H%M}"


def propose_identity(ws: Workspace, name: str, kind: IdentityKind, roles: Sequence[Role], *,
                     proposer: str | None = None, now: datetime | None = None
                     ) -> ProposedChange:
    """Create ``keys/<name>.key`` and commit the identity on a new branch off ``main``.

    Refused (exit 2, nothing changed) when the name is already registered on ``main``, the
    branch or the key file already exists, or the entry is invalid. ``proposer`` is the
    commit's author (default: the bootstrap bot).
    """
    repo = ws.gitops_dir
    key_path(ws.keys_dir, name)  # validates the name before anything is created
    main = rev_parse(repo, MAIN)
    text = show(repo, IDENTITIES_PATH, MAIN) if main is not None else None
    if main is None or text is None:
        raise TorghutError("no identities file on main; run `torghut init --force`",
                           file=where())
    if parse_identities(text, file=where()).get(name) is not None:
        raise TorghutError(f"identity {name!r} is already registered on main",
                           file=where(), field="identities")
    branch = identity_branch(name, now or datetime.now(UTC))
    if branch_exists(repo, branch):
        raise TorghutError(f"branch {branch!r} already exists", file=repo, field="branch")
    key = generate_key(ws.keys_dir, name)
    try:
        identity = _identity(name, kind, roles, public_key_b64(key))
        new_text = add_identity(text, identity, file=where())
        author = Author.of(proposer) if proposer else BOT
        sha = commit_files(repo, parent=main, files={IDENTITIES_PATH: new_text},
                           message=_message(identity), author=author)
        update_ref(repo, branch, sha, None)
    except BaseException:
        key_path(ws.keys_dir, name).unlink(missing_ok=True)  # leave the workspace as it was
        raise
    return ProposedChange(branch, sha)


def _identity(name: str, kind: IdentityKind, roles: Sequence[Role], public_key: str
              ) -> Identity:
    try:
        return Identity(name=name, kind=kind, roles=tuple(roles), public_key=public_key)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="identity") from None


def _message(identity: Identity) -> str:
    roles = ", ".join(r.value for r in identity.roles)
    return (f"identity: propose {identity.name} ({identity.kind.value}; {roles})\n\n"
            f"Adds {identity.name} to {IDENTITIES_PATH}. It can act once this is merged\n"
            f"to main; its private key is in the proposing workspace's keys/.\n\n"
            f"Torghut-Identity: {identity.name}\n"
            f"Torghut-Key-Fingerprint: {identity.fingerprint}\n")
