"""The LLM advisory path: summarise evidence, propose parameter deltas, review a rationale.

Advice only (control AI-M1): nothing in this package can submit an order, approve, merge,
roll back or touch the kill switch — ``tests/advisory/test_advisory_architecture.py``
proves it by walking the package's imports. Off by default (stage 0; ``config``); every
call is recorded in the audit chain (AI-R2); a timeout or invalid output is "no advice",
never a default action (AI-S2); reliability over a window of recorded calls feeds the
``llm_reliability`` hard stop and forces the path off when it falls below the policy (AI-R1).

No eager imports: importing the package loads nothing but this docstring.
"""
