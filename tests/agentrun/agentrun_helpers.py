"""Shared by the AgentRun tests: run manifests for every shipped spec, written as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torghut.agentrun import load_run
from torghut.agentrun.catalog import spec_for_lane
from torghut.contracts.agentrun import AgentRun
from torghut.yamlio import dump_yaml


def run_doc(name: str, lane: str, params: dict[str, Any], *, stage: str = "demo",
            ttl: int | None = 3600, steps: list[dict[str, Any]] | None = None,
            annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """An AgentRun manifest (plain data) for ``lane``'s shipped spec."""
    spec = spec_for_lane(lane)
    body: dict[str, Any] = {
        "agentRef": {"name": "codex"},
        "implementationSpecRef": {"name": spec.name},
        "runtime": {"type": "workflow"},
        "vcsPolicy": {"required": spec.spec.vcs_mode == "read-write",
                      "mode": spec.spec.vcs_mode},
        "parameters": params,
        "workflow": {"steps": steps if steps is not None else
                     [{"name": lane, "retries": 2, "retryBackoffSeconds": 15,
                       "timeoutSeconds": 1800}]},
    }
    if ttl is not None:
        body["ttlSecondsAfterFinished"] = ttl
    meta: dict[str, Any] = {"name": name, "labels": {"lane": lane, "stage": stage}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "agents.proompteng.ai/v1alpha1", "kind": "AgentRun",
            "metadata": meta, "spec": body}


def write_run(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_yaml(doc), encoding="utf-8")
    return path


def agent_run(tmp: Path, name: str, lane: str, params: dict[str, Any],
              **kw: Any) -> AgentRun:
    return load_run(write_run(tmp / f"{name}.yaml", run_doc(name, lane, params, **kw)))
