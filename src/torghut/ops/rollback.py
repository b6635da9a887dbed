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

Crash recovery. The rollback commit carries the operator's signed action as a trailer
(``Torghut-Signed-Action``), so if the process dies after ``main`` moved and before the
ledger was written, :func:`recover_rollbacks` (run by ``ops rollback`` and by every
promotion command: propose, approve, merge, status) finds the commit by its
``Torghut-Rollback`` trailer, re-verifies the signature against the key registered when it
was signed, checks the commit is exactly that rollback,
and records it — the same signed action, outcome and ``rolled_back`` moves. The check and
the record happen under the ledger's writer lock, which the rollback itself also holds from
the compare-and-swap to its record, so each rollback commit is recorded exactly once. A
commit that claims to be a rollback but does not verify is recorded once as
``ops.rollback.unverified`` (no lifecycle change), so operators see it.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from torghut.contracts.base import canonical_json
from torghut.contracts.governance import SignedAction
from torghut.errors import TorghutError
from torghut.faults import failpoint
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
from torghut.governance.identities import lookup
from torghut.governance.lifecycle import State, allowed, current_state, transition
from torghut.governance.refusal import Refusal
from torghut.governance.rights import Action, authorize
from torghut.governance.signing import verify
from torghut.ledger import Ledger, audit
from torghut.ledger.models import PullRequest
from torghut.ops.drift import desired_config
from torghut.workspace import Workspace

ROLLBACK_TRAILER = "Torghut-Rollback"
OPERATOR_TRAILER = "Torghut-Operator"
SIGNED_TRAILER = "Torghut-Signed-Action"
SUBJECT = f"gitops:{MAIN}"
RECOVERY_ACTOR = "torghut-recovery"
UNVERIFIED_ACTION = "ops.rollback.unverified"


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
    plan = _plan(repo, base, target)
    if not plan.files:
        raise Refusal("NOTHING_TO_ROLL_BACK", f"{APP_DIR}/ on {MAIN} already matches "
                      f"{target[:12]}")
    _validate_restored(_app_files(repo, target), target)
    return plan


def _plan(repo: Path, base: str, target: str) -> Plan:
    """What restoring ``target``'s ``apps/torghut`` on ``base`` changes (no checks)."""
    want, have = _app_files(repo, target), _app_files(repo, base)
    files: dict[str, str | None] = {p: t for p, t in want.items() if have.get(p) != t}
    files.update({p: None for p in have if p not in want})
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
    new = commit_files(repo, parent=base, files=plan.files, message=_message(plan, signed),
                       author=Author.of(as_identity))
    try:
        # The writer lock is held from the compare-and-swap to the record, so a concurrent
        # recover_rollbacks cannot record this commit too (module docstring).
        with ledger.write() as session:
            update_ref(repo, MAIN, new, base)
            synced = sync_checkout(repo, base, new)
            failpoint("ops.rollback.before_record")
            candidates = _record(session, signed, new, plan, actor=as_identity)
    except RefMoved:
        raise _refused(ledger, as_identity, Refusal(
            "ROLLBACK_RACE", f"{MAIN} moved while rolling back; look again and retry"),
            request) from None
    return RolledBack(plan, new, synced, candidates)


def _message(plan: Plan, signed: SignedAction) -> str:
    return (f"Rollback {APP_DIR} to {plan.target[:12]}\n\n"
            f"Restores {APP_DIR}/ as of {plan.target} ({len(plan.files)} file(s)).\n\n"
            f"{ROLLBACK_TRAILER}: {plan.target}\n{OPERATOR_TRAILER}: {signed.actor}\n"
            f"{SIGNED_TRAILER}: {encode_signed(signed)}\n")


def _record(session: Session, signed: SignedAction, commit: str, plan: Plan, *, actor: str,
            recovered: bool = False) -> tuple[str, ...]:
    """The ledger side of a rollback (inside the caller's write transaction)."""
    candidates = _roll_back_candidates(session, plan.undone_prs, actor, plan.target)
    outcome = {"commit": commit, **plan.to_json(), "rolled_back_candidates": list(candidates)}
    if recovered:
        outcome["recovered_by"] = RECOVERY_ACTOR
    guard.record(session, signed, outcome=outcome)
    return candidates


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


# ----------------------------------------------------------------------------- recovery


