"""Refusals: a governance decision that said no, with a stable reason code.

A refusal is not bad input (exit 2) but a decision (exit 1): the request was well formed and
the rules said no — a role without the right, an agent trying to approve, a signature that
does not verify. Each carries a stable UPPER_SNAKE ``code`` that scripts and the audit chain
can rely on.
"""

from __future__ import annotations

from enum import StrEnum

from torghut.errors import TorghutError


class RefusalCode(StrEnum):
    """Stable reason codes of governance refusals (the audit chain records them)."""

    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    KEY_MISMATCH = "KEY_MISMATCH"
    ACTOR_MISMATCH = "ACTOR_MISMATCH"
    ROLE_NOT_PERMITTED = "ROLE_NOT_PERMITTED"
    AGENT_CANNOT_APPROVE = "AGENT_CANNOT_APPROVE"
    APPROVER_IS_PROPOSER = "APPROVER_IS_PROPOSER"
    APPROVER_IS_AUTHOR = "APPROVER_IS_AUTHOR"


class Refusal(TorghutError):
    """A governance refusal: exit code 1, printed as ``CODE: message``.

    ``code`` is a :class:`RefusalCode` for the checks in this package; callers building on
    it (the promotion state machine) may use their own stable UPPER_SNAKE codes.
    """

    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = str(code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
