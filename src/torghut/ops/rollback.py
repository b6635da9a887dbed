"""Rollback: restore ``apps/torghut/`` on GitOps ``main`` to a known-good commit.

The operations lane's emergency path, independent of promotion (CONTROLS.md FIA-6: "rollback
to the last approved version is one command and is drilled"). One commit on top of ``main``
whose tree holds the target's ``apps/torghut/`` and everything else untouched — not a
history rewrite, so the audit trail in git stays whole. Before anything moves, the restored
config is validated exactly as ``torghut config validate`` would (invariant 7: an invalid
config is never deployed, not even by a rollback); ``main`` moves by compare-and-swap (a
concurrent writer makes it ``ROLLBACK_RACE``), and only then is the ledger written, in one
transaction: the signed action with its outcome, and ``rolled_back`` for every candidate
whose promotion merge the rollback undoes (git is the source of truth, as for merges).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from torghut.errors import TorghutError
from torghut.gitops.manifests import APP_DIR
from torghut.gitops.merge import PR_TRAILER, promotion_merges
from torghut.gitops.repo import (
    MAIN,
    Author,
    RefMoved,
    commit_files,
    git,
    is_ancestor,
    rev_parse,
    sync_checkout,
    update_ref,
)
from torghut.gitops.validate import validate_paths
from torghut.governance import guard
from torghut.governance.lifecycle import State, allowed, current_state, transition
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action
from torghut.ledger import Ledger
from torghut.ledger.models import PullRequest
from torghut.ops.drift import desired_config
from torghut.workspace import Workspace

ROLLBACK_TRAILER = "Torghut-Rollback"
OPERATOR_TRAILER = "Torghut-Operator"
SUBJECT = f"gitops:{MAIN}"


@dataclass(frozen=True)
class Plan:
    """What a rollback would do: the files it restores and the strategies it toggles."""

    base: str  # current main
    target: str  # the commit whose apps/torghut is restored
    files: dict[str, str | None]  # path → restored text (None: deleted)
    enabled: tuple[str, ...]  # strategies the rollback enables
    disabled: tuple[str, ...]  # strategies it disables (or removes while enabled)
    undone_prs: tuple[int, ...]  # promotion PRs whose merges it undoes

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "target": self.target,
                "files": {p: "deleted" if t is None else "restored"
                          for p, t in sorted(self.files.items())},
                "enabled": list(self.enabled), "disabled": list(self.disabled),
                "undone_pull_requests": list(self.undone_prs)}


@dataclass(frozen=True)
class RolledBack:
    plan: Plan
    commit: str | None  # None for a dry run
    checkout_synced: bool
    rolled_back: tuple[str, ...]  # candidate ids moved to rolled_back

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "dry_run": self.commit is None, "commit": self.commit,
                "checkout_synced": self.checkout_synced,
                "rolled_back_candidates": list(self.rolled_back)}


# ----------------------------------------------------------------------------- target


def resolve_target(repo: Path, *, to: str | None, last_approved: bool) -> tuple[str, str]:
    """(current main, target sha); a bad or foreign REF is bad input (exit 2)."""
    if (to is None) == (not last_approved):
        raise TorghutError("give exactly one of --to REF or --last-approved",
                           field="--to/--last-approved")
    base = rev_parse(repo, MAIN)
    if base is None:
        raise TorghutError(f"the GitOps repo has no {MAIN!r} branch", file=repo)
    if last_approved:
        return base, last_approved_target(repo, base)
    assert to is not None
    target = rev_parse(repo, to)
    if target is None:
        raise TorghutError(f"no such commit {to!r}", file=repo, field="--to")
    if not is_ancestor(repo, target, base):
        raise TorghutError(f"{to!r} ({target[:12]}) is not in {MAIN}'s history", file=repo,
                           field="--to")
    return base, target


def last_approved_target(repo: Path, base: str) -> str:
    """The first parent of the newest promotion merge on main's first-parent line."""
    for sha, _pr in promotion_merges(repo, base):
        return git(repo, "rev-parse", f"{sha}^1").strip()
    raise Refusal("NOTHING_TO_ROLL_BACK", f"{MAIN} has no promotion merge (no commit with a "
                  f"{PR_TRAILER} trailer) to roll back")


# ----------------------------------------------------------------------------- plan


def plan_rollback(repo: Path, base: str, target: str) -> Plan:
    """The restore of ``apps/torghut`` (refuses ``NOTHING_TO_ROLL_BACK`` /
    ``ROLLBACK_CONFIG_INVALID``); pure of side effects."""
    want, have = _app_files(repo, target), _app_files(repo, base)
    files: dict[str, str | None] = {p: t for p, t in want.items() if have.get(p) != t}
    files.update({p: None for p in have if p not in want})
    if not files:
        raise Refusal("NOTHING_TO_ROLL_BACK", f"{APP_DIR}/ on {MAIN} already matches "
                      f"{target[:12]}")
    _validate_restored(want, target)
    enabled, disabled = _toggles(repo, base, target)
    undone = tuple(pr for _sha, pr in promotion_merges(repo, f"{target}..{base}"))
    return Plan(base, target, files, enabled, disabled, undone)


