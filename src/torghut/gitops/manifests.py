"""Manifests in the GitOps repository and how to read them back.

The strategy catalog lives in ``apps/torghut/strategy-catalog.yaml`` as a Kubernetes
ConfigMap whose ``data["strategy-catalog.yaml"]`` holds the catalog YAML, so a cluster can
mount it while Torghut validates it. ``load_catalog`` accepts that ConfigMap or a bare
catalog file, and reports errors as ``file:line: field.path: message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from torghut.contracts import StrategyCatalog, StrategyDefinition
from torghut.errors import TorghutError
from torghut.yamlio import dump_yaml, load_yaml_text, read_yaml, validate_yaml_model

APP_DIR = "apps/torghut"
CATALOG_PATH = f"{APP_DIR}/strategy-catalog.yaml"
KUSTOMIZATION_PATH = f"{APP_DIR}/kustomization.yaml"
CATALOG_CONFIGMAP = "torghut-strategy-catalog"
CATALOG_KEY = "strategy-catalog.yaml"


def default_catalog() -> StrategyCatalog:
    """One disabled entry per built-in family, so a new workspace has something to edit."""
    entries = [
        ("legacy-macd-rsi", "legacy_macd_rsi"),
        ("tsmom", "tsmom"),
        ("mean-reversion", "mean_reversion"),
        ("vol-breakout", "vol_breakout"),
    ]
    return StrategyCatalog(strategies=tuple(
        StrategyDefinition(strategy_id=sid, strategy_type=stype, version="1.0.0",
                           enabled=False, priority=100 + 10 * i)
        for i, (sid, stype) in enumerate(entries)
    ))


# Entry fields always written, even at their defaults, so a reviewer sees them in a diff.
_ALWAYS_SHOWN = ("strategy_id", "strategy_type", "version", "enabled", "mode", "params")


def catalog_to_yaml(catalog: StrategyCatalog) -> str:
    """Readable catalog YAML: defaults omitted except the fields a reviewer must see."""
    entries = []
    for entry in catalog.strategies:
        full = entry.model_dump(mode="json")
        lean = entry.model_dump(mode="json", exclude_defaults=True)
        entries.append({k: full[k] for k in full if k in _ALWAYS_SHOWN or k in lean})
    return dump_yaml({"schema_version": catalog.schema_version, "strategies": entries})


def render_catalog_configmap(catalog: StrategyCatalog) -> str:
    cm = CommentedMap()
    cm["apiVersion"] = "v1"
    cm["kind"] = "ConfigMap"
    cm["metadata"] = {"name": CATALOG_CONFIGMAP, "labels": {"app.kubernetes.io/name": "torghut"}}
    cm["data"] = {CATALOG_KEY: LiteralScalarString(catalog_to_yaml(catalog))}
    return dump_yaml(cm)


RUNTIME_CONFIGMAP = "torghut-runtime-config"
RUNTIME_CONFIG_FILE = "runtime-config.yaml"


def render_kustomization() -> str:
    """The catalog ConfigMap, and the runtime config wrapped by a ``configMapGenerator`` so
    a cluster mounts exactly the reviewed file (identities and the gate policy are read by
    Torghut from git, not deployed)."""
    return dump_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["strategy-catalog.yaml"],
        "configMapGenerator": [{"name": RUNTIME_CONFIGMAP, "files": [RUNTIME_CONFIG_FILE]}],
    })


def embedded_catalog(doc: Any, path: Path) -> tuple[Any, int]:
    """Return (catalog data, line offset) from a ConfigMap, or the doc itself."""
    if not (isinstance(doc, dict) and doc.get("kind") == "ConfigMap"):
        return doc, 0
    data = doc.get("data")
    if not isinstance(data, dict) or CATALOG_KEY not in data:
        raise TorghutError(f"ConfigMap has no data.{CATALOG_KEY}", file=path, field="data")
    text = data[CATALOG_KEY]
    if not isinstance(text, str):
        raise TorghutError("must be a YAML string", file=path, field=f"data.{CATALOG_KEY}")
    # A block scalar's content starts on the line after its key.
    offset = data.lc.value(CATALOG_KEY)[0] + 1 if isinstance(data, CommentedMap) else 0
    return load_yaml_text(text, file=path, line_offset=offset), offset


def catalog_document(doc: Any, file: str | Path) -> tuple[Any, int]:
    """The catalog mapping from a parsed bare catalog or ConfigMap, and its line offset."""
    if doc is None:
        raise TorghutError("empty file", file=file)
    data, offset = embedded_catalog(doc, Path(file))
    if not isinstance(data, dict):
        raise TorghutError("expected a mapping with a 'strategies' list", file=file)
    return data, offset


def read_catalog_document(path: Path) -> tuple[Any, int]:
    return catalog_document(read_yaml(path), path)


def parse_catalog(text: str, *, file: str | Path) -> StrategyCatalog:
    """Schema-validate a catalog from its text (e.g. as ``git show`` returns it)."""
    data, offset = catalog_document(load_yaml_text(text, file=file), file)
    return validate_yaml_model(StrategyCatalog, data, file=file, line_offset=offset)


def load_catalog(path: Path) -> StrategyCatalog:
    """Read and schema-validate a catalog (bare YAML or the ConfigMap)."""
    data, offset = read_catalog_document(path)
    return validate_yaml_model(StrategyCatalog, data, file=path, line_offset=offset)
