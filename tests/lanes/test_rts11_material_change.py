"""RTS-11: a material change (limits, new strategy, mode change) needs a designated reviewer,
and the pull request says it is material.

Materiality is computed from the commits (real git); a promotion PR is marked material in its
body, in the signed propose/approve/merge records of the hash-chained ledger and in the merge
commit. The designated reviewer is the ``approver`` role (a human holding it on GitOps main
at merge time): a merge whose approver lost the role is refused for a material change and
allowed for a non-material one. Ledger tests run on SQLite and PostgreSQL.
"""

# control: RTS-11

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.lanes.lane_helpers import count_rows
from tests.lanes.test_lanes_promotion import (  # noqa: F401 - fixtures
    _expect,
    _to_pr,
    book,
    cid,
    pws,
    source,
)
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.runtime.test_runtime_config import commit_main
from torghut.contracts.governance import Role
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.patch import ensure_strategy_limits, upsert_catalog_entry
from torghut.gitops.repo import MAIN, commit_files, git, rev_parse, show, update_ref
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.governance.guard import signed_action_of
from torghut.governance.identities import IDENTITIES_PATH, load_identities, render_identities
from torghut.governance.material import MaterialReason, describe, material_reasons
from torghut.lanes import promotion
from torghut.ledger import Ledger, audit
from torghut.ledger.models import Approval, PullRequest, PullRequestEvent
from torghut.workspace import Workspace, init_workspace

M = MaterialReason
LIMITS = {"instruments": ["AAA"], "max_order_value": 1000.0, "max_orders_per_day": 10,
          "max_position_notional": 5000.0, "venues": ["paper"]}


# ----------------------------------------------------------------------------- classification


def _on_main(ws: Workspace, path: str, change: Callable[[str], str]) -> tuple[str, str]:
    """Commit ``change`` of ``path`` on main; (the commit before, the commit after)."""
    before = rev_parse(ws.gitops_dir, MAIN) or ""
    return before, commit_main(ws, {path: change(show(ws.gitops_dir, path) or "")})


def _catalog(ws: Workspace, **entry: object) -> tuple[str, str]:
    return _on_main(ws, CATALOG_PATH, lambda text: upsert_catalog_entry(
        text, {"strategy_id": "tsmom", **entry}))


@pytest.fixture
def gws(tmp_path: Path) -> Workspace:
    return init_workspace(tmp_path / "ws")


def test_each_kind_of_change_is_classified_from_the_commits(gws: Workspace) -> None:
    repo = gws.gitops_dir

    def reasons(step: tuple[str, str]) -> tuple[MaterialReason, ...]:
        return material_reasons(repo, *step)

    assert reasons(_on_main(gws, "docs/notes.md", lambda _: "notes\n")) == ()
    assert reasons(_on_main(gws, RUNTIME_CONFIG_PATH, lambda t: ensure_strategy_limits(
        t, "fresh-strategy", LIMITS))) == (M.LIMITS_CHANGE,)
    assert reasons(_catalog(gws, enabled=True)) == (M.NEW_STRATEGY,)
    assert reasons(_catalog(gws, params={"lookback": 5})) == (M.STRATEGY_CHANGED,)
    assert reasons(_catalog(gws, mode="shadow")) == (M.MODE_CHANGE,)
    assert reasons(_on_main(gws, RUNTIME_CONFIG_PATH, lambda t: t.replace(
        "mode: paper", "mode: shadow", 1))) == (M.MODE_CHANGE,)
    assert reasons(_on_main(gws, RUNTIME_CONFIG_PATH, lambda t: t.replace(
        "max_open_orders: 200", "max_open_orders: 300", 1))) == (M.LIMITS_CHANGE,)
    assert reasons(_catalog(gws, enabled=False)) == (M.STRATEGY_REMOVED,)
    # Unknown is never harmless: an unparseable catalog is material.
    assert reasons(_on_main(gws, CATALOG_PATH, lambda t: t.replace(
        "enabled: false", "enabled: maybe", 1))) == (M.CONFIG_UNREADABLE,)


def test_the_body_paragraph_names_the_reasons_and_the_reviewer() -> None:
    text = describe([M.NEW_STRATEGY, M.LIMITS_CHANGE])
    assert "**material change**" in text and "NEW_STRATEGY, LIMITS_CHANGE" in text
    assert "`approver` role" in text
    assert "Not a material change" in describe([])


