"""Governance: identities, Ed25519-signed actions, decision rights and the audit guard.

* :mod:`~torghut.governance.keys` — private keys in the workspace's ``keys/`` (0600).
* :mod:`~torghut.governance.signing` — sign/verify a :class:`~torghut.contracts.SignedAction`.
* :mod:`~torghut.governance.rights` — the decision-rights table and :func:`authorize`.
* :mod:`~torghut.governance.identities` — ``identities.yaml`` as merged on GitOps ``main``.
* :mod:`~torghut.governance.guard` — sign → verify → authorize → audit, for every command.
* :mod:`~torghut.governance.proposals` — ``identity create``: a key and an identities PR.
"""

from torghut.governance.refusal import Refusal, RefusalCode
from torghut.governance.rights import Action, authorize

__all__ = ["Action", "Refusal", "RefusalCode", "authorize"]
