"""Operations contracts: the config a runtime reports it has applied.

The desired config (GitOps ``main``) and the effective config (what a runtime serves at
``GET /api/config``, or a snapshot of it) share one shape, :class:`EffectiveConfig`, and one
hash, :func:`config_sha256` — so the drift check, the hard-stop measurement and the runtime
agree on what "the same config" means (DESIGN.md hard stop "drift between GitOps and runtime
config"; CONTROLS.md RTS-28 "config hash" in the ledger).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from torghut.contracts.base import SHA256_PATTERN, Contract, canonical_json, sha256_text
from torghut.contracts.runtime_config import RuntimeConfig
from torghut.contracts.strategies import StrategyCatalog


def config_sha256(catalog: StrategyCatalog, runtime_config: RuntimeConfig) -> str:
    """sha256 of the canonical JSON of ``{catalog, runtime_config}`` (parsed, not bytes:
    a comment or a reordered key in the YAML is not a config change)."""
    body = {"catalog": catalog.model_dump(mode="json"),
            "runtime_config": runtime_config.model_dump(mode="json")}
    return sha256_text(canonical_json(body))


class EffectiveConfig(Contract):
    """A complete config — the strategy catalog and the runtime config — with its hash.

    ``config_sha256`` must equal :func:`config_sha256` of the content: a report whose hash
    does not match what it carries vouches for nothing and is rejected as bad input.
    """

    schema_version: Literal["1.0"] = "1.0"
    catalog: StrategyCatalog
    runtime_config: RuntimeConfig
    config_sha256: str = Field(pattern=SHA256_PATTERN,
                               description="sha256 of the canonical JSON of {catalog, "
                               "runtime_config}")

    @classmethod
    def of(cls, catalog: StrategyCatalog, runtime_config: RuntimeConfig) -> EffectiveConfig:
        return cls(catalog=catalog, runtime_config=runtime_config,
                   config_sha256=config_sha256(catalog, runtime_config))

    @model_validator(mode="after")
    def _hash_matches(self) -> EffectiveConfig:
        if self.config_sha256 != config_sha256(self.catalog, self.runtime_config):
            raise ValueError("config_sha256 does not match the catalog and runtime_config "
                             "it is reported with")
        return self
