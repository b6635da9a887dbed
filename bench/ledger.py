"""Benchmark the audit chain on SQLite; prints one JSON object.

Appends ``--events`` events (default 100k) in transactions of ``--batch`` events through
:func:`torghut.ledger.audit.append_many`, then runs the full :func:`audit.verify` (every
link, every payload hash) and, separately, the verification of 1k events that vouch for
history rows (each row re-read and re-canonicalised with RFC 8785).
Targets (issue 4): append >= 10k events/s, verify >= 100k events/s.
Usage: ``python bench/ledger.py [--events N] [--batch B]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from torghut.ledger import audit
from torghut.ledger.artifacts import ArtifactStore
from torghut.ledger.db import Ledger, create_ledger_engine, migrate
from torghut.ledger.models import KillSwitchEvent


def _ledger(root: Path) -> Ledger:
    engine = create_ledger_engine(f"sqlite:///{root / 'ledger.db'}")
    migrate(engine)
    return Ledger(engine=engine, artifacts=ArtifactStore(root / "artifacts"))


def bench_append(ledger: Ledger, n: int, batch: int) -> float:
    start = time.perf_counter()
    for first in range(0, n, batch):
        events = [audit.NewEvent("bench", "trial.recorded", f"cand-{i % 97}",
                                 {"trial": i, "sharpe": i / 7919, "params": {"lookback": i % 50}})
                  for i in range(first, min(n, first + batch))]
        with ledger.write() as session:
            audit.append_many(session, events)
    return time.perf_counter() - start


def bench_row_events(ledger: Ledger, n: int) -> None:
    with ledger.write() as session:
        for i in range(n):
            row = KillSwitchEvent(action="engage", reason=f"drill {i}", actor="bench",
                                  incident_id=None)
            audit.record(session, row, actor="bench", action="kill.engage", subject="kill")


def bench_verify(ledger: Ledger) -> tuple[audit.VerifyReport, float]:
    start = time.perf_counter()
    with ledger.read() as session:
        report = audit.verify(session, ledger.artifacts)
    return report, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="torghut-bench-ledger-") as tmp:
        ledger = _ledger(Path(tmp))
        append_s = bench_append(ledger, args.events, args.batch)
        report, verify_s = bench_verify(ledger)
        assert report.ok and report.events == args.events, report
        rows = 1_000
        bench_row_events(ledger, rows)
        rows_report, rows_verify_s = bench_verify(ledger)
        assert rows_report.ok and rows_report.events == args.events + rows
        ledger.close()
    print(json.dumps({
        "bench": "ledger",
        "python": platform.python_version(),
        "backend": "sqlite",
        "events": args.events,
        "batch": args.batch,
        "append_s": round(append_s, 4),
        "append_events_per_s": round(args.events / append_s),
        "verify_s": round(verify_s, 4),
        "verify_events_per_s": round(args.events / verify_s),
        "verify_with_row_events_s": round(rows_verify_s, 4),
        "targets": {"append_events_per_s": 10_000, "verify_events_per_s": 100_000},
    }, indent=2))


if __name__ == "__main__":
    main()
