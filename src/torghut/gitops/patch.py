"""Minimal-diff patches of GitOps manifests (round-trip YAML: comments and order kept).

A promotion changes one strategy's entry in the catalog ConfigMap and nothing else: the
ConfigMap and the catalog embedded in it are both edited with ruamel's round-trip loader,
so every other line — comments, key order, quoting, the other entries — is byte-identical
in the diff a reviewer sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_KEY, CATALOG_PATH
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.yamlio import dump_yaml, load_yaml_text


def upsert_catalog_entry(configmap_text: str, entry: Mapping[str, Any]) -> str:
    """The ConfigMap text with ``entry`` (by ``strategy_id``) updated in place or appended."""
    doc = load_yaml_text(configmap_text, file=CATALOG_PATH)
    data = doc.get("data") if isinstance(doc, CommentedMap) else None
    if not isinstance(data, CommentedMap) or not isinstance(data.get(CATALOG_KEY), str):
        raise TorghutError(f"not a catalog ConfigMap (no data.{CATALOG_KEY})",
                           file=CATALOG_PATH, field="data")
    catalog = load_yaml_text(data[CATALOG_KEY], file=CATALOG_PATH)
    strategies = catalog.get("strategies") if isinstance(catalog, CommentedMap) else None
    if not isinstance(strategies, CommentedSeq):
        raise TorghutError("the catalog has no 'strategies' list", file=CATALOG_PATH,
                           field="strategies")
    _upsert(strategies, entry)
    data[CATALOG_KEY] = LiteralScalarString(dump_yaml(catalog))
    return dump_yaml(doc)


def _upsert(strategies: CommentedSeq, entry: Mapping[str, Any]) -> None:
    sid = entry["strategy_id"]
    for item in strategies:
        if isinstance(item, CommentedMap) and item.get("strategy_id") == sid:
            for key, value in entry.items():
                if item.get(key) != value:
                    item[key] = value  # existing keys keep their position
            return
    strategies.append(CommentedMap(entry))


def ensure_strategy_limits(runtime_config_text: str, strategy_id: str,
                           limits: Mapping[str, Any]) -> str:
    """Add RTS-8 limits for ``strategy_id`` unless it has some (reviewed limits stay)."""
    doc = load_yaml_text(runtime_config_text, file=RUNTIME_CONFIG_PATH)
    if not isinstance(doc, CommentedMap):
        raise TorghutError("the runtime config is not a mapping", file=RUNTIME_CONFIG_PATH)
    table = doc.get("limits")
    if table is None:
        table = doc["limits"] = CommentedMap()
    if not isinstance(table, CommentedMap):
        raise TorghutError("must be a mapping of strategy_id to limits",
                           file=RUNTIME_CONFIG_PATH, field="limits")
    if strategy_id in table:
        return runtime_config_text
    table[strategy_id] = CommentedMap(limits)
    return dump_yaml(doc)
