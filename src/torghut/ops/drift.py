"""Drift: the config GitOps ``main`` wants versus the config a runtime has applied.

The desired config is parsed from ``main`` (the catalog ConfigMap and the runtime config),
the effective one comes from the runtime (``GET /api/config``) or a snapshot of it. Both are
:class:`~torghut.contracts.ops.EffectiveConfig`, hashed the same way, and compared field by
field; catalog entries are keyed by ``strategy_id`` so a reordering is no difference and a
changed entry is named, not indexed. Every check is signed by an operations identity and
recorded as an ``ops.drift.checked`` audit event, which the hard-stop measurement reads
(DESIGN.md hard stop "drift between GitOps and runtime config"; CONTROLS.md RTS-28).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from torghut.contracts.base import Contract
from torghut.contracts.ops import EffectiveConfig
from torghut.errors import TorghutError, from_validation_error
from torghut.gitops.manifests import CATALOG_PATH, parse_catalog
from torghut.gitops.repo import MAIN, show
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH, parse_runtime_config
from torghut.governance import guard
from torghut.governance.rights import Action
from torghut.ledger import Ledger, audit
from torghut.workspace import Workspace

#: The audit action of a recorded drift check (read by ``ops.conditions.measure_drift``).
DRIFT_CHECKED_ACTION = "ops.drift.checked"
RUNTIME_TIMEOUT_S = 5.0
_MISSING = object()


@dataclass(frozen=True)
class Difference:
    """One field whose desired and effective values differ (``None``: absent there)."""

    path: str
    desired: Any
    effective: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "desired": self.desired, "effective": self.effective}


@dataclass(frozen=True)
class DriftResult:
    desired: EffectiveConfig
    effective: EffectiveConfig
    differences: tuple[Difference, ...]
    source: str
    audit_seq: int

    @property
    def in_sync(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync, "source": self.source,
                "gitops_sha256": self.desired.config_sha256,
                "config_sha256": self.effective.config_sha256,
                "differences": [d.to_json() for d in self.differences],
                "audit_seq": self.audit_seq}


# ----------------------------------------------------------------------------- desired


def desired_config(repo: Path, ref: str = MAIN) -> EffectiveConfig:
    """The config ``ref`` holds, parsed with the manifests' own readers (bad: exit 2)."""
    catalog_text = show(repo, CATALOG_PATH, ref)
    runtime_text = show(repo, RUNTIME_CONFIG_PATH, ref)
    for path, text in ((CATALOG_PATH, catalog_text), (RUNTIME_CONFIG_PATH, runtime_text)):
        if text is None:
            raise TorghutError(f"no {path} on {ref}", file=repo, field="config")
    assert catalog_text is not None and runtime_text is not None
    catalog = parse_catalog(catalog_text, file=f"{ref}:{CATALOG_PATH}")
    runtime = parse_runtime_config(runtime_text, file=f"{ref}:{RUNTIME_CONFIG_PATH}")
    return EffectiveConfig.of(catalog, runtime)


# ----------------------------------------------------------------------------- effective


def load_snapshot(path: Path) -> EffectiveConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TorghutError("no such file", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TorghutError(f"cannot read: {exc}", file=path) from None
    return parse_effective(text, file=str(path))


def parse_effective(text: str, *, file: str) -> EffectiveConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TorghutError(f"not JSON: {exc.msg} (line {exc.lineno})", file=file) from None
    try:
        return EffectiveConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, file=file) from None


def fetch_runtime(url: str, *, timeout: float = RUNTIME_TIMEOUT_S) -> EffectiveConfig:
    """``GET {url}/api/config``; unreachable, an error status or a bad body is exit 2."""
    endpoint = url.rstrip("/") + "/api/config"
    try:
        response = httpx.get(endpoint, timeout=timeout)
    except httpx.HTTPError as exc:
        raise TorghutError(f"runtime unreachable: {type(exc).__name__}: {exc}",
                           file=endpoint, field="--runtime") from None
    if response.status_code != 200:
        raise TorghutError(f"runtime answered HTTP {response.status_code}", file=endpoint,
                           field="--runtime")
    return parse_effective(response.text, file=endpoint)


# ----------------------------------------------------------------------------- diff


def diff_configs(desired: EffectiveConfig, effective: EffectiveConfig) -> list[Difference]:
    """Every differing leaf, by field path (catalog entries keyed by ``strategy_id``)."""
    out: list[Difference] = []
    for part in ("catalog", "runtime_config"):
        _diff(part, _plain(getattr(desired, part)), _plain(getattr(effective, part)), out)
    return out


def _plain(model: Contract) -> Any:
    return model.model_dump(mode="json")


def _diff(path: str, want: Any, have: Any, out: list[Difference]) -> None:
    if want == have:
        return
    if isinstance(want, dict) and isinstance(have, dict):
        for key in sorted(set(want) | set(have)):
            _diff(f"{path}.{key}", want.get(key, _MISSING), have.get(key, _MISSING), out)
        return
    keyed_want, keyed_have = _by_strategy(want), _by_strategy(have)
    if keyed_want is not None and keyed_have is not None:
        for key in sorted(set(keyed_want) | set(keyed_have)):
            _diff(f"{path}[{key}]", keyed_want.get(key, _MISSING),
                  keyed_have.get(key, _MISSING), out)
        return
    out.append(Difference(path, _absent(want), _absent(have)))


def _by_strategy(value: Any) -> dict[str, Any] | None:
    """A list of catalog entries keyed by ``strategy_id`` (None: not such a list)."""
    if not isinstance(value, list) or not all(isinstance(v, dict) and "strategy_id" in v
                                              for v in value):
        return None
    keyed = {str(v["strategy_id"]): v for v in value}
    return keyed if len(keyed) == len(value) else None


def _absent(value: Any) -> Any:
    return None if value is _MISSING else value


# ----------------------------------------------------------------------------- check


def effective_config(snapshot: Path | None, runtime_url: str | None) -> tuple[EffectiveConfig,
                                                                               str]:
    if (snapshot is None) == (runtime_url is None):
        raise TorghutError("give exactly one of --snapshot FILE or --runtime URL",
                           field="--snapshot/--runtime")
    if snapshot is not None:
        return load_snapshot(snapshot), f"snapshot:{snapshot}"
    assert runtime_url is not None
    return fetch_runtime(runtime_url), f"runtime:{runtime_url}"


def drift_check(ws: Workspace, ledger: Ledger, *, snapshot: Path | None,
                runtime_url: str | None, as_identity: str) -> DriftResult:
    """Compare, then record the signed check and its ``ops.drift.checked`` event."""
    effective, source = effective_config(snapshot, runtime_url)
    desired = desired_config(ws.gitops_dir)
    differences = diff_configs(desired, effective)
    payload = {"config_sha256": effective.config_sha256,
               "gitops_sha256": desired.config_sha256,
               "differences": [d.to_json() for d in differences],
               "in_sync": not differences, "source": source}
    signed = guard.check(ws, ledger, as_identity, Action.OPS_DRIFT_CHECK, "config", payload)
    with ledger.write() as session:
        guard.record(session, signed)
        event = audit.append(session, as_identity, DRIFT_CHECKED_ACTION, "config", payload)
    return DriftResult(desired, effective, tuple(differences), source, event.seq)
