"""Every shipped spec validates and executes its lane end to end on a small workspace.

One chain, as the lanes would run it in a team: research-intake writes a candidate spec,
candidate-build commits it on a codex/ branch, backtest-robustness runs it, gate-evaluation
decides, (validation signs off), promotion proposes, (alice approves, the PR merges),
shadow-paper-run trades it, audit-pack packs it, incident-recovery rolls back, and
governance-rollout opens the docs PR. Real git, real signatures, a real ledger — on SQLite
and on PostgreSQL (``$TORGHUT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.agentrun.agentrun_helpers import agent_run
from tests.lanes.lane_helpers import EDGE
from tests.ledger.conftest import backend, ledger_ws, pg_database  # noqa: F401
from tests.research.research_helpers import SMALL_SPLIT
from torghut.agentrun import RunResult, execute_run, validate_run
from torghut.agentrun.pause import PAUSED, RESUMED, resume
from torghut.agentrun.rollout import runbooks
from torghut.contracts.agentrun import BundleManifest
from torghut.data.synth import build_synth
from torghut.fsutil import file_sha256
from torghut.gitops.repo import MAIN, branch_exists, git, rev_parse, show
from torghut.governance.refusal import Refusal
from torghut.lanes import promotion
from torghut.ledger import Ledger, audit, open_ledger
from torghut.ops.incidents import find_incident, open_incident
from torghut.workspace import Workspace, init_workspace

WINDOW = "synth-edge@2017-06-01..2017-12-31"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = init_workspace(tmp_path_factory.mktemp("agentrun") / "ws")
    build_synth(ws, EDGE, name="synth-edge")
    return ws.datasets_dir


@pytest.fixture
def aws(ledger_ws: Workspace, datasets: Path) -> Workspace:  # noqa: F811
    shutil.copytree(datasets, ledger_ws.datasets_dir, dirs_exist_ok=True)
    return ledger_ws


def _go(ws: Workspace, book: Ledger, tmp: Path, name: str, lane: str,
        params: dict[str, Any], who: str) -> RunResult:
    run = agent_run(tmp, name, lane, params)
    assert validate_run(ws, book, run) == []
    result = execute_run(ws, book, run, as_identity=who, sleep=_no_sleep)
    assert result.status == "succeeded", result.failure
    _check_bundle(book, result)
    return result


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"a successful run must not back off ({seconds} s)")


def _check_bundle(book: Ledger, result: RunResult) -> None:
    """manifest.json lists every other file with its sha256, and the ledger holds it."""
    folder = result.bundle_dir
    manifest = BundleManifest.model_validate_json((folder / "manifest.json").read_text())
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(manifest.files) == on_disk >= {"metrics.json", "decision-log.jsonl"}
    assert (folder / "diffs").is_dir()
    for rel, digest in manifest.files.items():
        assert file_sha256(folder / rel) == digest
        assert book.artifacts.check(digest) is None
    assert file_sha256(folder / "manifest.json") == result.manifest_sha256
    with book.read() as s:
        finished = [e for e in audit.log(s, result.run) if e.action == "agentrun.finished"]
    assert finished[-1].payload["bundle_manifest_sha256"] == result.manifest_sha256
    assert finished[-1].artifact_refs == (result.manifest_sha256,)
    decisions = [json.loads(line) for line in
                 (folder / "decision-log.jsonl").read_text().splitlines()]
    assert decisions[0]["decision"] == "authorized" and decisions[0]["evidence_refs"]
    assert decisions[-1]["decision"] == "succeeded"


def test_every_spec_executes_its_lane_end_to_end(aws: Workspace, tmp_path: Path) -> None:
    ws, repo = aws, aws.gitops_dir
    with open_ledger(ws) as book:
        intake = _go(ws, book, tmp_path, "intake", "research-intake", {
            "researchPrompt": "Does time-series momentum (tsmom) persist on the pair?",
            "universe": ["SYN000", "SYN001"], "featureSchemaVersion": "3.1",
            "outputPath": "candidates", "dataset": "synth-edge",
            "paramGrid": {"lookback": [16, 20, 24]}, "stress": ["pessimistic_costs"],
            "split": SMALL_SPLIT}, "research-agent")
        spec_path = Path(intake.outputs["spec_paths"][0])
        assert spec_path.read_text().startswith("name: tsmom-")
        rel = spec_path.relative_to(ws.root).as_posix()

        build = _go(ws, book, tmp_path, "build", "candidate-build", {
            "repository": "gitops", "base": "main", "head": "codex/cand-1",
            "candidateSpecPath": rel,
            "strategyCatalogPath": "apps/torghut/strategy-catalog.yaml"}, "research-agent")
        assert rev_parse(repo, "codex/cand-1") == build.outputs["head_sha"]
        diff = (build.bundle_dir / "diffs" / "codex_cand-1.diff").read_text()
        assert f"+++ b/candidates/{spec_path.name}" in diff

        bt = _go(ws, book, tmp_path, "bt", "backtest-robustness", {
            "datasetSnapshotId": "synth-edge", "strategyId": "tsmom",
            "strategyVersion": "1.0.0", "costModelVersion": "costs-v1",
            "artifactPath": "bt/1", "candidateSpecPath": rel, "bootstrapReps": 200},
            "research-agent")
        assert bt.outputs["run_id"] and (ws.root / "bt/1/bundle.json").is_file()
        cid = bt.outputs["candidate_id"]

        gates = _go(ws, book, tmp_path, "gates", "gate-evaluation", {
            "gateConfigPath": "gitops:main", "metricsBundlePath": "bt/1/bundle.json",
            "artifactPath": "gates/1"}, "validation-agent")
        assert gates.outputs["decision"] == "allow" and gates.outputs["candidate_id"] == cid

        promotion.signoff(ws, book, cid, as_identity="validation-agent")
        promo = _go(ws, book, tmp_path, "promote", "promotion", {
            "candidateId": cid, "repository": "gitops", "base": "main",
            "head": "codex/promote-1"}, "promotion-agent")
        assert promo.outputs["branch"] == "codex/promote-1" and branch_exists(
            repo, "codex/promote-1")
        assert (promo.bundle_dir / "diffs" / "codex_promote-1.diff").stat().st_size > 0
        promotion.approve(ws, book, promo.outputs["pr_id"], as_identity="alice")
        promotion.merge(ws, book, promo.outputs["pr_id"], as_identity="promotion-agent")

        (ws.root / "patch.yaml").write_text("strategies: []\n")
        paper = _go(ws, book, tmp_path, "paper", "shadow-paper-run", {
            "torghutNamespace": "torghut", "gitopsPath": "apps/torghut",
            "strategyConfigPatchPath": "patch.yaml", "evaluationWindow": WINDOW},
            "validation-agent")
        assert paper.outputs["strategies"] == [spec_path.stem]

        pack = _go(ws, book, tmp_path, "pack", "audit-pack", {
            "runId": bt.outputs["run_id"], "artifactRefs": [bt.outputs["run_id"]],
            "complianceProfile": "sec-15c3-5", "outputPath": "packs/1"}, "oscar")
        assert (ws.root / "packs/1/manifest.json").is_file()
        assert "SEC-1" in pack.outputs["controls"] and "RTS-12" not in pack.outputs["controls"]

        merged_main = rev_parse(repo, MAIN)
        incident = open_incident(ws, book, incident_class="B", severity="medium",
                                 summary="paper fills diverge", as_identity="oscar")
        recover = _go(ws, book, tmp_path, "recover", "incident-recovery", {
            "torghutNamespace": "torghut", "incidentId": incident.incident_id,
            "rollbackTarget": "last-approved", "confirm": True}, "oscar")
        assert rev_parse(repo, MAIN) == recover.outputs["commit"] != merged_main
        assert cid in recover.outputs["rolled_back_candidates"]
        with book.read() as s:
            updated = find_incident(s, incident.incident_id)
        assert updated is not None and updated.timeline.rolled_back_at is not None
        assert "AgentRun recover" in updated.notes[-1].text

        rollout = _go(ws, book, tmp_path, "rollout", "governance-rollout", {
            "repository": "gitops", "base": "main", "head": "codex/rollout-1",
            "designDoc": "docs/design.md", "torghutNamespace": "torghut",
            "agentsNamespace": "agents", "gitopsPath": "apps/torghut"}, "promotion-agent")
        checklist = show(repo, "docs/torghut-v3/rollout-checklist.md", "codex/rollout-1")
        assert checklist is not None and "torghut-v3-audit-pack-v1" in checklist
        assert rollout.outputs["pr_id"] > promo.outputs["pr_id"]
        assert set(runbooks()) <= set(rollout.outputs["files"])  # when the package ships them

        with book.read() as s:
            assert audit.verify(s, book.artifacts).ok
            started = [e for e in audit.log(s) if e.action == "agentrun.started"]
        assert [e.subject for e in started] == ["intake", "build", "bt", "gates", "promote",
                                                "paper", "pack", "recover", "rollout"]
        assert started[1].payload["head"] == "codex/cand-1"
        assert git(repo, "log", "-1", "--format=%an", "codex/cand-1").strip() == \
            "research-agent"


def test_an_identity_without_the_lane_right_fails_policy_and_pauses_the_lane(
        aws: Workspace, tmp_path: Path) -> None:
    ws = aws
    params = {"candidateId": "abcdef123456", "repository": "gitops", "base": "main",
              "head": "codex/p-1"}
    with open_ledger(ws) as book:
        result = execute_run(ws, book, agent_run(tmp_path, "p-1", "promotion", params),
                             as_identity="research-agent")
        assert (result.status, result.failure_class, result.paused) == ("failed", "policy",
                                                                        True)
        assert result.failure is not None and result.failure.startswith("ROLE_NOT_PERMITTED")
        assert not branch_exists(ws.gitops_dir, "codex/p-1")
        with pytest.raises(Refusal) as err:  # a paused lane refuses every new run
            execute_run(ws, book, agent_run(tmp_path, "p-2", "promotion",
                                            {**params, "head": "codex/p-2"}),
                        as_identity="promotion-agent")
        assert err.value.code == "LANE_PAUSED" and err.value.exit_code == 1
        with pytest.raises(Refusal) as denied:  # only operations resumes
            resume(ws, book, "promotion", reason="fixed", as_identity="promotion-agent")
        assert denied.value.code == "ROLE_NOT_PERMITTED"
        resume(ws, book, "promotion", reason="identity mapping fixed", as_identity="oscar")
        again = execute_run(ws, book, agent_run(tmp_path, "p-3", "promotion",
                                                {**params, "head": "codex/p-3"}),
                            as_identity="promotion-agent")
        assert again.failure_class == "deterministic"  # unknown candidate: not a refusal
        assert not again.paused  # one deterministic failure; the lane pauses after 2
        with book.read() as s:
            marks = [e.action for e in audit.log(s, "lane:promotion")]
        assert marks == [PAUSED, "governance.refused", "agentrun.resume", RESUMED]
