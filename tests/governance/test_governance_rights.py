"""The decision-rights table of DESIGN.md, row by row; agents never approve; four eyes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from torghut.contracts.governance import Identity, IdentityKind, Role
from torghut.errors import TorghutError
from torghut.governance.keys import public_key_b64
from torghut.governance.refusal import Refusal, RefusalCode
from torghut.governance.rights import (
    DECISION_RIGHTS,
    Action,
    allowed_actions,
    authorize,
)

A = Action

# DESIGN.md "Lanes and decision rights": (role, may, may not) — written out here from the
# table's prose, independently of rights.DECISION_RIGHTS, so the two must agree.
TABLE: list[tuple[Role, set[Action], set[Action]]] = [
    (Role.RESEARCH, {A.RESEARCH_PROPOSE, A.RESEARCH_RUN},
     {A.PROMOTION_APPROVE, A.PROMOTION_PROPOSE, A.PROMOTION_MERGE,  # approve, promote
      A.OPS_KILL_SWITCH, A.OPS_ROLLBACK, A.VALIDATION_SIGNOFF,
      A.RUNTIME_SESSION}),  # touch runtime
    (Role.VALIDATION, {A.VALIDATION_EVALUATE, A.VALIDATION_SIGNOFF, A.RUNTIME_SESSION},
     {A.PROMOTION_PROPOSE, A.PROMOTION_MERGE, A.PROMOTION_APPROVE}),  # open or merge PRs
    (Role.PROMOTION, {A.PROMOTION_PROPOSE, A.PROMOTION_MERGE},
     {A.PROMOTION_APPROVE, A.VALIDATION_SIGNOFF, A.VALIDATION_EVALUATE}),  # approve; bypass
    (Role.OPERATIONS, {A.OPS_DRIFT_CHECK, A.OPS_KILL_SWITCH, A.OPS_ROLLBACK, A.OPS_INCIDENT,
                       A.RUNTIME_SESSION, A.AGENTRUN_RESUME},
     {A.PROMOTION_PROPOSE, A.PROMOTION_MERGE, A.PROMOTION_APPROVE}),  # promote
    (Role.APPROVER, {A.PROMOTION_APPROVE},
     {A.PROMOTION_PROPOSE, A.PROMOTION_MERGE, A.RESEARCH_PROPOSE}),
]


def _who(name: str, kind: IdentityKind, *roles: Role) -> Identity:
    return Identity(name=name, kind=kind, roles=roles,
                    public_key=public_key_b64(Ed25519PrivateKey.generate()))


def _refused(identity: Identity, action: Action, **kw: str) -> str:
    with pytest.raises(Refusal) as info:
        authorize(identity, action, **kw)
    assert info.value.exit_code == 1
    return info.value.code


def test_every_action_has_a_row() -> None:
    assert set(DECISION_RIGHTS) == set(Action)
    assert all(DECISION_RIGHTS[a] for a in Action)


@pytest.mark.parametrize("role,may,may_not", TABLE, ids=[r.value for r, _, _ in TABLE])
def test_design_table_row(role: Role, may: set[Action], may_not: set[Action]) -> None:
    person = _who("pat", IdentityKind.HUMAN, role)
    for action in may:
        authorize(person, action)
    for action in may_not:
        assert _refused(person, action) == RefusalCode.ROLE_NOT_PERMITTED, action
    # The row is exact: nothing outside "may" (identity proposals aside) is allowed.
    extra = set(allowed_actions(person)) - may - {A.IDENTITY_PROPOSE}
    assert extra == set()


def test_agents_never_approve_whatever_roles_they_claim() -> None:
    bot = _who("greedy-agent", IdentityKind.AGENT, *Role)
    assert _refused(bot, A.PROMOTION_APPROVE) == RefusalCode.AGENT_CANNOT_APPROVE
    assert A.PROMOTION_APPROVE not in allowed_actions(bot)
    authorize(bot, A.PROMOTION_PROPOSE)  # agents may still propose and validate
    authorize(bot, A.VALIDATION_SIGNOFF)


def test_the_approver_is_neither_the_proposer_nor_the_author() -> None:
    alice = _who("alice", IdentityKind.HUMAN, Role.APPROVER, Role.PROMOTION)
    assert _refused(alice, A.PROMOTION_APPROVE, proposer="alice",
                    author="research-agent") == RefusalCode.APPROVER_IS_PROPOSER
    assert _refused(alice, A.PROMOTION_APPROVE, proposer="promotion-agent",
                    author="alice") == RefusalCode.APPROVER_IS_AUTHOR
    authorize(alice, A.PROMOTION_APPROVE, proposer="promotion-agent", author="research-agent")
    # Proposing and merging are not reviews: the same person may do both.
    authorize(alice, A.PROMOTION_MERGE, proposer="alice", author="alice")


def test_a_validator_does_not_sign_off_its_own_candidate() -> None:
    both = _who("quant", IdentityKind.HUMAN, Role.RESEARCH, Role.VALIDATION)
    assert _refused(both, A.VALIDATION_SIGNOFF,
                    author="quant") == RefusalCode.APPROVER_IS_AUTHOR
    authorize(both, A.VALIDATION_SIGNOFF, author="research-agent")


def test_unknown_action_is_bad_input_not_a_refusal() -> None:
    person = _who("pat", IdentityKind.HUMAN, Role.APPROVER)
    with pytest.raises(TorghutError, match="unknown action") as info:
        authorize(person, "promotion.yolo")
    assert not isinstance(info.value, Refusal) and info.value.exit_code == 2
