"""Advisory settings: GitOps ``apps/torghut/advisory.yaml`` on ``main``, off when absent.

Why GitOps and not ``torghut.toml``: turning the path on or moving it up a stage is a
governed change (plan "LLM advisory stages": each transition needs an evaluation report, a
model/prompt version lock and explicit approval), so it goes through a reviewed pull
request to ``main`` like the strategy catalog, and the gate evaluation reads the stage
from the same commit it reads everything else from. ``torghut.toml`` is local, unreviewed
workspace plumbing. No secret lives in the file: ``api_key_env`` names the environment
variable the key is read from at call time.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from torghut.advisory.prompts import ALLOW_LIST, LATEST, Task
from torghut.contracts.base import Contract
from torghut.gitops.repo import MAIN, show
from torghut.workspace import Workspace
from torghut.yamlio import load_yaml_text, validate_yaml_model

ADVISORY_PATH = "apps/torghut/advisory.yaml"
_GITOPS_TOKENS = frozenset({"GITHUB_TOKEN", "GH_TOKEN"})
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class CircuitSettings(Contract):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    failures_to_open: int = Field(default=3, ge=1, description="Consecutive no-advice "
                                  "calls that open the circuit")
    open_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False,
                                description="How long an opened circuit stays open")


class AdvisoryConfig(Contract):
    """Stage, endpoint, model, prompt version lock, timeout, token budgets, circuit."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    schema_version: Literal["1.0"] = "1.0"
    stage: int = Field(default=0, ge=0, le=3, description="0 off, 1 shadow, 2 paper "
                       "advisory, 3 controlled live advisory")
    endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$",
                                 description="OpenAI-compatible base URL (…/v1 is added)")
    model: str | None = Field(default=None, min_length=1)
    api_key_env: str = Field(default="TORGHUT_LLM_API_KEY",
                             description="Environment variable holding the API key")
    timeout_seconds: float = Field(default=5.0, gt=0, le=120, allow_inf_nan=False)
    max_tokens: int = Field(default=512, ge=1, le=32_768,
                            description="Completion token budget per call")
    max_prompt_tokens: int = Field(default=4_000, ge=1, description="Prompt budget "
                                   "(estimated at 4 characters a token); larger: no call")
    prompts: dict[Task, str] = Field(default_factory=lambda: dict(LATEST), strict=False,
                                     description="Pinned prompt version per task")
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable NAME, not a key")
        if _holds_trading_credential(value):
            raise ValueError(f"{value} may hold a trading or GitOps credential; the advisory "
                             "path reads only its own key (e.g. TORGHUT_LLM_API_KEY)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> AdvisoryConfig:
        for task, version in self.prompts.items():
            if (task, version) not in ALLOW_LIST:  # an unlisted prompt is never sent
                raise ValueError(f"prompt {task.value}@{version} is not on the allow-list")
        if self.stage > 0 and (self.endpoint is None or self.model is None):
            raise ValueError("an enabled advisory path (stage > 0) needs endpoint and model")
        return self

    @property
    def enabled(self) -> bool:
        return self.stage > 0

    def prompt_version(self, task: Task) -> str:
        return self.prompts.get(task, LATEST[task])

    def api_key(self) -> str | None:
        """Read at call time, never stored or recorded."""
        return os.environ.get(self.api_key_env) or None


def _holds_trading_credential(name: str) -> bool:
    """Torghut's own variables other than ``TORGHUT_LLM_*`` (live broker secrets among them)
    and the GitHub token that can merge promotion PRs are never the advisory key."""
    # control: AI-M1 (the LLM path holds no credential that can trade, approve or merge)
    upper = name.upper()
    ours = upper.startswith("TORGHUT_") and not upper.startswith("TORGHUT_LLM_")
    return ours or upper in _GITOPS_TOKENS


def parse_config(text: str, *, file: str) -> AdvisoryConfig:
    data = load_yaml_text(text, file=file)
    return validate_yaml_model(AdvisoryConfig, data if data is not None else {}, file=file)


def load_config(ws: Workspace) -> AdvisoryConfig:
    """The advisory config on GitOps ``main``; no file there means off (stage 0)."""
    text = show(ws.gitops_dir, ADVISORY_PATH, MAIN)
    if text is None:
        return AdvisoryConfig()
    return parse_config(text, file=f"{ws.gitops_dir / ADVISORY_PATH}@{MAIN}")
