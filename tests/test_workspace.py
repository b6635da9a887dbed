"""Workspace layout, discovery order, and init's refusal to destroy anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import CliRunner, assert_one_line_error, tree_snapshot
from torghut.errors import WorkspaceError
from torghut.gates.policy import POLICY_PATH, default_policy, read_policy
from torghut.gitops.bootstrap import WORKFLOW_PATH
from torghut.gitops.manifests import CATALOG_PATH, KUSTOMIZATION_PATH, load_catalog
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH, read_runtime_config
from torghut.governance.identities import IDENTITIES_PATH
from torghut.workspace import Workspace, init_workspace


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_init_creates_layout_and_gitops_main(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    for sub in ("datasets", "artifacts", "keys", "gitops"):
        assert (ws.root / sub).is_dir(), sub
    assert (ws.keys_dir.stat().st_mode & 0o777) == 0o700
    assert ws.ledger_url == f"sqlite:///{ws.root / 'ledger.db'}"
    assert _git(ws.gitops_dir, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    tracked = _git(ws.gitops_dir, "ls-files").splitlines()
    assert set(tracked) == {CATALOG_PATH, KUSTOMIZATION_PATH, POLICY_PATH, RUNTIME_CONFIG_PATH,
                            IDENTITIES_PATH, WORKFLOW_PATH}
    assert _git(ws.gitops_dir, "rev-list", "--count", "main") == "1"
    assert read_policy(ws.gitops_dir / POLICY_PATH) == default_policy()
    runtime = read_runtime_config(ws.gitops_dir / RUNTIME_CONFIG_PATH)
    assert runtime.mode == "paper"
    assert _git(ws.gitops_dir, "status", "--porcelain") == ""
    catalog = load_catalog(ws.gitops_dir / CATALOG_PATH)
    assert {s.strategy_type for s in catalog.strategies} >= {"tsmom", "mean_reversion"}
    assert all(not s.enabled for s in catalog.strategies)
    assert set(runtime.limits) == {s.strategy_id for s in catalog.strategies}


def test_init_refuses_existing_workspace_and_force_keeps_data(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    (ws.datasets_dir / "keep.txt").write_text("data")
    (ws.gitops_dir / "apps/torghut/strategy-catalog.yaml").write_text("edited: true\n")
    head = _git(ws.gitops_dir, "rev-parse", "HEAD")
    with pytest.raises(WorkspaceError, match="already exists"):
        init_workspace(ws.root)
    ws.artifacts_dir.rmdir()
    init_workspace(ws.root, force=True)
    assert ws.artifacts_dir.is_dir()  # repaired
    assert (ws.datasets_dir / "keep.txt").read_text() == "data"
    assert (ws.gitops_dir / CATALOG_PATH).read_text() == "edited: true\n"
    assert _git(ws.gitops_dir, "rev-parse", "HEAD") == head


def test_discovery_order_flag_env_then_cwd(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    a = init_workspace(tmp_path / "a")
    b = init_workspace(tmp_path / "b")
    nested = a.root / "datasets" / "deep"
    nested.mkdir()
    monkeypatch.delenv("TORGHUT_WORKSPACE", raising=False)
    assert Workspace.find(cwd=nested).root == a.root
    monkeypatch.setenv("TORGHUT_WORKSPACE", str(b.root))
    assert Workspace.find(cwd=nested).root == b.root
    assert Workspace.find(a.root, cwd=nested).root == a.root
    monkeypatch.delenv("TORGHUT_WORKSPACE")
    with pytest.raises(WorkspaceError, match="no workspace found"):
        Workspace.find(cwd=tmp_path)


def test_malformed_settings_is_a_one_line_error(tmp_path: Path, torghut: CliRunner) -> None:
    ws = init_workspace(tmp_path / "w")
    ws.config_path.write_text('name = "x"\nbogus_key = 1\n')
    before = tree_snapshot(ws.root)
    proc = torghut("-w", str(ws.root), "data", "list")
    assert_one_line_error(proc, "torghut.toml", "bogus_key")
    assert tree_snapshot(ws.root) == before


def test_cli_init_twice_exits_2_and_changes_nothing(tmp_path: Path, torghut: CliRunner) -> None:
    target = tmp_path / "w"
    first = torghut("init", str(target), "--json")
    assert first.returncode == 0, first.stderr
    before = tree_snapshot(target)
    second = torghut("init", str(target))
    assert_one_line_error(second, "already exists")
    assert tree_snapshot(target) == before


def test_init_refuses_non_git_gitops_folder(tmp_path: Path) -> None:
    root = tmp_path / "w"
    (root / "gitops").mkdir(parents=True)
    (root / "gitops" / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not a git repository"):
        init_workspace(root)
    assert (root / "gitops" / "notes.txt").read_text() == "mine"


def test_version_flag(torghut: CliRunner) -> None:
    proc = torghut("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("torghut ")
