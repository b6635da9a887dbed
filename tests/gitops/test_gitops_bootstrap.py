"""`torghut init --force` on an older workspace adds what main lacks, in one commit."""

from __future__ import annotations

from pathlib import Path

from torghut.gitops.bootstrap import (
    WORKFLOW_PATH,
    ensure_gitops_repo,
    hooks_dir,
    install_pre_commit_hook,
)
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.repo import commit_files, git, rev_parse, show, sync_checkout, update_ref
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH, parse_runtime_config
from torghut.gitops.validate import validate_paths
from torghut.governance.identities import IDENTITIES_PATH, load_identities
from torghut.governance.keys import generate_key, key_path, public_key_b64
from torghut.workspace import Workspace, init_workspace

NEW_FILES = (RUNTIME_CONFIG_PATH, IDENTITIES_PATH, WORKFLOW_PATH)


def _make_old(ws: Workspace) -> str:
    """Turn a fresh workspace into one from before governance existed; return main."""
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    catalog = (show(repo, CATALOG_PATH) or "").replace("enabled: false", "enabled: true", 1)
    old = commit_files(repo, parent=main, message="older layout",
                       files={CATALOG_PATH: catalog, **dict.fromkeys(NEW_FILES)})
    update_ref(repo, "main", old, main)
    assert sync_checkout(repo, main, old)
    for key in ws.keys_dir.iterdir():
        key.unlink()
    (hooks_dir(repo) / "pre-commit").unlink()
    return old


def test_force_adds_missing_files_in_one_commit_and_rewrites_nothing(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "w")
    repo = ws.gitops_dir
    old = _make_old(ws)
    catalog_before = show(repo, CATALOG_PATH)
    kept = generate_key(ws.keys_dir, "alice")  # a key already there is reused, not replaced
    init_workspace(ws.root, force=True)
    head = rev_parse(repo, "main")
    assert git(repo, "rev-parse", "main^").strip() == old  # exactly one new commit
    changed = git(repo, "diff", "--name-status", old, "main").split("\n")
    assert sorted(changed[:-1]) == sorted(f"A\t{p}" for p in NEW_FILES)
    assert show(repo, CATALOG_PATH) == catalog_before
    assert git(repo, "status", "--porcelain").strip() == ""  # the checkout followed
    identities = load_identities(repo)
    alice = identities.get("alice")
    assert alice is not None and alice.public_key == public_key_b64(kept)
    assert all(key_path(ws.keys_dir, i.name).is_file() for i in identities.identities)
    assert (hooks_dir(repo) / "pre-commit").is_file()
    # The runtime config declares example limits for the disabled entries only: the one
    # enabled strategy's limits are a reviewer's decision, so validation asks for them.
    runtime = parse_runtime_config(show(repo, RUNTIME_CONFIG_PATH) or "", file="r")
    assert "legacy-macd-rsi" not in runtime.limits and "tsmom" in runtime.limits
    (error,) = validate_paths([repo / "apps/torghut"]).errors
    assert "RTS-8: enabled strategy 'legacy-macd-rsi' has no limits" in str(error)
    # Nothing missing any more: a second --force changes nothing.
    init_workspace(ws.root, force=True)
    assert rev_parse(repo, "main") == head


def test_an_existing_hook_is_left_alone(ws: Workspace) -> None:
    hook = hooks_dir(ws.gitops_dir) / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    assert install_pre_commit_hook(ws.gitops_dir) is False
    result = ensure_gitops_repo(ws.gitops_dir, ws.keys_dir)
    assert result.added == () and result.commit is None and not result.created
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
