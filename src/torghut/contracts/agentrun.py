"""ImplementationSpecs and AgentRuns: the manifests that let an agent run one lane.

Both are Kubernetes-shaped (``apiVersion: agents.proompteng.ai/v1alpha1``, camelCase keys), so
the same YAML runs on a laptop (``torghut agentrun exec``) and in a cluster (``render``). A
breaking change is a new ``apiVersion`` (``v1alpha2``), exactly as for any Kubernetes kind;
``schemaVersion`` (optional in YAML) is Torghut's version of the shape within it. The
models are deliberately loose where a *run* may be wrong in many ways at once (name length,
a missing TTL, parameter values): :mod:`torghut.agentrun.validate` lists every such
violation instead of stopping at the first. The bundle manifest written for
each executed run is a plain contract with a ``schema_version``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from torghut.contracts.base import SHA256_PATTERN, Contract

API_VERSION: Final = "agents.proompteng.ai/v1alpha1"
SPEC_NAME_PATTERN = r"^torghut-v3-[a-z][a-z0-9-]*-v[1-9][0-9]*$"

KeyType = Literal["string", "integer", "boolean", "string-list", "mapping"]


class Manifest(Contract):
    """Frozen and strict like every contract, but camelCase on the wire (Kubernetes style)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True,
                              alias_generator=to_camel, populate_by_name=True)


class ObjectMeta(Manifest):
    name: str = Field(min_length=1)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ContractKey(Manifest):
    """One parameter a spec requires (or accepts): its JSON type and a named validator."""

    name: str = Field(pattern=r"^[a-z][A-Za-z0-9]*$")
    type: KeyType
    validator: str = Field(min_length=1, description="A validator of torghut.agentrun.keys")
    description: str = Field(min_length=1)


class SpecContract(Manifest):
    required_keys: tuple[ContractKey, ...] = Field(min_length=1)
    optional_keys: tuple[ContractKey, ...] = ()


class Bounds(Manifest):
    """What one execution may consume; the executor refuses or stops beyond it."""

    wall_time_seconds: int = Field(gt=0, le=86_400)
    trial_budget: int = Field(ge=0, description="Research trials one run may record")
    artifact_bytes: int = Field(gt=0, description="Total size of the bundle and outputs")


class ImplementationSpecBody(Manifest):
    lane: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    identity_action: str = Field(min_length=1,
                                 description="The governance action the lane runs under")
    vcs_mode: Literal["read-write", "none"]
    bounds: Bounds
    contract: SpecContract
    text: str = Field(min_length=1, description="Objective, inputs, outputs")


class KubeObject(Manifest):
    """What every agents.proompteng.ai object has: version, kind, metadata."""

    schema_version: Literal["1.0"] = Field(
        default="1.0", description="Torghut's version of this shape (optional in YAML; "
        "never rendered into cluster manifests)")
    api_version: Literal["agents.proompteng.ai/v1alpha1"] = API_VERSION
    kind: str
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name


class ImplementationSpec(KubeObject):
    kind: Literal["ImplementationSpec"] = "ImplementationSpec"
    spec: ImplementationSpecBody

    def contract_keys(self) -> tuple[ContractKey, ...]:
        return (*self.spec.contract.required_keys, *self.spec.contract.optional_keys)


class Ref(Manifest):
    name: str = Field(min_length=1)


class RuntimeSpec(Manifest):
    type: Literal["workflow"]


class VcsPolicy(Manifest):
    required: bool
    mode: Literal["read-write", "none"]


class WorkflowStep(Manifest):
    name: str = Field(min_length=1)
    retries: int = Field(default=0, ge=0, le=10)
    retry_backoff_seconds: float = Field(default=15.0, ge=0, le=3600)
    timeout_seconds: int = Field(default=900, gt=0, le=86_400)


class Workflow(Manifest):
    steps: tuple[WorkflowStep, ...] = ()


class AgentRunBody(Manifest):
    agent_ref: Ref
    implementation_spec_ref: Ref
    runtime: RuntimeSpec
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    vcs_policy: VcsPolicy
    parameters: dict[str, Any] = Field(default_factory=dict)
    workflow: Workflow = Field(default_factory=Workflow)


class AgentRun(KubeObject):
    kind: Literal["AgentRun"] = "AgentRun"
    spec: AgentRunBody


class BundleManifest(Contract):
    """``manifest.json`` of an AgentRun bundle: what ran and the sha256 of every file."""

    schema_version: Literal["1.0"] = "1.0"
    run: str
    spec: str
    lane: str
    actor: str
    attempt: int = Field(ge=1)
    status: Literal["succeeded", "failed"]
    failure_class: Literal["contract", "policy", "deterministic", "transient"] | None = None
    run_sha256: str = Field(pattern=SHA256_PATTERN, description="The AgentRun, canonical JSON")
    files: dict[str, str] = Field(description="Bundle-relative path → sha256")
