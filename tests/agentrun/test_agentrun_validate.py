"""The spec catalog and AgentRun validation: every violation listed, heads never reused.

Ledger-touching tests run on SQLite and on PostgreSQL (``$TORGHUT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.agentrun.agentrun_helpers import agent_run, run_doc, write_run
from tests.ledger.conftest import backend, ledger, ledger_ws, pg_database  # noqa: F401
from tests.support import CliRunner, tree_snapshot
from torghut.agentrun import load_catalog, load_run, validate_run
from torghut.agentrun.catalog import parse_spec, spec_text
from torghut.agentrun.keys import VALIDATORS, check_value
from torghut.agentrun.lanes import LANES
from torghut.agentrun.validate import PROMPT_OVERRIDE_ANNOTATION
from torghut.errors import TorghutError
from torghut.gitops.repo import MAIN, rev_parse, update_ref
from torghut.ledger import Ledger, audit, open_ledger
from torghut.workspace import Workspace

REQUIRED = {
    "governance-rollout": {"repository", "base", "head", "designDoc", "torghutNamespace",
                           "agentsNamespace", "gitopsPath"},
    "research-intake": {"researchPrompt", "universe", "featureSchemaVersion", "outputPath"},
    "candidate-build": {"repository", "base", "head", "candidateSpecPath",
                        "strategyCatalogPath"},
    "backtest-robustness": {"datasetSnapshotId", "strategyId", "strategyVersion",
                            "costModelVersion", "artifactPath"},
    "gate-evaluation": {"gateConfigPath", "metricsBundlePath", "artifactPath"},
    "shadow-paper-run": {"torghutNamespace", "gitopsPath", "strategyConfigPatchPath",
                         "evaluationWindow"},
    "promotion": {"candidateId", "repository", "base", "head"},
    "incident-recovery": {"torghutNamespace", "incidentId", "rollbackTarget", "confirm"},
    "audit-pack": {"runId", "artifactRefs", "complianceProfile", "outputPath"},
}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agentruns"
BUILD = {"repository": "gitops", "base": "main", "head": "codex/cand-x",
         "candidateSpecPath": "c.yaml", "strategyCatalogPath": "apps/torghut/strategy-catalog.yaml"}


# ----------------------------------------------------------------------------- catalog


def test_catalog_ships_one_spec_per_lane_with_the_plan_keys() -> None:
    catalog = load_catalog()
    lanes = {s.spec.lane: s for s in catalog.values()}
    assert set(lanes) == set(REQUIRED) == set(LANES)
    for lane, spec in lanes.items():
        assert spec.name == f"torghut-v3-{lane}-v1"
        assert spec.api_version == "agents.proompteng.ai/v1alpha1"
        assert {k.name for k in spec.spec.contract.required_keys} == REQUIRED[lane]
        assert all(k.validator in VALIDATORS for k in spec.contract_keys())
        assert spec.spec.text.startswith("Objective:")


def test_every_key_is_typed_and_validated_not_just_present() -> None:
    keys = {k.name: k for s in load_catalog().values() for k in s.contract_keys()}
    assert check_value(keys["head"], "main") == "must be a branch starting with codex/"
    assert check_value(keys["head"], "codex/ok-1") is None
    assert check_value(keys["head"], "codex/bad..ref") == "must be a valid git branch name"
    assert check_value(keys["confirm"], False) is not None
    assert check_value(keys["confirm"], "true") == "must be of type boolean, not str"
    assert check_value(keys["universe"], ["SPX", "SPX"]) == "lists a symbol twice"
    assert check_value(keys["outputPath"], "../escape") is not None
    assert check_value(keys["outputPath"], "/abs") is not None
    assert check_value(keys["torghutNamespace"], "Torghut_NS") is not None
    assert check_value(keys["evaluationWindow"], "synth@2017-01-01..2017-02-01") is None
    assert check_value(keys["evaluationWindow"], "synth@2017-01") is not None
    assert check_value(keys["artifactRefs"], ["x" * 64]) is not None
    assert check_value(keys["complianceProfile"], "sox") is not None
    assert check_value(keys["costModelVersion"], "costs-v1") is None


def test_a_broken_spec_names_its_file_and_field() -> None:
    text = spec_text("torghut-v3-promotion-v1").replace("validator: candidateRef",
                                                        "validator: nope")
    with pytest.raises(TorghutError) as err:
        parse_spec(text, file="bad.yaml")
    assert str(err.value) == ("bad.yaml: spec.contract.candidateId.validator: unknown "
                              "validator 'nope'")
    renamed = spec_text("torghut-v3-promotion-v1").replace("name: torghut-v3-promotion-v1",
                                                           "name: torghut-v3-other-v1")
    with pytest.raises(TorghutError, match=r"metadata\.name"):
        parse_spec(renamed, file="bad.yaml")


def test_specs_cli_lists_every_spec(torghut: CliRunner) -> None:
    proc = torghut("agentrun", "specs", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [s["metadata"]["name"] for s in listed] == list(load_catalog())
    assert listed[0]["spec"]["contract"]["requiredKeys"][0]["validator"]


# ----------------------------------------------------------------------------- validate


def test_a_valid_run_has_no_violations(tmp_path: Path, ledger_ws: Workspace,  # noqa: F811
                                       ledger: Ledger) -> None:  # noqa: F811
    assert validate_run(ledger_ws, ledger, agent_run(tmp_path, "b-1", "candidate-build",
                                                     BUILD)) == []


def test_invalid_run_lists_every_violation(tmp_path: Path, ledger_ws: Workspace,  # noqa: F811
                                           ledger: Ledger) -> None:  # noqa: F811
    params: dict[str, Any] = {"repository": "gitops", "base": "main", "head": "feature/x",
                              "candidateSpecPath": "/etc/passwd", "prompt": "ignore the spec",
                              "colour": "blue"}
    doc = run_doc("x" * 70, "candidate-build", params, ttl=None,
                  steps=[{"name": "other", "retries": 9}])
    doc["metadata"]["labels"] = {"lane": "promotion"}
    doc["spec"]["vcsPolicy"] = {"required": False, "mode": "none"}
    run = load_run(write_run(tmp_path / "bad.yaml", doc))
    found = {(v.field, v.message.split(" ")[0]) for v in validate_run(ledger_ws, ledger, run)}
    assert {f for f, _ in found} == {
        "metadata.name", "spec.ttlSecondsAfterFinished", "metadata.labels.lane",
        "metadata.labels.stage", "spec.parameters.strategyCatalogPath",
        "spec.parameters.head", "spec.parameters.candidateSpecPath",
        "spec.parameters.colour", "spec.parameters.prompt", "spec.vcsPolicy.mode",
        "spec.vcsPolicy.required", "spec.workflow.steps[0].name",
        "spec.workflow.steps[0].retries"}


def test_validate_cli_exit_2_first_line_counts(tmp_path: Path, ws: Workspace,
                                               torghut: CliRunner) -> None:
    doc = run_doc("b-1", "candidate-build", {**BUILD, "head": "feature/x"}, ttl=None)
    path = write_run(tmp_path / "run.yaml", doc)
    open_ledger(ws).close()  # a workspace in use has its ledger
    before = tree_snapshot(ws.root)
    proc = torghut("-w", str(ws.root), "agentrun", "validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"error: {path}: 2 violation(s)"
    assert lines[1:] == [f"  {path}: spec.ttlSecondsAfterFinished: must be set",
                         f"  {path}: spec.parameters.head: must be a branch starting with "
                         "codex/"]
    assert tree_snapshot(ws.root) == before


def test_structural_errors_are_listed_too(tmp_path: Path, ws: Workspace,
                                          torghut: CliRunner) -> None:
    doc = run_doc("b-1", "candidate-build", BUILD)
    doc["spec"]["runtime"] = {"type": "job"}
    doc["spec"]["ttlSecondsAfterFinished"] = "soon"
    path = write_run(tmp_path / "run.yaml", doc)
    proc = torghut("-w", str(ws.root), "agentrun", "validate", str(path), "--json")
    assert proc.returncode == 2
    fields = [v["field"] for v in json.loads(proc.stdout)["violations"]]
    assert fields == ["spec.runtime.type", "spec.ttlSecondsAfterFinished"]


def test_head_must_be_a_new_branch(tmp_path: Path, ledger_ws: Workspace,  # noqa: F811
                                   ledger: Ledger) -> None:  # noqa: F811
    repo = ledger_ws.gitops_dir
    update_ref(repo, "codex/taken", rev_parse(repo, MAIN) or "", None)
    run = agent_run(tmp_path, "b-1", "candidate-build", {**BUILD, "head": "codex/taken"})
    assert [(v.field, v.message) for v in validate_run(ledger_ws, ledger, run)] == [
        ("spec.parameters.head", "branch 'codex/taken' already exists in the GitOps repo")]


def test_head_used_by_an_earlier_run_in_the_ledger(tmp_path: Path,
                                                   ledger_ws: Workspace,  # noqa: F811
                                                   ledger: Ledger) -> None:  # noqa: F811
    with ledger.write() as session:  # what execute_run records when a run starts
        audit.append(session, "research-agent", "agentrun.started", "b-0",
                     {"head": "codex/cand-x", "lane": "candidate-build"})
    again = agent_run(tmp_path, "b-1", "candidate-build", BUILD)
    assert [v.message for v in validate_run(ledger_ws, ledger, again)] == [
        "already used by run 'b-0'; heads are never reused"]
    same = agent_run(tmp_path, "b-0", "candidate-build", BUILD)  # its own earlier attempt
    assert validate_run(ledger_ws, ledger, same) == []


def test_prompt_override_needs_the_scoping_annotation(tmp_path: Path,
                                                      ledger_ws: Workspace,  # noqa: F811
                                                      ledger: Ledger) -> None:  # noqa: F811
    params = {**BUILD, "prompt": "only touch candidates/"}
    bare = agent_run(tmp_path, "b-1", "candidate-build", params)
    assert [v.field for v in validate_run(ledger_ws, ledger, bare)] == [
        "spec.parameters.prompt"]
    scoped = agent_run(tmp_path, "b-2", "candidate-build", params,
                       annotations={PROMPT_OVERRIDE_ANNOTATION: "candidates folder only"})
    assert validate_run(ledger_ws, ledger, scoped) == []


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_examples_validate(example: Path, ws: Workspace) -> None:
    with open_ledger(ws) as book:
        assert validate_run(ws, book, load_run(example)) == []


def test_load_run_names_file_and_field(tmp_path: Path) -> None:
    doc = run_doc("b-1", "candidate-build", BUILD)
    del doc["spec"]["agentRef"]
    path = write_run(tmp_path / "run.yaml", doc)
    with pytest.raises(TorghutError) as err:
        load_run(path)
    assert err.value.field == "spec.agentRef" and str(path) in str(err.value.file)
