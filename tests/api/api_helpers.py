"""Shared by the service tests: an in-process client, a real server, ledger data to show."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from torghut.api.app import create_app
from torghut.api.host import RuntimeHost
from torghut.gitops.manifests import CATALOG_PATH
from torghut.gitops.patch import upsert_catalog_entry
from torghut.gitops.repo import BOT, commit_files, rev_parse, show, sync_checkout, update_ref
from torghut.ledger import open_ledger
from torghut.ledger.models import (
    Candidate,
    FillRow,
    GateResultRow,
    OrderEvent,
    Promotion,
    PromotionDecision,
    PullRequest,
    PullRequestEvent,
    ResearchRun,
    RiskDecisionRow,
    RuntimeSession,
)
from torghut.runtime.records import CANCEL_REQUESTED_EVENT
from torghut.workspace import Workspace

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
H = "ab" * 32
ROOT = Path(__file__).resolve().parents[2]
EVIL = "<script>alert('x')</script>"

# The real console entry with `serve` mounted, whether or not cli/main.py mounts it yet.
_CLI = ("from torghut.cli import main, serve; "
        "any(c.name == 'serve' for c in main.app.registered_commands) or "
        "main.app.command('serve')(serve.serve); main.run()")


@contextmanager
def client_for(ws: Workspace, *, reload_seconds: float = 5.0,
               host: RuntimeHost | None = None) -> Iterator[tuple[TestClient, RuntimeHost]]:
    """A TestClient whose lifespan starts (and stops) the host's reconcile loop."""
    runtime = host or RuntimeHost(ws, reload_seconds=reload_seconds)
    with TestClient(create_app(ws, host=runtime)) as client:
        yield client, runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_cmd(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-c", _CLI, "-w", str(ws.root), "serve", *args]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]


@contextmanager
def real_server(ws: Workspace, *, reload_seconds: float = 5.0,
                timeout: float = 60.0) -> Iterator[Server]:
    """``torghut serve`` in a subprocess on a free port, ready (``/readyz`` 200) on entry."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TORGHUT_WORKSPACE"}
    proc = subprocess.Popen(serve_cmd(ws, "--port", str(port), "--reload-seconds",
                                      str(reload_seconds)), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, timeout)
        yield Server(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"torghut serve exited {proc.returncode}: {out}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"torghut serve not ready at {url} within {timeout} s")


# ----------------------------------------------------------------------------- GitOps main


def commit_main(ws: Workspace, files: dict[str, str]) -> str:
    """Commit ``files`` on GitOps main (as a merged PR would) and return the new sha."""
    repo = ws.gitops_dir
    old = rev_parse(repo, "main")
    assert old is not None
    new = commit_files(repo, parent=old, files=dict(files), message="test change", author=BOT)
    update_ref(repo, "main", new, old)
    sync_checkout(repo, old, new)
    return new


def enable_tsmom(ws: Workspace, params: dict[str, object] | None = None) -> str:
    """main's catalog with ``tsmom`` enabled (``params`` may be type-mismatched on purpose)."""
    catalog = show(ws.gitops_dir, CATALOG_PATH)
    assert catalog is not None
    return upsert_catalog_entry(catalog, {"strategy_id": "tsmom", "enabled": True,
                                          "params": params or {}})


# ----------------------------------------------------------------------------- ledger data


@dataclass(frozen=True)
class SeededFill:
    session_id: str
    strategy_id: str
    symbol: str
    side: str
    qty: float
    price: float
    arrival_mid: float
    commission: float
    ts: datetime


def fills_plan() -> list[SeededFill]:
    """A small, varied set of fills over two sessions, three symbols, two strategies."""
    out = []
    for k in range(24):
        side = "buy" if k % 3 else "sell"
        mid = 100.0 + k
        drift = ((k * 7) % 11 - 3) * 0.01  # a spread of slippages, some negative
        out.append(SeededFill(session_id="sess-a" if k < 16 else "sess-b",
                              strategy_id="tsmom" if k % 2 else "mean-reversion",
                              symbol=("AAA", "BBB", "CCC")[k % 3], side=side, qty=10.0 + k,
                              price=mid + (drift if side == "buy" else -drift),
                              arrival_mid=mid, commission=0.01 * (k % 4),
                              ts=T0 + timedelta(minutes=5 * k)))
    return out


def seed_runtime(ws: Workspace, plan: list[SeededFill] | None = None) -> list[SeededFill]:
    """Sessions, order events (submitted / filled / some cancels and replaces), fills, risk
    decisions — written straight to the ledger, as the runtime's recorder would."""
    plan = plan if plan is not None else fills_plan()
    with open_ledger(ws) as ledger, ledger.write() as session:
        for sid in sorted({f.session_id for f in plan}):
            session.add(RuntimeSession(id=sid, mode="paper", config_sha256=H, dataset_id=None,
                                       window_start=T0, window_end=T0 + timedelta(days=1),
                                       operator="oscar", summary={}, artifact_refs=[],
                                       created_at=T0 + timedelta(hours=1 if sid == "sess-a"
                                                                  else 2)))
        for k, f in enumerate(plan):
            coid = f"o-{k}"
            common = dict(session_id=f.session_id, client_order_id=coid, order_id=f"p-{k}",
                          strategy_id=f.strategy_id, strategy_ref=f"{f.strategy_id}@1.0.0",
                          operator="oscar", symbol=f.symbol, side=f.side, qty=f.qty)
            session.add(OrderEvent(**common, event="submitted", status="working",
                                   filled_qty=0.0, price=None, code="OK", ts=f.ts))
            if k % 7 == 0:  # a kill-switch cancel the fill beat (as the runtime writes it)
                session.add(OrderEvent(**common, event=CANCEL_REQUESTED_EVENT, status="working",
                                       filled_qty=0.0, price=None, code="KILL_SWITCH:firm",
                                       ts=f.ts))
            session.add(OrderEvent(**common, event="filled", status="filled", filled_qty=f.qty,
                                   price=f.price, code="OK", ts=f.ts))
            session.add(FillRow(session_id=f.session_id, fill_id=f"f-{k}", order_id=f"p-{k}",
                                client_order_id=coid, strategy_id=f.strategy_id,
                                symbol=f.symbol, side=f.side, qty=f.qty, price=f.price,
                                arrival_mid=f.arrival_mid, commission=f.commission,
                                spread_cost=0.0, impact_cost=0.0, hypothetical=False,
                                ts=f.ts))
            code = ("ACCEPTED", "PRICE_COLLAR", "ACCEPTED", "RATE_LIMIT")[k % 4]
            session.add(RiskDecisionRow(session_id=f.session_id, client_order_id=coid,
                                        strategy_id=f.strategy_id, symbol=f.symbol,
                                        action="accept" if code == "ACCEPTED" else "reject",
                                        code=code, control=None, limit_id=None,
                                        requested_qty=f.qty, approved_qty=f.qty, observed=None,
                                        threshold=None, message="", ts=f.ts))
    return plan


def seed_governance(ws: Workspace, *, title: str = "Promote tsmom") -> None:
    """A candidate with gate results, a promotion state, and a PR with events."""
    with open_ledger(ws) as ledger, ledger.write() as session:
        session.add(ResearchRun(id="run-1", strategy_type="tsmom", strategy_version="1.0.0",
                                code_version="c0de", feature_schema_version="3.0",
                                dataset_id="ds-1", execution_model_id="e", cost_model_id="c",
                                runner_version="1", seed=1, status="passed", bundle_hash=H,
                                started_at=T0, finished_at=T0))
        session.flush()
        for cid in ("cand-1", "cand-2"):
            session.add(Candidate(id=cid, run_id="run-1", trial_id=None, strategy_type="tsmom",
                                  strategy_version="1.0.0", params={}, decision_count=1,
                                  trade_count=1, symbols=["AAA"], universe="demo",
                                  spec_hash=H))
        session.flush()
        session.add(PromotionDecision(id="dec-1", candidate_id="cand-1", target="paper",
                                      allowed=True, reasons=[], input_hashes={},
                                      policy_version="1.0", policy_checksum=H,
                                      code_version="c0de", report_hash=None, decided_at=T0))
        session.flush()
        for cid, gate, status in (("cand-1", "gate0", "pass"), ("cand-1", "gate1", "fail"),
                                  ("cand-1", "gate1", "pass"), ("cand-2", "gate0", "fail")):
            session.add(GateResultRow(candidate_id=cid, decision_id=None, gate_id=gate,
                                      status=status, result={}, result_hash=H,
                                      policy_checksum=H, evaluated_at=T0))
        session.add(Promotion(candidate_id="cand-1", decision_id="dec-1", state="validated",
                              requested_mode="paper", approved_mode=None, actor="v",
                              reasons=[], patch_ref=None, effective_at=None))
        session.add(Promotion(candidate_id="cand-1", decision_id="dec-1", state="pr_open",
                              requested_mode="paper", approved_mode=None, actor="p",
                              reasons=[], patch_ref=None, effective_at=None))
        session.add(PullRequest(id=1, provider="local", kind="promotion", candidate_id="cand-1",
                                decision_id="dec-1", target="paper", branch="codex/promote-1",
                                base_sha="a" * 40, head_sha="b" * 40, title=title,
                                body_sha256=H, evidence_sha256=None,
                                proposer="promotion-agent"))
        session.add(PullRequest(id=2, provider="local", kind="identity", candidate_id=None,
                                decision_id=None, target=None, branch="codex/identity-bob",
                                base_sha="a" * 40, head_sha="c" * 40, title="Add bob",
                                body_sha256=H, evidence_sha256=None, proposer="oscar"))
        session.flush()
        session.add(PullRequestEvent(pull_request_id=1, event="approved", actor="alice",
                                     head_sha="b" * 40, reasons=[], signature=None))
