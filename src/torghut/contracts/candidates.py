"""A research candidate: a plugin, its params (or a grid), the data and the models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from torghut.contracts.base import SEMVER_PATTERN, SHA256_PATTERN, SLUG_PATTERN, Contract


class CandidateSpec(Contract):
    """What a researcher (person or agent) proposes for validation.

    Either ``params`` (one point) or ``param_grid`` (a sweep; every point is a trial that
    counts against the strategy family) is given. :meth:`content_hash` identifies it.
    """

    schema_version: Literal["1.0"] = "1.0"
    name: str = Field(pattern=SLUG_PATTERN)
    strategy_type: str = Field(pattern=SLUG_PATTERN)
    version: str = Field(pattern=SEMVER_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    param_grid: dict[str, tuple[Any, ...]] | None = None
    dataset_id: str = Field(pattern=SHA256_PATTERN)
    universe: tuple[str, ...] = Field(min_length=1)
    author: str = Field(min_length=1, description="Identity that proposes it")
    hypothesis: str = Field(min_length=1, description="Why this should work, in a sentence")
    feature_schema_version: str = "3.1"
    execution_model: str = "exec-v1"
    cost_model: str = "costs-v1"

    @model_validator(mode="after")
    def _grid_values_non_empty(self) -> CandidateSpec:
        if self.param_grid is not None:
            empty = [k for k, v in self.param_grid.items() if len(v) == 0]
            if empty:
                raise ValueError(f"param_grid entries must be non-empty: {empty}")
        return self