# ----------------------------------------------------------------------------- the lane


def _signed(ledger: Ledger, action: str) -> list[dict[str, object]]:
    with ledger.read() as s:
        return [dict(signed_action_of(e).payload) for e in audit.log(s) if e.action == action]


def _outcomes(ledger: Ledger, action: str) -> list[dict[str, object]]:
    with ledger.read() as s:
        return [e.payload.get("outcome", {}) for e in audit.log(s) if e.action == action]


def test_a_promotion_is_marked_material_in_the_body_the_ledger_and_the_merge(
        pws: Workspace, book: Ledger, cid: str) -> None:  # noqa: F811
    pr = _to_pr(pws, book, cid)
    with book.read() as s:
        row = s.get(PullRequest, pr.pr_id)
        assert row is not None
        body = book.artifacts.get(row.body_sha256).decode()
    assert "**material change** (RTS-11): NEW_STRATEGY, LIMITS_CHANGE" in body
    assert _outcomes(book, "promotion.propose")[-1]["material"] == ["NEW_STRATEGY",
                                                                    "LIMITS_CHANGE"]
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    assert _signed(book, "promotion.approve")[-1]["material"] == ["NEW_STRATEGY",
                                                                  "LIMITS_CHANGE"]
    with book.read() as s:
        assert [a.role for a in s.scalars(select(Approval))] == [Role.APPROVER.value]
    merged = promotion.merge(pws, book, pr.pr_id, as_identity="promotion-agent")
    assert _signed(book, "promotion.merge")[-1]["material"] == ["NEW_STRATEGY",
                                                                "LIMITS_CHANGE"]
    trailers = git(pws.gitops_dir, "log", "-1", "--format=%(trailers:only,unfold)", merged)
    assert "Torghut-Material-Change: NEW_STRATEGY, LIMITS_CHANGE" in trailers
    with book.read() as s:
        assert audit.verify(s, book.artifacts).ok


def _demote(ws: Workspace, name: str) -> None:
    """Main withdraws ``name``'s approver role (as a merged identities PR would)."""
    current = load_identities(ws.gitops_dir)
    demoted = [i.model_copy(update={"roles": (Role.OPERATIONS,)}) if i.name == name else i
               for i in current.identities]
    commit_main(ws, {IDENTITIES_PATH: render_identities(
        current.model_copy(update={"identities": tuple(demoted)}))})


def test_a_material_merge_needs_an_approver_still_designated_on_main(
        pws: Workspace, book: Ledger, cid: str) -> None:  # noqa: F811
    pr = _to_pr(pws, book, cid)
    promotion.approve(pws, book, pr.pr_id, as_identity="alice")
    _demote(pws, "alice")
    main = rev_parse(pws.gitops_dir, MAIN)
    _expect(book, "MATERIAL_REVIEWER_REQUIRED", promotion.merge, pws, book, pr.pr_id,
            as_identity="promotion-agent")
    assert rev_parse(pws.gitops_dir, MAIN) == main  # nothing merged
    assert count_rows(book, PullRequestEvent) == 1  # the approval only


def test_a_non_material_merge_does_not_need_the_designation(
        pws: Workspace, book: Ledger) -> None:  # noqa: F811
    repo = pws.gitops_dir
    base = rev_parse(repo, MAIN) or ""
    head = commit_files(repo, parent=base, files={"docs/notes.md": "notes\n"},
                        message="notes")
    update_ref(repo, "codex/notes", head, None)
    with book.write() as s:
        pr_id = promotion.register_pull_request(
            s, book, kind="docs", branch="codex/notes", head_sha=head, title="notes",
            body="notes", proposer="promotion-agent", repo=repo).id
    promotion.approve(pws, book, pr_id, as_identity="alice")
    assert _signed(book, "promotion.approve")[-1]["material"] == []
    _demote(pws, "alice")
    merged = promotion.merge(pws, book, pr_id, as_identity="promotion-agent")
    assert _signed(book, "promotion.merge")[-1]["material"] == []
    assert "Torghut-Material-Change" not in git(repo, "log", "-1", "--format=%B", merged)
