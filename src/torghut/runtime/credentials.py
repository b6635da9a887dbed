"""The one door to live broker credentials (CONTROLS.md RTS-7, RTS 6 Art 7).

Paper and shadow must never hold a live credential, so reading one is confined to this
module: it is the only code that knows where live secrets live — environment variables named
``TORGHUT_LIVE_*`` and the workspace file ``keys/live-broker.json`` — and it hands them out
only to a live runtime that has everything DESIGN.md invariant 4 asks for: runtime mode
``live``, a passing Gate 4 decision and an explicit approval. No live execution adapter is
built yet, so even then it refuses (``LIVE_ADAPTER_MISSING``): the boundary is in place
before the first live adapter arrives, and that adapter is what will lift the last check.

Nothing in the paper/shadow path imports this module (the paper and shadow adapters, the
engine, the session and the API host); ``tests/runtime/test_rts7_live_credentials.py``
proves it with a static import walk, proves the refusals, and proves no object reachable from
a running paper or shadow engine holds a live secret.
"""

# control: RTS-7

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal
from torghut.workspace import Workspace

LIVE_ENV_PREFIX = "TORGHUT_LIVE_"
LIVE_KEYS_FILE = "live-broker.json"  # inside the workspace's keys/ folder


class LiveCredentialCode:
    """Stable reason codes of a refused credential request (exit 1, audited by callers)."""

    NOT_LIVE_MODE = "LIVE_CREDENTIALS_NOT_LIVE_MODE"
    GATE4_MISSING = "LIVE_CREDENTIALS_GATE4_MISSING"
    APPROVAL_MISSING = "LIVE_CREDENTIALS_APPROVAL_MISSING"
    ADAPTER_MISSING = "LIVE_ADAPTER_MISSING"


@dataclass(frozen=True)
class LiveAuthority:
    """What a live runtime shows to get credentials: the Gate 4 decision that passed and
    the identity that explicitly approved going live."""

    gate4_decision_id: str | None = None
    approved_by: str | None = None


@dataclass(frozen=True)
class LiveCredentials:
    """Broker secrets by name; ``repr`` never shows a value (``SecretStr``)."""

    secrets: Mapping[str, SecretStr] = field(default_factory=dict)


def live_credentials(ws: Workspace, mode: str, authority: LiveAuthority | None = None, *,
                     environ: Mapping[str, str] | None = None) -> LiveCredentials:
    """The live broker credentials, or a :class:`Refusal` saying which precondition fails.

    Checked in order: the mode is ``live`` (``LIVE_CREDENTIALS_NOT_LIVE_MODE``), a Gate 4
    decision is named (``…_GATE4_MISSING``), an approver is named (``…_APPROVAL_MISSING``),
    and a live execution adapter exists to receive them (``LIVE_ADAPTER_MISSING`` — always,
    until one is built). Nothing is read before every check has passed.
    """
    _authorize(mode, authority or LiveAuthority())
    return _read(ws, os.environ if environ is None else environ)  # pragma: no cover


def _authorize(mode: str, authority: LiveAuthority) -> None:
    if mode != "live":
        raise Refusal(LiveCredentialCode.NOT_LIVE_MODE,
                      f"runtime mode {mode!r} never receives live credentials (only live "
                      "does, after Gate 4 and explicit approval)")
    if not authority.gate4_decision_id:
        raise Refusal(LiveCredentialCode.GATE4_MISSING,
                      "live credentials need a passing Gate 4 decision")
    if not authority.approved_by:
        raise Refusal(LiveCredentialCode.APPROVAL_MISSING,
                      "live credentials need an explicit approval to go live")
    raise Refusal(LiveCredentialCode.ADAPTER_MISSING,
                  "no live execution adapter is built; live credentials have nowhere to go")


def _read(ws: Workspace, environ: Mapping[str, str]) -> LiveCredentials:
    """Every ``TORGHUT_LIVE_*`` variable, then ``keys/live-broker.json`` (a flat JSON object
    of strings; the environment wins on a clash). Bad file: exit 2 naming it."""
    secrets = dict(_from_file(ws))
    for name, value in environ.items():
        if name.startswith(LIVE_ENV_PREFIX) and value:
            secrets[name.removeprefix(LIVE_ENV_PREFIX).lower()] = SecretStr(value)
    return LiveCredentials(secrets)


def _from_file(ws: Workspace) -> dict[str, SecretStr]:
    path = ws.keys_dir / LIVE_KEYS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TorghutError(f"malformed JSON: {exc.__class__.__name__}", file=path) from None
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise TorghutError("expected a flat JSON object of strings", file=path,
                           field="<root>")
    return {k: SecretStr(v) for k, v in data.items()}
