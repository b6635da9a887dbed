"""Decision rights: which role may take which action (DESIGN.md "Lanes and decision rights").

The table is data (:data:`DECISION_RIGHTS`), so the documentation, the checks and the tests
read the same thing. Three rules sit on top of it (DESIGN.md invariant 6, separation of
duties; RTS 6 Art 5 "named approver"):

* agents never approve, whatever roles they claim (:data:`HUMAN_ONLY`);
* a reviewer never approves or signs off what it proposed (:data:`INDEPENDENT_REVIEW`);
* nor what it authored.

What the table leaves out is refused: research may not approve, promote or touch the runtime;
validation may not open or merge promotion PRs; promotion may not approve; operations may not
promote.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from torghut.contracts.governance import Identity, IdentityKind, Role
from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal, RefusalCode


class Action(StrEnum):
    """Every mutating action a governed command can take (the signed ``action`` field)."""

    RESEARCH_PROPOSE = "research.propose"  # propose a candidate
    RESEARCH_RUN = "research.run"  # run experiments, record trials
    VALIDATION_EVALUATE = "validation.evaluate"  # replay / walk-forward / stress / TCA, gates
    VALIDATION_SIGNOFF = "validation.signoff"  # sign off (or reject) readiness
    PROMOTION_PROPOSE = "promotion.propose"  # open a GitOps PR for a validated candidate
    PROMOTION_MERGE = "promotion.merge"  # merge an approved PR
    PROMOTION_APPROVE = "promotion.approve"  # approve (or reject) a promotion PR
    OPS_KILL_SWITCH = "ops.kill_switch"  # engage or release the kill switch
    OPS_ROLLBACK = "ops.rollback"  # revert main to a known-good config
    OPS_INCIDENT = "ops.incident"  # open or close an incident
    OPS_DRIFT_CHECK = "ops.drift_check"  # compare GitOps with the runtime, raise the hard stop
    IDENTITY_PROPOSE = "identity.propose"  # propose an identities.yaml change (a PR)
    RUNTIME_SESSION = "runtime.session"  # run a paper/shadow session (Gate 2/3 evidence)
    AGENTRUN_RESUME = "agentrun.resume"  # resume a lane paused by repeated AgentRun failures


def _rights(table: Mapping[Action, Iterable[Role]]) -> Mapping[Action, frozenset[Role]]:
    return MappingProxyType({action: frozenset(roles) for action, roles in table.items()})


DECISION_RIGHTS: Mapping[Action, frozenset[Role]] = _rights({
    Action.RESEARCH_PROPOSE: {Role.RESEARCH},
    Action.RESEARCH_RUN: {Role.RESEARCH},
    Action.VALIDATION_EVALUATE: {Role.VALIDATION},
    Action.VALIDATION_SIGNOFF: {Role.VALIDATION},
    Action.PROMOTION_PROPOSE: {Role.PROMOTION},
    Action.PROMOTION_MERGE: {Role.PROMOTION},
    Action.PROMOTION_APPROVE: {Role.APPROVER},
    Action.OPS_KILL_SWITCH: {Role.OPERATIONS},
    Action.OPS_ROLLBACK: {Role.OPERATIONS},
    Action.OPS_INCIDENT: {Role.OPERATIONS},
    Action.OPS_DRIFT_CHECK: {Role.OPERATIONS},
    # Identity changes are PRs a human merges; only people-facing roles may propose them.
    Action.IDENTITY_PROPOSE: {Role.OPERATIONS, Role.APPROVER},
    # A paper session measures (validation) and runs the runtime (operations); it never
    # promotes, and research cannot start one on its own candidates.
    Action.RUNTIME_SESSION: {Role.VALIDATION, Role.OPERATIONS},
    # A paused lane stays paused until operations looks at why (orchestration policy).
    Action.AGENTRUN_RESUME: {Role.OPERATIONS},
})
"""Action → the roles that may take it. Every :class:`Action` has a row."""

HUMAN_ONLY: frozenset[Action] = frozenset({Action.PROMOTION_APPROVE})
"""Actions an agent may never take, whatever roles it holds."""

INDEPENDENT_REVIEW: frozenset[Action] = frozenset({Action.PROMOTION_APPROVE,
                                                   Action.VALIDATION_SIGNOFF})
"""Reviews: refused to the proposer and to the author of what is reviewed."""


def as_action(action: Action | str) -> Action:
    """Parse an action name; an unknown one is bad input (exit 2), not a refusal."""
    try:
        return Action(action)
    except ValueError:
        known = ", ".join(a.value for a in Action)
        raise TorghutError(f"unknown action {action!r} (known: {known})",
                           field="action") from None


def permitted_roles(action: Action | str) -> frozenset[Role]:
    return DECISION_RIGHTS[as_action(action)]


def allowed_actions(identity: Identity) -> tuple[Action, ...]:
    """Every action ``identity`` may take (before the proposer/author checks)."""
    return tuple(a for a in Action if _may(identity, a))


def _may(identity: Identity, action: Action) -> bool:
    if action in HUMAN_ONLY and identity.kind is IdentityKind.AGENT:
        return False
    return bool(DECISION_RIGHTS[action] & set(identity.roles))


def authorize(identity: Identity, action: Action | str, *, proposer: str | None = None,
              author: str | None = None) -> None:
    """Refuse unless ``identity`` may take ``action`` (a :class:`Refusal`, exit 1).

    ``proposer``/``author`` name who proposed and who authored the thing reviewed; for
    review actions the reviewer must be neither. Codes, checked in this order:
    ``AGENT_CANNOT_APPROVE``, ``ROLE_NOT_PERMITTED``, ``APPROVER_IS_PROPOSER``,
    ``APPROVER_IS_AUTHOR``.
    """
    act = as_action(action)
    if act in HUMAN_ONLY and identity.kind is IdentityKind.AGENT:
        raise Refusal(RefusalCode.AGENT_CANNOT_APPROVE,
                      f"{identity.name!r} is an agent; agents never take {act.value}")
    needed = DECISION_RIGHTS[act]  # control: RTS-5 (a named approver of the right role)
    if not needed & set(identity.roles):
        held = ", ".join(r.value for r in identity.roles)
        wanted = ", ".join(sorted(r.value for r in needed))
        raise Refusal(RefusalCode.ROLE_NOT_PERMITTED,
                      f"{identity.name!r} (roles: {held}) may not take {act.value}; "
                      f"it needs the role {wanted}")
    if act not in INDEPENDENT_REVIEW:
        return
    if proposer is not None and proposer == identity.name:
        raise Refusal(RefusalCode.APPROVER_IS_PROPOSER,
                      f"{identity.name!r} proposed this; {act.value} must come from "
                      "someone else")
    if author is not None and author == identity.name:
        raise Refusal(RefusalCode.APPROVER_IS_AUTHOR,
                      f"{identity.name!r} authored this; {act.value} must come from "
                      "someone else")
