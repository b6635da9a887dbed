"""``torghut ops drift-check``: desired (GitOps main) vs effective (runtime) config.

Real workspaces, a real git merge, real subprocesses, a real HTTP server for ``--runtime``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.ops.ops_helpers import promotion_merge
from tests.support import CliRunner, assert_one_line_error
from torghut.contracts.ops import EffectiveConfig, config_sha256
from torghut.contracts.strategies import StrategyCatalog
from torghut.gates import default_policy
from torghut.gates.engine import make_context
from torghut.gates.hard_stops import evaluate_hard_stops
from torghut.ledger import audit, open_ledger
from torghut.ops.conditions import RUNTIME_APPLIED_ACTION, measure_hard_stops
from torghut.ops.drift import DRIFT_CHECKED_ACTION, desired_config, diff_configs
from torghut.workspace import Workspace


def _write(path: Path, config: EffectiveConfig) -> Path:
    path.write_text(config.model_dump_json(), encoding="utf-8")
    return path


def _toggled(config: EffectiveConfig, strategy_id: str) -> EffectiveConfig:
    """The config with one strategy's ``enabled`` flipped."""
    strategies = tuple(s.model_copy(update={"enabled": not s.enabled})
                       if s.strategy_id == strategy_id else s
                       for s in config.catalog.strategies)
    return EffectiveConfig.of(StrategyCatalog(strategies=strategies), config.runtime_config)


def _hard_stop_codes(ws: Workspace) -> list[str]:
    ledger = open_ledger(ws)
    try:
        with ledger.read() as session:
            measured = measure_hard_stops(ws, ledger, session)
    finally:
        ledger.close()
    ctx = make_context(default_policy(), datetime.now(UTC))
    result = evaluate_hard_stops(measured.inputs, ctx, measured.absent)
    return [f"{r.code}|{r.message}" for r in result.reasons]


