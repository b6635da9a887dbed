"""Kubernetes manifests that run an AgentRun in a cluster.

Two ways, both rendered: the ImplementationSpec and AgentRun themselves (for a cluster with
the agents controller), and a plain ``batch/v1`` Job that runs ``torghut agentrun exec`` on
the run (mounted from a ConfigMap) as the given identity against a workspace volume. The
Job's own retries are off (``backoffLimit: 0``): retrying is torghut's decision, made by
failure class, not Kubernetes'. ``activeDeadlineSeconds`` is the spec's wall-time bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torghut.agentrun.catalog import get_spec, spec_text
from torghut.contracts.agentrun import AgentRun
from torghut.fsutil import atomic_write_text
from torghut.yamlio import dump_yaml, load_yaml_text

DEFAULT_IMAGE = "ghcr.io/proompteng/torghut:latest"
WORKSPACE_CLAIM = "torghut-workspace"
RUN_FILE = "run.yaml"


def _manifest(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", by_alias=True, exclude_none=True,
                                exclude={"schema_version"}))


def render_manifests(run: AgentRun, *, as_identity: str, image: str = DEFAULT_IMAGE,
                     namespace: str | None = None) -> dict[str, dict[str, Any]]:
    """File name → manifest: implementationspec, agentrun, configmap, job."""
    spec = get_spec(run.spec.implementation_spec_ref.name)
    ns = namespace or run.metadata.namespace or "agents"
    labels = {**run.metadata.labels, "app.kubernetes.io/managed-by": "torghut"}

    def meta() -> dict[str, Any]:  # a fresh copy per document (no YAML anchors)
        return {"name": run.name, "namespace": ns, "labels": dict(labels)}

    run_doc = _manifest(run)
    run_doc["metadata"]["namespace"] = ns
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
                 "data": {RUN_FILE: dump_yaml(_manifest(run))}}
    container = {"name": "agentrun", "image": image,
                 "args": ["-w", "/workspace", "agentrun", "exec", f"/config/{RUN_FILE}",
                          "--as", as_identity],
                 "volumeMounts": [{"name": "run", "mountPath": "/config", "readOnly": True},
                                  {"name": "workspace", "mountPath": "/workspace"}]}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(),
           "spec": {"ttlSecondsAfterFinished": run.spec.ttl_seconds_after_finished,
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": spec.spec.bounds.wall_time_seconds,
                    "template": {"metadata": {"labels": dict(labels)}, "spec": {
                        "restartPolicy": "Never", "containers": [container],
                        "volumes": [{"name": "run", "configMap": {"name": run.name}},
                                    {"name": "workspace", "persistentVolumeClaim":
                                     {"claimName": WORKSPACE_CLAIM}}]}}}}
    spec_doc = load_yaml_text(spec_text(spec.name), file=spec.name)  # as shipped, comments
    spec_doc["metadata"]["namespace"] = ns
    return {"implementationspec.yaml": spec_doc, "agentrun.yaml": run_doc,
            "configmap.yaml": configmap, "job.yaml": job}


def render_text(docs: dict[str, dict[str, Any]]) -> str:
    """All manifests as one multi-document YAML stream."""
    return "---\n".join(dump_yaml(doc) for doc in docs.values())


def write_manifests(docs: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    paths = []
    for name, doc in docs.items():
        atomic_write_text(out / name, dump_yaml(doc))
        paths.append(out / name)
    return paths
