"""A real second process for the concurrency and crash tests.

``appender.py WS single N TAG``   append N events, one transaction each, then print "done".
``appender.py WS batches B TAG``  forever: one transaction recording a kill-switch row, an
                                  artifact and B events; print the committed batch number.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torghut.ledger import audit, open_ledger
from torghut.ledger.models import KillSwitchEvent
from torghut.workspace import Workspace


def main(root: str, mode: str, n: int, tag: str) -> None:
    ledger = open_ledger(Workspace.load(Path(root)))
    if mode == "single":
        for i in range(n):
            with ledger.write() as session:
                audit.append(session, tag, "test.append", f"{tag}:{i}", {"i": i})
        print("done", flush=True)
        return
    batch = 0
    while True:
        batch += 1
        with ledger.write() as session:
            digest = ledger.artifacts.put(f"{tag} batch {batch}".encode())
            row = KillSwitchEvent(action="engage", reason=f"batch {batch}", actor=tag,
                                  incident_id=None)
            audit.record(session, row, actor=tag, action="kill.engage", subject=tag,
                         artifact_refs=[digest])
            events = [audit.NewEvent(tag, "test.batch", f"{tag}:{batch}", {"k": k})
                      for k in range(n)]
            audit.append_many(session, events)
        print(batch, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
