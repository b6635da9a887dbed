"""Minimal-diff catalog patches: only the promoted strategy's lines change."""

from __future__ import annotations

import difflib

import pytest

from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.patch import upsert_catalog_entry
from torghut.workspace import Workspace

ENTRY = {"strategy_id": "tsmom", "strategy_type": "tsmom", "version": "1.0.0",
         "params": {"lookback": 20}, "enabled": True, "mode": "paper"}


def _changed(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_updating_an_entry_changes_only_its_lines_and_keeps_comments(ws: Workspace) -> None:
    before = (ws.gitops_dir / CATALOG_PATH).read_text()
    before = before.replace("    strategies:\n", "    # reviewed weekly\n    strategies:\n")
    after = upsert_catalog_entry(before, ENTRY)
    assert _changed(before, after) == ["-      params: {}", "-      enabled: false",
                                       "+      params:", "+        lookback: 20",
                                       "+      enabled: true"]
    assert "# reviewed weekly" in after


def test_a_new_entry_is_appended(ws: Workspace) -> None:
    before = (ws.gitops_dir / CATALOG_PATH).read_text()
    after = upsert_catalog_entry(before, {**ENTRY, "strategy_id": "tsmom-edge"})
    changed = _changed(before, after)
    assert changed[0] == "+    - strategy_id: tsmom-edge" and all(c[0] == "+" for c in changed)
    assert upsert_catalog_entry(after, {**ENTRY, "strategy_id": "tsmom-edge"}) == after


def test_not_a_catalog_configmap_is_a_clear_error() -> None:
    with pytest.raises(TorghutError, match=r"data\.strategy-catalog\.yaml"):
        upsert_catalog_entry("kind: ConfigMap\ndata: {}\n", ENTRY)