def _app_files(repo: Path, commit: str) -> dict[str, str]:
    names = git(repo, "ls-tree", "-r", "--name-only", commit, "--", f"{APP_DIR}/").split("\n")
    return {n: git(repo, "show", f"{commit}:{n}") for n in names if n}


def _validate_restored(files: dict[str, str], target: str) -> None:
    """``validate_paths`` on a temporary export of the restored ``apps/torghut``."""
    with tempfile.TemporaryDirectory(prefix="torghut-rollback-") as tmp:
        root = Path(tmp)
        (root / APP_DIR).mkdir(parents=True)
        for path, text in files.items():
            out = root / path
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        result = validate_paths([root / APP_DIR])
        errors = [str(e).replace(f"{tmp}/", f"{target[:12]}:") for e in result.errors]
    if errors:
        raise Refusal("ROLLBACK_CONFIG_INVALID", f"the config at {target[:12]} does not "
                      f"validate ({len(errors)} error(s)): {errors[0]}")


def _toggles(repo: Path, base: str, target: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Strategies the rollback enables / disables (best effort: an unparsable side is
    reported as no toggles — validation has already passed for the target)."""
    try:
        now = {s.strategy_id: s.enabled for s in desired_config(repo, base).catalog.strategies}
        then = {s.strategy_id: s.enabled
                for s in desired_config(repo, target).catalog.strategies}
    except TorghutError:
        return (), ()
    enabled = tuple(sorted(s for s, on in then.items() if on and not now.get(s, False)))
    disabled = tuple(sorted(s for s, on in now.items() if on and not then.get(s, False)))
    return enabled, disabled


# ----------------------------------------------------------------------------- act


def rollback(ws: Workspace, ledger: Ledger, *, to: str | None = None,
             last_approved: bool = False, dry_run: bool = False,
             as_identity: str) -> RolledBack:
    """Roll ``apps/torghut`` on main back (module docstring); a dry run changes nothing.

    A dry run writes nothing to the ledger either (a refusal, being a governance decision,
    is still audited as ``governance.refused``).
    """
    # control: FIA-6
    repo = ws.gitops_dir
    mode = "last-approved" if last_approved else "to"
    try:
        base, target = resolve_target(repo, to=to, last_approved=last_approved)
    except Refusal as exc:
        raise _refused(ledger, as_identity, exc) from None
    request = {"mode": mode, "ref": to, "base": base, "target": target, "dry_run": dry_run}
    signed = guard.check(ws, ledger, as_identity, Action.OPS_ROLLBACK, SUBJECT, request)
    try:
        plan = plan_rollback(repo, base, target)
    except Refusal as exc:
        raise _refused(ledger, as_identity, exc, request) from None
    if dry_run:
        return RolledBack(plan, None, False, ())
    message = (f"Rollback {APP_DIR} to {target[:12]}\n\n"
               f"Restores {APP_DIR}/ as of {target} ({len(plan.files)} file(s)).\n\n"
               f"{ROLLBACK_TRAILER}: {target}\n{OPERATOR_TRAILER}: {as_identity}\n")
    new = commit_files(repo, parent=base, files=plan.files, message=message,
                       author=Author.of(as_identity))
    try:
        update_ref(repo, MAIN, new, base)
    except RefMoved:
        raise _refused(ledger, as_identity, Refusal(
            "ROLLBACK_RACE", f"{MAIN} moved while rolling back; look again and retry"),
            request) from None
    synced = sync_checkout(repo, base, new)
    with ledger.write() as session:
        candidates = _roll_back_candidates(session, plan.undone_prs, as_identity, target)
        guard.record(session, signed, outcome={"commit": new, **plan.to_json(),
                                               "rolled_back_candidates": list(candidates)})
    return RolledBack(plan, new, synced, candidates)


def _roll_back_candidates(session: Session, prs: tuple[int, ...], actor: str,
                          target: str) -> tuple[str, ...]:
    """``rolled_back`` for each candidate whose promotion merge is undone (if it can move)."""
    moved: list[str] = []
    for pr_id in prs:
        pr = session.get(PullRequest, pr_id)
        if pr is None or pr.candidate_id is None or pr.candidate_id in moved:
            continue
        if not allowed(current_state(session, pr.candidate_id), State.ROLLED_BACK):
            continue
        transition(session, pr.candidate_id, State.ROLLED_BACK, actor=actor,
                   reasons=(f"{MAIN} rolled back to {target[:12]}; pull request {pr_id}'s "
                            "merge is undone",), patch_ref=f"rollback:{target}")
        moved.append(pr.candidate_id)
    return tuple(moved)


def _refused(ledger: Ledger, actor: str, exc: Refusal,
             request: dict[str, Any] | None = None) -> Refusal:
    guard.record_refusal(ledger, actor, Action.OPS_ROLLBACK.value, SUBJECT, exc,
                         payload=request)
    return exc
