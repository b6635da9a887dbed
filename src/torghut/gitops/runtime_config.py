"""The runtime config manifest (``apps/torghut/runtime-config.yaml``): read, render, default.

The file is the bare :class:`~torghut.contracts.runtime_config.RuntimeConfig` as YAML, with a
comment above every key saying what it bounds and which control it implements. The
kustomization wraps it in a ConfigMap (``configMapGenerator``) so a cluster can mount it.
"""

from __future__ import annotations

import textwrap
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from torghut.contracts import StrategyCatalog
from torghut.contracts.runtime_config import RuntimeConfig, StrategyLimits
from torghut.errors import TorghutError
from torghut.gitops.manifests import APP_DIR, RUNTIME_CONFIG_FILE, RUNTIME_CONFIGMAP
from torghut.yamlio import dump_yaml, load_yaml_text, read_yaml, validate_yaml_model

RUNTIME_CONFIG_PATH = f"{APP_DIR}/{RUNTIME_CONFIG_FILE}"
__all__ = ["RUNTIME_CONFIGMAP", "RUNTIME_CONFIG_FILE", "RUNTIME_CONFIG_PATH",
           "default_runtime_config", "parse_runtime_config", "read_runtime_config",
           "render_runtime_config_yaml"]

# Example RTS-8 limits for the bootstrap catalog (all of it disabled): the sample data's
# symbols, the paper venue, and notionals a reviewer is expected to change.
_EXAMPLE_LIMITS = StrategyLimits(instruments=("SPX", "IXIC"), max_order_value=50_000.0,
                                 max_orders_per_day=50, max_position_notional=250_000.0,
                                 venues=("paper",))

_HEADER = (
    "Torghut runtime config: what the paper/shadow runtime enforces.\n"
    "Changed only by a reviewed pull request (SEC-9); `torghut config validate` checks it.\n"
    "Schema: torghut.contracts.runtime_config.RuntimeConfig (schemas/RuntimeConfig.schema.json)."
)
_LIMITS_NOTE = (
    "Every enabled catalog strategy needs an entry here, keyed by strategy_id (RTS-8); all\n"
    "five fields are required: instruments (symbols), max_order_value (per order, notional),\n"
    "max_orders_per_day, max_position_notional (per instrument), venues."
)
_RESTRICTED_NOTE = (
    "e.g. - {symbol: ACME, effective_from: 2025-01-02T00:00:00Z, effective_until: null,\n"
    "        reason: MNPI wall}   (from inclusive, until exclusive; a bare date = 00:00 UTC)"
)


def default_runtime_config(catalog: StrategyCatalog | None = None) -> RuntimeConfig:
    """Paper mode, the documented firm defaults, example limits for each catalog entry."""
    ids = [s.strategy_id for s in catalog.strategies] if catalog is not None else []
    return RuntimeConfig(limits={sid: _EXAMPLE_LIMITS for sid in ids})


def render_runtime_config_yaml(config: RuntimeConfig) -> str:
    """The config as YAML with every key documented (defaults written out explicitly)."""
    notes = {"limits": _LIMITS_NOTE}
    if not config.restricted_list:
        notes["restricted_list"] = ("Effective-dated restricted symbols (SEC-6), rejected "
                                    f"while in effect;\n{_RESTRICTED_NOTE}")
    doc = _commented(config, indent=0, notes=notes)
    doc.yaml_set_start_comment(_HEADER)
    return dump_yaml(doc)


def _commented(model: BaseModel, indent: int,
               notes: dict[str, str] | None = None) -> CommentedMap:
    out = CommentedMap()
    for name, info in type(model).model_fields.items():
        if indent and name == "schema_version":
            continue  # nested versions are implied by the top-level one
        out[name] = _node(getattr(model, name), indent + 2)
        note = (notes or {}).get(name) or info.description
        if note:
            text = "\n".join(textwrap.fill(line, 96 - indent) for line in note.splitlines())
            out.yaml_set_comment_before_after_key(name, before=text, indent=indent)
    return out


def _node(value: Any, indent: int) -> Any:
    if isinstance(value, BaseModel):
        return _commented(value, indent)
    if isinstance(value, dict):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _plain_model(item) if isinstance(item, BaseModel) else item
        return out
    if isinstance(value, tuple):
        return CommentedSeq(_plain_model(v) if isinstance(v, BaseModel) else _scalar(v)
                            for v in value)
    return _scalar(value)


def _plain_model(model: BaseModel) -> CommentedMap:
    """A nested model without per-field comments (a map of many would repeat them)."""
    out = CommentedMap()
    for key, value in model.model_dump(mode="json").items():
        if key == "schema_version":
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()
            out[key] = seq
        else:
            out[key] = value
    return out


def _scalar(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def parse_runtime_config(text: str, *, file: str | Path) -> RuntimeConfig:
    return _validate(load_yaml_text(text, file=file), file)


def read_runtime_config(path: Path) -> RuntimeConfig:
    return _validate(read_yaml(path), path)


def _validate(data: Any, file: str | Path) -> RuntimeConfig:
    if not isinstance(data, dict):
        raise TorghutError("a runtime config must be a YAML mapping", file=file)
    return validate_yaml_model(RuntimeConfig, data, file=file)
