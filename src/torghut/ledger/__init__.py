"""The research ledger: append-only history, the hash-chained audit log, the artifact store.

Use :func:`open_ledger` for a workspace; everything else hangs off the returned
:class:`~torghut.ledger.db.Ledger`.
"""

from torghut.ledger.artifacts import ArtifactStore
from torghut.ledger.db import Ledger, LedgerError, open_ledger

__all__ = ["ArtifactStore", "Ledger", "LedgerError", "open_ledger"]
