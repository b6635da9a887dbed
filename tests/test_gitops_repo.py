"""Git plumbing for the GitOps repo: commits without a checkout, compare-and-swap refs."""

from __future__ import annotations

import pytest

from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.repo import (
    Author,
    GitError,
    RefMoved,
    branch_exists,
    commit_files,
    git,
    rev_parse,
    show,
    sync_checkout,
    update_ref,
)
from torghut.workspace import Workspace


def test_show_reads_a_file_at_a_ref_and_none_when_absent(ws: Workspace) -> None:
    repo = ws.gitops_dir
    assert show(repo, CATALOG_PATH) == (repo / CATALOG_PATH).read_text(encoding="utf-8")
    assert show(repo, "apps/torghut/nope.yaml") is None
    with pytest.raises(GitError, match="no such ref"):
        show(repo, CATALOG_PATH, ref="no-such-branch")


def test_commit_on_a_branch_leaves_the_checkout_and_main_alone(ws: Workspace) -> None:
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    sha = commit_files(repo, parent=main, files={"apps/torghut/x.yaml": "a: 1\n"},
                       message="add x\n\nTorghut-Candidate: abc\n", author=Author.of("alice"))
    update_ref(repo, "codex/x", sha, None)
    assert branch_exists(repo, "codex/x")
    assert rev_parse(repo, "main") == main
    assert not (repo / "apps/torghut/x.yaml").exists()
    assert git(repo, "status", "--porcelain").strip() == ""
    assert show(repo, "apps/torghut/x.yaml", ref="codex/x") == "a: 1\n"
    log = git(repo, "log", "-1", "--format=%an|%(trailers:key=Torghut-Candidate,valueonly)",
              "codex/x")
    assert log.strip() == "alice|abc"


def test_update_ref_is_a_compare_and_swap(ws: Workspace) -> None:
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    a = commit_files(repo, parent=main, files={"a.txt": "a\n"}, message="a")
    b = commit_files(repo, parent=main, files={"b.txt": "b\n"}, message="b")
    update_ref(repo, "main", a, main)
    with pytest.raises(RefMoved):  # the second writer read the same old value: refused
        update_ref(repo, "main", b, main)
    with pytest.raises(RefMoved):  # a branch that exists cannot be created again
        update_ref(repo, "main", b, None)
    assert rev_parse(repo, "main") == a


def test_a_clean_checkout_of_main_follows_and_a_dirty_one_is_left_alone(
        ws: Workspace) -> None:
    repo = ws.gitops_dir
    main = rev_parse(repo, "main")
    assert main is not None
    new = commit_files(repo, parent=main, files={"a.txt": "a\n", CATALOG_PATH: None},
                       message="a")
    update_ref(repo, "main", new, main)
    assert sync_checkout(repo, main, new)
    assert (repo / "a.txt").read_text() == "a\n" and not (repo / CATALOG_PATH).exists()
    assert git(repo, "status", "--porcelain").strip() == ""
    newer = commit_files(repo, parent=new, files={"a.txt": "b\n"}, message="b")
    update_ref(repo, "main", newer, new)
    (repo / "a.txt").write_text("local edit\n")
    assert not sync_checkout(repo, new, newer)
    assert (repo / "a.txt").read_text() == "local edit\n"