def _drift(torghut: CliRunner, ws: Workspace, *args: str) -> tuple[int, dict[str, Any]]:
    proc = torghut("-w", str(ws.root), "ops", "drift-check", *args, "--as", "oscar", "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


# ----------------------------------------------------------------------------- the diff


def test_config_hash_is_of_the_parsed_config_and_checked_on_read(ws: Workspace) -> None:
    desired = desired_config(ws.gitops_dir)
    assert desired.config_sha256 == config_sha256(desired.catalog, desired.runtime_config)
    raw = json.loads(desired.model_dump_json())
    raw["catalog"]["strategies"][1]["enabled"] = True  # content changed, hash kept
    with pytest.raises(ValueError, match="config_sha256 does not match"):
        EffectiveConfig.model_validate(raw)


def test_diff_is_keyed_by_strategy_id_not_list_index(ws: Workspace) -> None:
    desired = desired_config(ws.gitops_dir)
    reordered = EffectiveConfig.of(
        StrategyCatalog(strategies=tuple(reversed(desired.catalog.strategies))),
        desired.runtime_config)
    assert diff_configs(desired, reordered) == []
    assert reordered.config_sha256 != desired.config_sha256  # order is part of the hash
    limits = dict(desired.runtime_config.limits)
    limits["tsmom"] = limits["tsmom"].model_copy(update={"max_order_value": 1.0})
    dropped = EffectiveConfig.of(
        StrategyCatalog(strategies=desired.catalog.strategies[:1]),
        desired.runtime_config.model_copy(update={"limits": limits}))
    found = {d.path: (d.desired, d.effective) for d in diff_configs(desired, dropped)}
    assert found["runtime_config.limits.tsmom.max_order_value"] == (50_000.0, 1.0)
    assert found["catalog.strategies[vol-breakout]"][1] is None
    assert found["catalog.strategies[vol-breakout]"][0]["strategy_type"] == "vol_breakout"
    assert len(found) == 4  # three entries missing + one limit


# ----------------------------------------------------------------------------- the CLI


def test_in_sync_exits_0_and_clears_the_drift_hard_stop(ws: Workspace, torghut: CliRunner,
                                                        tmp_path: Path) -> None:
    promotion_merge(ws)
    snap = tmp_path / "snap.json"
    made = torghut("-w", str(ws.root), "ops", "config-snapshot", "--out", str(snap))
    assert made.returncode == 0, made.stderr
    assert EffectiveConfig.model_validate_json(snap.read_text()) == desired_config(ws.gitops_dir)
    code, out = _drift(torghut, ws, "--snapshot", str(snap))
    assert code == 0 and out["in_sync"] and out["differences"] == []
    assert out["config_sha256"] == out["gitops_sha256"]
    assert not [c for c in _hard_stop_codes(ws) if "DRIFT" in c]


def test_a_changed_field_exits_1_with_its_path_and_holds_the_hard_stop(
        ws: Workspace, torghut: CliRunner, tmp_path: Path) -> None:
    promotion_merge(ws)
    desired = desired_config(ws.gitops_dir)
    snap = _write(tmp_path / "snap.json", _toggled(desired, "tsmom"))  # runtime still off
    code, out = _drift(torghut, ws, "--snapshot", str(snap))
    assert code == 1 and not out["in_sync"]
    assert out["differences"] == [{"path": "catalog.strategies[tsmom].enabled",
                                   "desired": True, "effective": False}]
    codes = _hard_stop_codes(ws)
    assert codes == ["HARD_STOP_GITOPS_DRIFT|runtime config differs from GitOps: "
                     "catalog.strategies[tsmom].enabled"]
    text = torghut("-w", str(ws.root), "ops", "drift-check", "--snapshot", str(snap), "--as",
                   "oscar")
    assert text.returncode == 1 and "catalog.strategies[tsmom].enabled" in text.stdout
    ledger = open_ledger(ws)
    try:
        with ledger.read() as s:
            events = [e for e in audit.log(s, "config") if e.action == DRIFT_CHECKED_ACTION]
            assert audit.verify(s, ledger.artifacts).ok
    finally:
        ledger.close()
    assert len(events) == 2 and events[-1].payload["gitops_sha256"] == desired.config_sha256
    assert events[-1].payload["config_sha256"] == _toggled(desired, "tsmom").config_sha256
    # The runtime catches up: an in-sync check (the latest event) releases the hard stop.
    _write(snap, desired)
    assert _drift(torghut, ws, "--snapshot", str(snap))[0] == 0
    assert not [c for c in _hard_stop_codes(ws) if "DRIFT" in c]


def test_main_moving_after_a_clean_check_is_drift(ws: Workspace, torghut: CliRunner,
                                                  tmp_path: Path) -> None:
    snap = _write(tmp_path / "snap.json", desired_config(ws.gitops_dir))
    assert _drift(torghut, ws, "--snapshot", str(snap))[0] == 0
    promotion_merge(ws)  # main changes; the runtime has not applied it
    assert [c.split("|")[0] for c in _hard_stop_codes(ws)] == ["HARD_STOP_GITOPS_DRIFT"]


def test_the_latest_of_applied_and_checked_events_decides(ws: Workspace) -> None:
    desired = desired_config(ws.gitops_dir)
    stale = _toggled(desired, "tsmom").config_sha256
    ledger = open_ledger(ws)
    try:
        with ledger.write() as s:
            audit.append(s, "runtime", RUNTIME_APPLIED_ACTION, "config",
                         {"config_sha256": stale})
    finally:
        ledger.close()
    assert [c.split("|")[0] for c in _hard_stop_codes(ws)] == ["HARD_STOP_GITOPS_DRIFT"]
    ledger = open_ledger(ws)
    try:
        with ledger.write() as s:
            audit.append(s, "runtime", RUNTIME_APPLIED_ACTION, "config",
                         {"config_sha256": desired.config_sha256})
    finally:
        ledger.close()
    assert _hard_stop_codes(ws) == []


class _Runtime(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        ok = self.path == "/api/config"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body if ok else b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def runtime_server() -> Iterator[tuple[str, type[_Runtime]]]:
    handler = type("Handler", (_Runtime,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_runtime_url_is_read_over_http(ws: Workspace, torghut: CliRunner,
                                       runtime_server: tuple[str, type[_Runtime]]) -> None:
    url, handler = runtime_server
    handler.body = _toggled(desired_config(ws.gitops_dir), "mean-reversion").model_dump_json(
    ).encode()
    code, out = _drift(torghut, ws, "--runtime", url)
    assert code == 1 and out["source"] == f"runtime:{url}"
    assert [d["path"] for d in out["differences"]] == ["catalog.strategies[mean-reversion]"
                                                       ".enabled"]


def test_bad_input_exits_2_with_one_line(ws: Workspace, torghut: CliRunner,
                                         tmp_path: Path) -> None:
    proc = torghut("-w", str(ws.root), "ops", "drift-check", "--runtime",
                   "http://127.0.0.1:9", "--as", "oscar")
    assert_one_line_error(proc, "runtime unreachable", "/api/config")
    forged = json.loads(desired_config(ws.gitops_dir).model_dump_json())
    forged["runtime_config"]["mode"] = "live"
    bad = tmp_path / "forged.json"
    bad.write_text(json.dumps(forged))
    assert_one_line_error(torghut("-w", str(ws.root), "ops", "drift-check", "--snapshot",
                                  str(bad), "--as", "oscar"), str(bad))
    bad.write_text("{not json")
    assert_one_line_error(torghut("-w", str(ws.root), "ops", "drift-check", "--snapshot",
                                  str(bad), "--as", "oscar"), "not JSON")
    assert_one_line_error(torghut("-w", str(ws.root), "ops", "drift-check", "--as", "oscar"),
                          "exactly one of")


def test_a_non_operations_identity_is_refused_and_audited(ws: Workspace, torghut: CliRunner,
                                                          tmp_path: Path) -> None:
    snap = _write(tmp_path / "snap.json", desired_config(ws.gitops_dir))
    proc = torghut("-w", str(ws.root), "ops", "drift-check", "--snapshot", str(snap),
                   "--as", "promotion-agent")
    assert proc.returncode == 1 and "ROLE_NOT_PERMITTED" in proc.stderr
    ledger = open_ledger(ws)
    try:
        with ledger.read() as s:
            actions = [e.action for e in audit.log(s, "config")]
    finally:
        ledger.close()
    assert actions == ["governance.refused"]
