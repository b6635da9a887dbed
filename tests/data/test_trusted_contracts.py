"""Trusted (unvalidated) construction builds exactly what validated construction builds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from torghut.contracts.features import FEATURE_FIELDS, FeatureVector, SignalQuality
from torghut.contracts.trusted import Trusted
from torghut.data.features import StreamingFeatureMapper, _vector


def _bars(n: int, seed: int = 3) -> list[tuple[int, float, float, float, float, float]]:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    t0 = int(datetime(2024, 3, 4, 14, 30, tzinfo=UTC).timestamp()) * 10**9
    out = []
    for i, c in enumerate(close):
        volume = math.nan if i == 17 else 1_000.0 + i  # one missing bar
        out.append((t0 + i * 60 * 10**9, float(c), float(c) * 1.001, float(c) * 0.999,
                    float(c), volume))
    return out


def test_streaming_vectors_equal_validated_ones_field_for_field() -> None:
    mapper = StreamingFeatureMapper("S00", "1m", source="bench")
    twin = StreamingFeatureMapper("S00", "1m", source="bench")
    seen = set()
    for ts, o, h, low, c, v in _bars(60):
        fast = mapper.update(ts, o, h, low, c, v, math.nan, math.nan, 0.01)
        values = twin.update_values(ts, o, h, low, c, v, math.nan, math.nan, 0.01)
        slow = _vector(datetime.fromtimestamp(ts / 1e9, UTC), "S00", "1m", fast.seq, "bench",
                       values, twin.quality)
        assert fast == slow
        assert fast.model_dump() == slow.model_dump()
        assert list(fast.model_dump()) == list(slow.model_dump())  # same field order
        assert fast.content_hash() == slow.content_hash()
        assert fast.model_fields_set == slow.model_fields_set
        seen.add(fast.signal_quality_flag)
    assert seen == {SignalQuality.MISSING, SignalQuality.WARMUP, SignalQuality.OK}


def test_trusted_objects_stay_frozen_and_copy_safely() -> None:
    mapper = StreamingFeatureMapper("S00", "1m", source="bench")
    ts, o, h, low, c, v = _bars(1)[0]
    fv = mapper.update(ts, o, h, low, c, v)
    with pytest.raises(ValidationError):
        fv.price = 1.0  # type: ignore[misc]
    moved = fv.model_copy(update={"price": 2.0})
    assert moved.price == 2.0 and fv.price == c
    assert fv.model_fields_set == moved.model_fields_set - {"price"} | {"price"}
    other = mapper.update(ts + 60 * 10**9, o, h, low, c, v)
    assert other.model_fields_set is not fv.model_fields_set  # never shared


def test_defaults_are_filled_and_extra_allowing_models_are_refused() -> None:
    fields = dict.fromkeys(FEATURE_FIELDS)
    fields.update(event_ts=datetime(2024, 1, 2, tzinfo=UTC), symbol="X", timeframe="1d",
                  seq=0, source="s")
    built = Trusted(FeatureVector).build(dict(fields))
    assert built == FeatureVector(**fields)
    assert built.schema_version == "3.1" and built.staleness_ms == 0

    from pydantic import BaseModel, ConfigDict

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")

    with pytest.raises(TypeError, match="extra"):
        Trusted(Open)


def test_missing_or_unknown_fields_are_programming_errors() -> None:
    with pytest.raises(TypeError, match="wrong fields"):
        Trusted(FeatureVector).build({"symbol": "X"})
    fields = dict.fromkeys(FEATURE_FIELDS)
    fields.update(event_ts=datetime(2024, 1, 2, tzinfo=UTC), symbol="X", timeframe="1d",
                  seq=0, source="s", colour="red")
    with pytest.raises(TypeError, match="wrong fields"):
        Trusted(FeatureVector).build(fields)


def test_a_stencil_builds_what_validated_construction_builds() -> None:
    keys = ("event_ts", "symbol", "timeframe", "seq", "source", *FEATURE_FIELDS)
    stencil = Trusted(FeatureVector).stencil(keys)
    assert list(stencil.template) == list(FeatureVector.model_fields)  # the model's order
    values = dict.fromkeys(FEATURE_FIELDS, 1.5) | {
        "event_ts": datetime(2024, 1, 2, tzinfo=UTC), "symbol": "X", "timeframe": "1d",
        "seq": 4, "source": "s"}
    built = stencil.build(stencil.template | values)
    slow = FeatureVector(**values)
    assert built == slow and built.model_fields_set == slow.model_fields_set
    assert list(built.model_dump()) == list(slow.model_dump())
    assert built.content_hash() == slow.content_hash()
    again = stencil.build(stencil.template | values)
    assert again.model_fields_set is not built.model_fields_set  # never shared


def test_a_stencil_refuses_wrong_fields() -> None:
    with pytest.raises(TypeError, match="wrong stencil fields"):
        Trusted(FeatureVector).stencil(["symbol"])  # required fields missing
    keys = ("event_ts", "symbol", "timeframe", "seq", "source", "nope")
    with pytest.raises(TypeError, match="wrong stencil fields"):
        Trusted(FeatureVector).stencil(keys)
    stencil = Trusted(FeatureVector).stencil(keys[:-1])
    with pytest.raises(TypeError, match="wrong fields"):
        stencil.build(stencil.template | {"nope": 1})
