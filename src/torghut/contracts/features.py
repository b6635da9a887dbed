"""The canonical feature vector (schema 3.x).

Schema evolution follows the plan: additive fields are a minor bump, renames or removals a
major bump; every strategy declares the minimum schema version it needs.

Version 3.1 adds bar-level fields (``volume``, ``ret_1``, ``ret_5``, ``ret_20``,
``vol_realized_20``). The tick-level window features keep their 3.0 names and meanings:
``vwap_w5m`` and ``vol_realized_w60s`` are computed over a wall-clock window converted to
whole bars, so ``vol_realized_w60s`` (which needs two returns inside 60 s) is ``None`` on
bars of a minute or longer — it is not silently redefined.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import Field

from torghut.contracts.base import Contract

FEATURE_SCHEMA_VERSION: Final = "3.1"

Timeframe = Literal["1m", "5m", "15m", "1h", "1d"]
TIMEFRAME_SECONDS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}


class SignalQuality(StrEnum):
    """Why a feature vector can or cannot be acted on."""

    OK = "ok"
    WARMUP = "warmup"  # not enough history yet for every feature
    STALE = "stale"  # the input is older than the staleness ceiling
    MISSING = "missing"  # a required input (price, volume) was absent or invalid


# Names of the numeric feature fields, in schema order (batch frames use these columns).
FEATURE_FIELDS: tuple[str, ...] = (
    "price", "volume",
    "ema12", "ema26", "macd", "macd_signal", "macd_hist",
    "vwap_session", "vwap_w5m",
    "rsi14", "boll_mid", "boll_upper", "boll_lower",
    "vol_realized_w60s", "vol_realized_20",
    "ret_1", "ret_5", "ret_20",
    "imbalance_spread", "spread",
)


class FeatureVector(Contract):
    """Point-in-time features for one symbol at the close of one bar.

    Every value at ``event_ts`` is computed only from bars at or before ``event_ts``.
    Numeric features are ``None`` until their window is warm.
    """

    schema_version: Literal["3.1"] = "3.1"
    event_ts: datetime
    symbol: str = Field(min_length=1)
    timeframe: Timeframe
    seq: int = Field(ge=0, description="Per-symbol bar sequence number, from 0")
    source: str = Field(min_length=1, description="Where the bar came from, e.g. dataset:<id>")
    feature_schema_version: Literal["3.1"] = FEATURE_SCHEMA_VERSION

    price: float | None = Field(default=None, description="Close of the bar")
    volume: float | None = None
    ema12: float | None = None
    ema26: float | None = None
    macd: float | None = Field(default=None, description="ema12 - ema26")
    macd_signal: float | None = Field(default=None, description="EMA(9) of macd")
    macd_hist: float | None = Field(default=None, description="macd - macd_signal")
    vwap_session: float | None = Field(default=None, description="VWAP since the session open")
    vwap_w5m: float | None = Field(default=None, description="VWAP over the last 5 minutes")
    rsi14: float | None = Field(default=None, description="Wilder RSI over 14 bars, 0..100")
    boll_mid: float | None = Field(default=None, description="20-bar simple moving average")
    boll_upper: float | None = Field(default=None, description="boll_mid + 2 population std")
    boll_lower: float | None = Field(default=None, description="boll_mid - 2 population std")
    vol_realized_w60s: float | None = Field(default=None,
                                            description="Std of log returns over 60 s")
    vol_realized_20: float | None = Field(default=None,
                                          description="Std (ddof=1) of the last 20 log returns")
    ret_1: float | None = Field(default=None, description="Simple return over 1 bar")
    ret_5: float | None = Field(default=None, description="Simple return over 5 bars")
    ret_20: float | None = Field(default=None, description="Simple return over 20 bars")
    imbalance_spread: float | None = Field(
        default=None, description="Top-of-book size imbalance; None on bar data without a book")
    spread: float | None = Field(default=None, description="Quoted spread ask - bid")
    signal_quality_flag: SignalQuality = SignalQuality.OK
    staleness_ms: int = Field(default=0, ge=0)
