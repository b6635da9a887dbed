"""The runtime reconciles to GitOps main and never crash-loops on a bad entry."""

from __future__ import annotations

from typing import Any

import pytest

from torghut.errors import TorghutError
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.patch import upsert_catalog_entry
from torghut.gitops.repo import BOT, commit_files, rev_parse, show, sync_checkout, update_ref
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.ledger import audit, open_ledger
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION, desired_config_sha256
from torghut.ops.drift import desired_config
from torghut.runtime.config import AppliedRecorder, ConfigReconciler
from torghut.workspace import Workspace


def commit_main(ws: Workspace, files: dict[str, str]) -> str:
    repo = ws.gitops_dir
    old = rev_parse(repo, "main")
    new = commit_files(repo, parent=old, files=dict(files), message="test change",
                       author=BOT)
    update_ref(repo, "main", new, old)
    sync_checkout(repo, old, new)
    return new


def edit(ws: Workspace, path: str, old: str, new: str) -> str:
    text = show(ws.gitops_dir, path)
    assert text is not None and old in text, (path, old)
    return text.replace(old, new, 1)


def enable_tsmom(ws: Workspace, params: dict[str, Any] | None = None) -> str:
    catalog = show(ws.gitops_dir, CATALOG_PATH)
    assert catalog is not None
    return upsert_catalog_entry(catalog, {"strategy_id": "tsmom", "enabled": True,
                                          "params": params or {}})


def test_fresh_workspace_applies_main_and_matches_desired_hash(ws: Workspace) -> None:
    applied = ConfigReconciler(ws).reconcile()
    assert applied.commit == rev_parse(ws.gitops_dir, "main")
    assert applied.errors == ()
    assert applied.config_sha256 == desired_config(ws.gitops_dir).config_sha256
    assert applied.config_sha256 == desired_config_sha256(ws.gitops_dir)
    assert applied.runnable == ()  # the bootstrap catalog is all disabled
    assert {e.strategy_id for e in applied.entries} >= {"tsmom", "mean-reversion"}


def test_enabled_entry_with_limits_runs(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws)})
    applied = ConfigReconciler(ws).reconcile()
    assert [e.definition.strategy_id for e in applied.runnable] == ["tsmom"]
    assert applied.status("tsmom").enabled  # type: ignore[union-attr]


def test_type_mismatched_entry_is_disabled_with_located_reason(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws, params={"lookback": "sixty"})})
    reconciler = ConfigReconciler(ws)
    applied = reconciler.reconcile()
    status = applied.status("tsmom")
    assert status is not None and not status.enabled
    assert status.reason is not None and "INVALID_PARAMS" in status.reason
    assert "lookback" in status.reason and CATALOG_PATH in status.reason
    assert applied.runnable == ()
    # The runtime did not run what main asks for: the effective config says so (drift).
    assert applied.config_sha256 != desired_config(ws.gitops_dir).config_sha256


def test_missing_limits_disable_only_that_entry(ws: Workspace) -> None:
    runtime = show(ws.gitops_dir, RUNTIME_CONFIG_PATH)
    assert runtime is not None
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws),
                     RUNTIME_CONFIG_PATH: _drop_limits(runtime, "tsmom")})
    applied = ConfigReconciler(ws).reconcile()
    status = applied.status("tsmom")
    assert status is not None and not status.enabled
    assert status.reason is not None and status.reason.startswith("LIMITS_MISSING")


def test_invalid_runtime_config_keeps_last_known_good(ws: Workspace) -> None:
    reconciler = ConfigReconciler(ws)
    good = reconciler.reconcile()
    broken = edit(ws, RUNTIME_CONFIG_PATH, "mode: paper", "mode: 17")
    commit_main(ws, {RUNTIME_CONFIG_PATH: broken})
    after = reconciler.reconcile()
    assert after.commit != good.commit
    assert after.runtime_config == good.runtime_config
    assert any("last-known-good kept" in e and "mode" in e for e in after.errors)


def test_unreadable_runtime_config_on_first_start_runs_nothing(ws: Workspace) -> None:
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws), RUNTIME_CONFIG_PATH: "mode: [\n"})
    applied = ConfigReconciler(ws).reconcile()
    assert applied.runnable == ()
    assert any("nothing runs" in e for e in applied.errors)


def test_reconcile_is_a_no_op_until_main_moves(ws: Workspace) -> None:
    reconciler = ConfigReconciler(ws)
    first = reconciler.reconcile()
    assert reconciler.reconcile() is first and reconciler.reloads == 1
    commit_main(ws, {CATALOG_PATH: enable_tsmom(ws)})
    assert reconciler.reconcile() is not first and reconciler.reloads == 2


def test_applied_config_is_recorded_once_per_hash(ws: Workspace) -> None:
    applied = ConfigReconciler(ws).reconcile()
    recorder = AppliedRecorder()
    with open_ledger(ws) as ledger:
        with ledger.write() as session:
            assert recorder.record(session, applied)
            assert not recorder.record(session, applied)
        with ledger.read() as session:
            events = [e for e in audit.log(session) if e.action == RUNTIME_APPLIED_ACTION]
    assert len(events) == 1
    assert events[0].payload["config_sha256"] == applied.config_sha256


def _drop_limits(text: str, strategy_id: str) -> str:
    lines = text.splitlines(keepends=True)
    out, skipping = [], False
    for ln in lines:
        if ln.startswith(f"  {strategy_id}:"):
            skipping = True
            continue
        if skipping and (ln.startswith("    ") or not ln.strip()):
            continue
        skipping = False
        out.append(ln)
    return "".join(out)


def test_a_missing_ref_keeps_the_last_known_good_config(ws: Workspace) -> None:
    reconciler = ConfigReconciler(ws)
    applied = reconciler.reconcile()
    reconciler.ref = "no-such-branch"
    assert reconciler.reconcile() is applied  # a reload without main keeps what applies
    with pytest.raises(TorghutError, match="no such ref") as info:
        ConfigReconciler(ws, ref="no-such-branch").reconcile()  # nothing to keep: refuse
    assert info.value.field == "no-such-branch"
