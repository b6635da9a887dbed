"""The gate engine: policy, one pure evaluator per gate, hard stops, reports.

No I/O beyond reading a policy file: the evidence and the clock are inputs, so a decision
can be recomputed from recorded artifacts and must come out identical.
"""

from torghut.gates.engine import REQUIRED, evaluate, make_context
from torghut.gates.policy import (
    POLICY_PATH,
    canonical_policy,
    default_policy,
    parse_policy,
    policy_checksum,
    read_policy,
    render_policy_yaml,
)
from torghut.gates.report import render_markdown

__all__ = [
    "POLICY_PATH",
    "REQUIRED",
    "canonical_policy",
    "default_policy",
    "evaluate",
    "make_context",
    "parse_policy",
    "policy_checksum",
    "read_policy",
    "render_markdown",
    "render_policy_yaml",
]
