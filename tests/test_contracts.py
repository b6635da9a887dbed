"""Contracts are frozen, reject unknown keys, carry schema versions and stay exported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from torghut.cli.schemas import render_schemas
from torghut.contracts import (
    SCHEMA_MODELS,
    CandidateSpec,
    FeatureVector,
    StrategyCatalog,
    StrategyDefinition,
    StrategyIntent,
)

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


def _definition(**overrides: object) -> StrategyDefinition:
    base: dict[str, object] = {"strategy_id": "tsmom-spx", "strategy_type": "tsmom",
                               "version": "1.0.0"}
    return StrategyDefinition.model_validate({**base, **overrides})


def test_every_contract_has_a_schema_version() -> None:
    for model in SCHEMA_MODELS:
        assert "schema_version" in model.model_fields, model.__name__


def test_models_are_frozen_and_forbid_extra_keys() -> None:
    entry = _definition()
    with pytest.raises(ValidationError):
        entry.enabled = True  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        _definition(colour="blue")


@pytest.mark.parametrize("field,value", [
    ("version", "1.0"), ("mode", "yolo"), ("cooldown_seconds", -1),
    ("max_parallel_positions", 0), ("strategy_id", "Has Spaces"),
])
def test_strategy_definition_rejects_bad_fields(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        _definition(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_catalog_rejects_duplicate_ids() -> None:
    with pytest.raises(ValidationError, match="duplicate strategy_id"):
        StrategyCatalog(strategies=(_definition(), _definition()))


def test_intent_exposure_is_bounded() -> None:
    kwargs = dict(strategy_id="s", strategy_type="tsmom", version="1.0.0", symbol="SPX",
                  event_ts=datetime(2020, 1, 2, tzinfo=UTC), seq=3, reason="SIGNAL",
                  feature_schema_version="3.1")
    assert StrategyIntent(target_exposure=0.5, **kwargs).target_exposure == 0.5
    with pytest.raises(ValidationError):
        StrategyIntent(target_exposure=1.5, **kwargs)


def test_candidate_hash_is_stable_and_sensitive() -> None:
    spec = dict(name="tsmom-a", strategy_type="tsmom", version="1.0.0",
                params={"lookback_bars": 60}, dataset="sample-us-indices-1d",
                universe=("SPX",), author="research-agent", hypothesis="trends persist")
    a, b = CandidateSpec.model_validate(spec), CandidateSpec.model_validate(dict(spec))
    assert a.content_hash() == b.content_hash()
    changed = CandidateSpec.model_validate({**spec, "params": {"lookback_bars": 61}})
    assert changed.content_hash() != a.content_hash()
    with pytest.raises(ValidationError, match="non-empty"):
        CandidateSpec.model_validate({**spec, "param_grid": {"lookback_bars": []}})
    with pytest.raises(ValidationError, match="both params and param_grid"):
        CandidateSpec.model_validate({**spec, "param_grid": {"lookback_bars": [5]}})
    # The default split policy is explicit data, part of the hash.
    assert a.split.kind == "expanding" and a.split.n_folds == 6
    other = CandidateSpec.model_validate({**spec, "split": {"kind": "cpcv", "n_groups": 6,
                                                            "k_test_groups": 2}})
    assert other.content_hash() != a.content_hash()


def test_feature_vector_defaults_none_until_warm() -> None:
    fv = FeatureVector(event_ts=datetime(2020, 1, 2, tzinfo=UTC), symbol="SPX",
                       timeframe="1d", seq=0, source="test", price=100.0)
    assert fv.ema12 is None and fv.feature_schema_version == "3.1"


def test_checked_in_schemas_are_current() -> None:
    """Fails when a contract changed without `make schemas` (torghut schemas export)."""
    expected = render_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMAS_DIR.glob("*.schema.json")}
    assert set(on_disk) == set(expected), "run `make schemas`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"{name} is stale: run `make schemas`"
        json.loads(text)
