"""How an AgentRun failure is classified, retried and counted toward pausing its lane.

The orchestration policy (plan-details.md "ImplementationSpecs and AgentRuns"):

* ``transient`` — the world hiccuped (a locked or unreachable database, an I/O error, a
  timeout): retry up to 4 times, backoff 15 s doubling to 300 s; pause after 5 in a row.
* ``deterministic`` — the same inputs fail the same way: no retry; pause after 2.
* ``contract`` — the run does not meet its ImplementationSpec: no retry; pause after 2.
* ``policy`` — governance said no (wrong identity or right, a bound exceeded): no retry;
  pause after 1.

Anything unrecognised is deterministic: retrying what we do not understand only hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, OperationalError

from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal


class FailureClass(StrEnum):
    CONTRACT = "contract"
    POLICY = "policy"
    DETERMINISTIC = "deterministic"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Rule:
    retries: int
    pause_after: int


RULES: dict[FailureClass, Rule] = {
    FailureClass.TRANSIENT: Rule(retries=4, pause_after=5),
    FailureClass.DETERMINISTIC: Rule(retries=0, pause_after=2),
    FailureClass.CONTRACT: Rule(retries=0, pause_after=2),
    FailureClass.POLICY: Rule(retries=0, pause_after=1),
}
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 300.0


class ContractFailure(TorghutError):
    """The run's inputs do not meet the spec's contract (exit 2, like any bad input)."""


class TransientFailure(TorghutError):
    """A failure worth retrying (the environment, not the inputs)."""

    exit_code = 1


class BoundExceeded(Refusal):
    """A run went past its wall time, trial budget or artifact size (a policy failure)."""


def classify(exc: BaseException) -> FailureClass:
    """The failure class of ``exc`` (see the module docstring)."""
    if isinstance(exc, Refusal):
        return FailureClass.POLICY
    if isinstance(exc, ContractFailure):
        return FailureClass.CONTRACT
    if isinstance(exc, (TransientFailure, OperationalError, TimeoutError, ConnectionError)):
        return FailureClass.TRANSIENT
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return FailureClass.TRANSIENT
    return FailureClass.DETERMINISTIC


def backoff_seconds(attempt: int, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Delay before retry ``attempt`` (1-based): base, 2×base, 4×base … capped at 300 s."""
    return min(BACKOFF_CAP_SECONDS, base * float(2 ** (attempt - 1)))


def failure_code(exc: BaseException) -> str:
    """A stable code for the audit event: the refusal's, else the exception's class name."""
    return exc.code if isinstance(exc, Refusal) else type(exc).__name__


def failure_message(exc: BaseException) -> str:
    """The first line of the failure (a refusal's message without its code)."""
    text = (exc.message if isinstance(exc, Refusal) else str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__