def encode_signed(signed: SignedAction) -> str:
    """The signed action as one trailer value: base64url of its canonical JSON."""
    raw = canonical_json(signed.model_dump(mode="json")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_signed(value: str) -> SignedAction | None:
    """The inverse of :func:`encode_signed`; ``None`` for anything that is not one."""
    try:
        return SignedAction.model_validate_json(base64.urlsafe_b64decode(value.strip()))
    except (binascii.Error, ValueError, ValidationError):
        return None


@dataclass(frozen=True)
class RollbackCommit:
    """A commit on main that says it is a rollback (its trailers, as written)."""

    sha: str
    parents: tuple[str, ...]
    target: str
    operator: str
    signed: str


_TRAILERS = (ROLLBACK_TRAILER, OPERATOR_TRAILER, SIGNED_TRAILER)


def rollback_commits(repo: Path, ref: str = MAIN) -> list[RollbackCommit]:
    """Commits in ``ref``'s history with a ``Torghut-Rollback`` trailer, oldest first."""
    fields = "%x1f".join(f"%(trailers:key={k},valueonly,unfold,separator=%x20)"
                         for k in _TRAILERS)
    out = git(repo, "log", "--reverse", f"--grep=^{ROLLBACK_TRAILER}: ",
              f"--format=%H%x1f%P%x1f{fields}%x1e", ref)
    found = []
    for record in out.split("\x1e"):
        parts = [p.strip() for p in record.split("\x1f")]
        if len(parts) != 5 or not parts[2]:
            continue
        sha, parents, target, operator, signed = parts
        found.append(RollbackCommit(sha, tuple(parents.split()), target, operator, signed))
    return found


def _recorded(session: Session) -> tuple[set[str], set[str]]:
    """(commits, signatures) of the rollbacks the ledger already holds."""
    commits, signatures = set(), set()
    for event in audit.log(session, SUBJECT):
        if event.action == Action.OPS_ROLLBACK.value:
            commit = (event.payload.get("outcome") or {}).get("commit")
            signatures.add(str(event.payload["signed_action"]["signature"]))
        elif event.action == UNVERIFIED_ACTION:
            commit = event.payload.get("commit")
        else:
            continue
        if isinstance(commit, str):
            commits.add(commit)
    return commits, signatures


def recover_rollbacks(ws: Workspace, ledger: Ledger) -> list[str]:
    """Record rollback commits that reached ``main`` but not the ledger (module docstring);
    the commits recorded now."""
    repo = ws.gitops_dir
    if rev_parse(repo, MAIN) is None:
        return []
    commits = rollback_commits(repo)
    if not commits:
        return []
    with ledger.read() as session:
        done, _ = _recorded(session)
    recovered = []
    for commit in (c for c in commits if c.sha not in done):
        with ledger.write() as session:  # re-check under the writer lock: exactly once
            done_now, signatures = _recorded(session)
            if commit.sha in done_now:
                continue
            _recover_one(repo, session, commit, signatures)
        recovered.append(commit.sha)
    return recovered


def _recover_one(repo: Path, session: Session, commit: RollbackCommit,
                 signatures: set[str]) -> None:
    checked = _verified(repo, commit, signatures)
    if isinstance(checked, Refusal):
        audit.append(session, RECOVERY_ACTOR, UNVERIFIED_ACTION, SUBJECT,
                     {"commit": commit.sha, "target": commit.target,
                      "operator": commit.operator, "code": checked.code,
                      "message": checked.message})
        return
    base = commit.parents[0]
    _record(session, checked, commit.sha, _plan(repo, base, commit.target),
            actor=RECOVERY_ACTOR, recovered=True)
    if rev_parse(repo, MAIN) == commit.sha:  # the crash may have come before the checkout
        sync_checkout(repo, base, commit.sha)


def _verified(repo: Path, commit: RollbackCommit,
              signatures: set[str]) -> SignedAction | Refusal:
    """The commit's signed action if it proves this exact rollback, else why not."""
    # control: FIA-6 (only a signed, authorised rollback moves candidates to rolled_back)
    signed = decode_signed(commit.signed) if commit.signed else None
    if signed is None:
        return Refusal("ROLLBACK_UNSIGNED", f"{commit.sha[:12]} carries no readable "
                       f"{SIGNED_TRAILER} trailer")
    base = commit.parents[0] if len(commit.parents) == 1 else None
    payload = signed.payload
    if (signed.action != Action.OPS_ROLLBACK.value or signed.subject != SUBJECT
            or base is None or payload.get("base") != base
            or payload.get("target") != commit.target or payload.get("dry_run") is not False
            or signed.actor != commit.operator):
        return Refusal("ROLLBACK_MISMATCH", f"{commit.sha[:12]}'s signed action is not the "
                       "rollback this commit makes")
    if signed.signature in signatures:
        return Refusal("SIGNATURE_REUSED", f"{commit.sha[:12]} reuses the signed action of "
                       "a rollback already recorded")
    if not _restores(repo, commit.sha, base, commit.target):
        return Refusal("ROLLBACK_MISMATCH", f"{commit.sha[:12]} does not restore exactly "
                       f"{APP_DIR}/ of {commit.target[:12]}")
    try:  # the key and roles registered when it was signed (main was at ``base``)
        identity = lookup(repo, signed.actor, base)
        verify(signed, identity)
        authorize(identity, Action.OPS_ROLLBACK)
    except Refusal as exc:
        return exc
    except TorghutError as exc:
        return Refusal("ROLLBACK_UNVERIFIABLE", exc.message)
    return signed


def _restores(repo: Path, sha: str, base: str, target: str) -> bool:
    """``sha`` is ``base`` with ``apps/torghut`` replaced by ``target``'s, nothing else."""
    def tree(commit: str) -> str:
        return git(repo, "ls-tree", commit, "--", APP_DIR).strip()

    outside = git(repo, "diff", "--name-only", base, sha, "--", ".", f":(exclude){APP_DIR}")
    return tree(sha) == tree(target) and not outside.strip()
