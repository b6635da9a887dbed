"""Steps 1-2: the workspace with its demo identities, then the data and Gate 0.

Step 2 loads the real S&P 500 / NASDAQ sample (and checks it), then generates the seeded
synthetic panel the lanes run on and cuts its research window into a snapshot of its own,
so the later paper window is data no research run has seen. Every snapshot is checked by
the Gate 0 code the gates use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from torghut.contracts.datasets import DatasetSource, SourceKind
from torghut.data.quality import check_snapshot
from torghut.data.sample import build_samples
from torghut.data.snapshots import load_snapshot, write_snapshot
from torghut.data.synth import build_synth
from torghut.demo.plan import IDENTITIES, NOISE, PANEL, RESEARCH
from torghut.demo.runner import DemoContext
from torghut.errors import TorghutError
from torghut.fsutil import atomic_write_text
from torghut.governance.identities import load_identities
from torghut.workspace import (
    CONFIG_FILE,
    LedgerSettings,
    Workspace,
    init_workspace,
    render_settings,
)


def init_step(ctx: DemoContext) -> dict[str, Any]:
    """Create the workspace; ``torghut init`` bootstraps the five demo identities."""
    # A crash after init but before the step was recorded: only add what is missing.
    ws = init_workspace(ctx.root, force=(ctx.root / CONFIG_FILE).exists())
    if ctx.ledger_url is not None and ws.settings.ledger.url != ctx.ledger_url:
        atomic_write_text(ws.config_path, render_settings(ws.settings.model_copy(
            update={"ledger": LedgerSettings(url=ctx.ledger_url)})))
        ws = Workspace.load(ws.root)
    ctx.say(f"ledger {ws.settings.ledger.url.split('@')[-1]}")
    known = {i.name: i for i in load_identities(ws.gitops_dir).identities}
    missing = [n for n in IDENTITIES if n not in known]
    if missing:
        raise TorghutError(f"identities missing on GitOps main: {missing}",
                           file=ws.gitops_dir, field="identities")
    rows = {n: {"kind": known[n].kind.value, "roles": [r.value for r in known[n].roles]}
            for n in IDENTITIES}
    for name, row in rows.items():
        ctx.say(f"{name:17} {row['kind']:6} {', '.join(row['roles'])}")
    return {"workspace": str(ws.root), "identities": rows}


def data_step(ctx: DemoContext) -> dict[str, Any]:
    """Sample data, the synthetic panel, its research slice, the noise panel; Gate 0."""
    ws = ctx.ws
    for manifest, _ in build_samples(ws):
        ctx.say(f"real sample {manifest.name}: {', '.join(manifest.symbols)}, "
                f"{manifest.start:%Y-%m-%d}..{manifest.end:%Y-%m-%d}")
    panel, _ = build_synth(ws, ctx.plan.panel_spec(), name=PANEL)
    build_synth(ws, ctx.plan.noise_spec(), name=NOISE)
    bars = load_snapshot(ws, PANEL).bars()
    cut = _research_end(bars, ctx.plan.research_bars)
    write_snapshot(ws, bars[bars["ts"] < cut].reset_index(drop=True), name=RESEARCH,
                   timeframe=panel.timeframe, calendar=panel.calendar, source=DatasetSource(
                       kind=SourceKind.SYNTH, provider=panel.source.provider,
                       description=f"The first {ctx.plan.research_bars} bars of {PANEL} "
                       f"({panel.dataset_id[:12]}); the rest is the held-out paper window",
                       parameters={"parent": panel.dataset_id, "end": cut.isoformat()}))
    gate0 = {}
    for ref in ("sample-us-indices-1d", PANEL, RESEARCH, NOISE):
        snap = load_snapshot(ws, ref)
        report = check_snapshot(snap)
        warnings = sorted({f.code for f in report.findings})
        gate0[ref] = {"dataset_id": snap.manifest.dataset_id, "passed": report.passed,
                      "rows": snap.manifest.rows, "findings": warnings}
        ctx.say(f"Gate 0 {ref}: {'PASS' if report.passed else 'FAIL'} "
                f"({snap.manifest.rows} rows{'; ' + ', '.join(warnings) if warnings else ''})")
    return {"gate0": gate0, "paper_start": cut.isoformat(),
            "paper_end": bars["ts"].iloc[-1].isoformat()}


def _research_end(bars: pd.DataFrame, n: int) -> pd.Timestamp:
    """The timestamp of bar ``n`` (the first held-out bar)."""
    stamps = bars["ts"].drop_duplicates().sort_values().reset_index(drop=True)
    if len(stamps) <= n:
        raise TorghutError(f"the panel has {len(stamps)} bars, not more than {n}",
                           field="research_bars")
    return pd.Timestamp(stamps.iloc[n])
