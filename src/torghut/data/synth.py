"""Seeded synthetic bars for many symbols on one exchange clock, with an optional planted edge.

Model, per symbol ``i`` and bar ``t`` (log returns, close to close)::

    z[i,t] = phi[t] z[i,t-1] + sqrt(1 - phi[t]^2) e[i,t]       e = rho m[t] + sqrt(1-rho^2) u[i,t]
    r[i,t] = sigma_i k[t] (z[i,t] + a pos[i,t])                pos = sign(r[i,t-L] + … + r[i,t-1])

* ``m`` is a market shock shared by all symbols (pairwise shock correlation ``rho^2``).
* ``phi[t]`` and part of ``k[t]`` come from a regime path shared by all symbols: a Markov
  chain over *trend* (phi > 0), *mean-reverting* (phi < 0) and *high-volatility*
  (volatility × 2.5) with geometric holding times (Hamilton 1989 style switching). ``phi`` is
  quoted for daily bars and scaled by ``sqrt(252 / bars per year)`` so the regimes are equally
  exploitable at every bar size. Trend and mean-reverting regimes have mirror-image
  autocorrelation and equal expected duration, so over many regime spells they add no net
  time-series-momentum profit of their own (over few spells they can: see the realised
  Sharpe recorded in the parameters).
* ``k[t]`` also carries the U-shaped intraday volatility profile (Admati & Pfleiderer 1988;
  Andersen & Bollerslev 1997); volume follows a stronger U-shape, and the quoted spread
  widens with volatility.
* The planted edge is time-series momentum (Moskowitz, Ooi & Pedersen 2012): the expected
  next-bar return carries the sign of the trailing ``L``-bar return. Its size ``a`` is set so
  that the ideal sign-following strategy has annualised Sharpe ``SR`` in expectation: with
  ``k1 = mean(k)``, ``k2 = mean(k^2)`` and per-bar target ``s = SR / sqrt(bars per year)``,
  the strategy earns ``a k1`` per bar with variance ``k2 + a^2 var(k)``, so
  ``a = s sqrt(k2 / (k1^2 - s^2 (k2 - k1^2)))``. The realised ideal Sharpe is recorded too.

The session-opening gap takes a share of the *noise* only, so the edge accrues from open to
close and a strategy that fills at the next bar's open can capture all of it. Every random
draw comes from ``numpy.random.default_rng`` streams spawned from the seed, so the same
arguments give bit-identical bars and therefore the same dataset id.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd

from torghut.contracts import DatasetManifest, DatasetSource, SourceKind
from torghut.data.bars import canonical_bars
from torghut.data.calendars import (
    TRADING_DAYS_PER_YEAR,
    Clock,
    bar_clock,
    bars_per_session,
    bars_per_year,
    check_calendar,
    check_timeframe,
)
from torghut.data.snapshots import check_name, write_snapshot
from torghut.errors import TorghutError
from torghut.workspace import Workspace

GENERATOR_VERSION = "synth/1"
MARKET_CORRELATION = 0.3  # pairwise correlation of the return shocks
OPEN_GAP_SHARE = 0.3  # share of a session's first-bar noise that arrives as the opening gap
RANGE_SCALE = 0.6  # high/low excursion beyond open/close, in units of the bar's volatility


@dataclass(frozen=True)
class Regime:
    name: str
    phi: float  # lag-1 autocorrelation of daily return shocks (scaled for intraday bars)
    vol_mult: float
    mean_sessions: float  # expected holding time


REGIMES: tuple[Regime, ...] = (
    Regime("trend", 0.08, 1.0, 40.0),
    Regime("mean_reverting", -0.08, 1.0, 40.0),
    Regime("high_volatility", 0.0, 2.5, 10.0),
)
CALM = Regime("calm", 0.0, 1.0, float("inf"))  # the single regime when switching is off


@dataclass(frozen=True)
class SynthSpec:
    """Arguments of the generator; equal specs give identical bars."""

    symbols: int
    bars: int
    timeframe: str = "1d"
    seed: int = 0
    regimes: bool = False
    planted_edge: float | None = None  # target annualised Sharpe of the ideal TSMOM strategy
    edge_lookback: int = 20
    calendar: str = "XNYS"
    start: str = "2010-01-04"

    def validate(self) -> SynthSpec:
        check_timeframe(self.timeframe)
        check_calendar(self.calendar)
        if not 1 <= self.symbols <= 10_000:
            raise TorghutError("must be between 1 and 10000", field="symbols")
        if self.bars < 2:
            raise TorghutError("must be at least 2", field="bars")
        if self.seed < 0:
            raise TorghutError("must be non-negative", field="seed")
        if not 1 <= self.edge_lookback < self.bars:
            raise TorghutError("must be at least 1 and less than --bars", field="edge-lookback")
        if self.planted_edge is not None and not 0 < self.planted_edge <= 10:
            raise TorghutError("must be in (0, 10] (an annualised Sharpe ratio)",
                               field="planted-edge")
        try:
            pd.Timestamp(self.start)
        except ValueError:
            raise TorghutError(f"not a date: {self.start!r}", field="start") from None
        return self

    def default_name(self) -> str:
        name = f"synth-{self.timeframe}-{self.symbols}x{self.bars}-seed{self.seed}"
        name += "-regimes" if self.regimes else ""
        name += f"-edge{self.planted_edge:g}" if self.planted_edge is not None else ""
        return check_name(name)


@dataclass(frozen=True)
class SynthResult:
    bars: pd.DataFrame  # canonical bars
    regimes: np.ndarray  # regime index per clock bar (into regime_names)
    regime_names: tuple[str, ...]
    parameters: dict[str, Any]  # spec, model constants and realised statistics


def symbol_names(n: int) -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"SYN{i:0{width}d}" for i in range(n)]


def generate(spec: SynthSpec) -> SynthResult:
    """Generate the bars of ``spec`` (pure; no workspace I/O)."""
    spec.validate()
    calendar = check_calendar(spec.calendar)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(4)]
    regime_rng, shock_rng, symbol_rng, bar_rng = streams
    clock = bar_clock(calendar, spec.timeframe, spec.start, spec.bars)
    per_session = bars_per_session(calendar, spec.timeframe)
    annual = bars_per_year(calendar, spec.timeframe)
    table = REGIMES if spec.regimes else (CALM,)
    path = (_regime_path(regime_rng, spec.bars, per_session) if spec.regimes
            else np.zeros(spec.bars, dtype=np.int64))
    # Same annualised predictability at every bar size: a per-bar autocorrelation phi is
    # worth about 0.8 |phi| sqrt(bars per year) of Sharpe to a strategy exploiting it.
    phi = np.array([r.phi for r in table])[path] * np.sqrt(TRADING_DAYS_PER_YEAR / annual)
    vol_profile, volume_profile = _intraday_profiles(clock, spec.timeframe)
    k = np.array([r.vol_mult for r in table])[path] * vol_profile
    names = symbol_names(spec.symbols)
    params = _symbol_parameters(symbol_rng, spec.symbols, annual, per_session)
    shocks = _shocks(shock_rng, spec.symbols, spec.bars)
    edge = _edge_scale(spec.planted_edge, k, annual) if spec.planted_edge else 0.0
    r, z, pos = _simulate(shocks, params["sigma"], k, phi, edge, spec.edge_lookback)
    frame = _bars(bar_rng, clock, names, params, r, z, k, volume_profile)
    sharpes = _ideal_sharpes(r, pos, spec.edge_lookback, annual)
    occupancy = np.bincount(path, minlength=len(table)) / spec.bars
    parameters = {
        **asdict(spec), "calendar": calendar, "generator": GENERATOR_VERSION,
        "bars_per_year": annual, "market_correlation": MARKET_CORRELATION,
        "regime_model": [asdict(r) for r in table],
        "regime_occupancy": {r.name: float(o) for r, o in zip(table, occupancy, strict=True)},
        "edge_scale": edge,
        "ideal_strategy": f"sign of the trailing {spec.edge_lookback}-bar log return, "
                          "held for the next bar",
        "ideal_sharpe_realised": float(np.mean(sharpes)),
        "ideal_sharpe_by_symbol": {n: float(s) for n, s in zip(names, sharpes, strict=True)},
    }
    return SynthResult(canonical_bars(frame, file="synth"), path,
                       tuple(r.name for r in table), parameters)


def build_synth(ws: Workspace, spec: SynthSpec,
                name: str | None = None) -> tuple[DatasetManifest, bool]:
    """Generate and store ``spec``; returns (manifest, created)."""
    result = generate(spec)
    source = DatasetSource(
        kind=SourceKind.SYNTH, provider=f"torghut {GENERATOR_VERSION}",
        description=(f"Synthetic {spec.timeframe} bars: {spec.symbols} symbols x {spec.bars} "
                     f"bars on {result.parameters['calendar']}, seed {spec.seed}"
                     + (", regime switching" if spec.regimes else "")
                     + (f", planted TSMOM edge SR {spec.planted_edge:g}"
                        if spec.planted_edge else "")),
        parameters=result.parameters)
    return write_snapshot(ws, result.bars, name=name or spec.default_name(),
                          timeframe=spec.timeframe, calendar=spec.calendar, source=source)


def _regime_path(rng: np.random.Generator, n: int, per_session: int) -> np.ndarray:
    """Regime index per bar: a jump chain (always to another regime) with geometric stays."""
    means = np.array([r.mean_sessions for r in REGIMES]) * per_session
    segments = int(np.ceil(2 * n / means.min())) + 8
    first = rng.integers(len(REGIMES))
    while True:
        steps = rng.integers(1, len(REGIMES), size=segments)  # 1 or 2: never stay
        states = (first + np.concatenate([[0], np.cumsum(steps[:-1])])) % len(REGIMES)
        durations = rng.geometric(1.0 / means[states])
        if durations.sum() >= n:
            return np.repeat(states, durations)[:n].astype(np.int64)
        segments *= 2  # vanishingly rare; stays deterministic for a given seed


def _intraday_profiles(clock: Clock, timeframe: str) -> tuple[np.ndarray, np.ndarray]:
    """U-shaped volatility (RMS 1) and volume (mean 1) multipliers by time of day."""
    if timeframe == "1d":
        ones = np.ones(len(clock.ts))
        return ones, ones
    x = 2.0 * clock.session_frac - 1.0
    vol = 1.0 + 1.5 * x**2
    volume = 1.0 + 3.0 * x**2
    return vol / np.sqrt(np.mean(vol**2)), volume / volume.mean()


def _symbol_parameters(rng: np.random.Generator, n: int, annual: int,
                       per_session: int) -> dict[str, np.ndarray]:
    annual_vol = rng.uniform(0.15, 0.45, n)
    return {
        "sigma": annual_vol / np.sqrt(annual),
        "price0": 100.0 * np.exp(rng.normal(0.0, 0.5, n)),
        "volume": 10.0 ** rng.uniform(5.0, 7.0, n) / per_session,  # shares per bar
        "spread_bps": rng.uniform(1.0, 6.0, n),
    }


def _shocks(rng: np.random.Generator, n_symbols: int, n_bars: int) -> np.ndarray:
    market = rng.standard_normal(n_bars)
    own = rng.standard_normal((n_symbols, n_bars))
    rho = np.sqrt(MARKET_CORRELATION)
    return rho * market[None, :] + np.sqrt(1.0 - rho**2) * own


def _edge_scale(sharpe: float, k: np.ndarray, annual: int) -> float:
    s = sharpe / np.sqrt(annual)
    k1, k2 = float(np.mean(k)), float(np.mean(k**2))
    denominator = k1**2 - s**2 * (k2 - k1**2)
    if denominator <= 0:
        raise TorghutError(f"planted edge {sharpe} is too large for this volatility path",
                           field="planted-edge")
    return float(s * np.sqrt(k2 / denominator))


@numba.njit(cache=True)
def _simulate(shocks: np.ndarray, sigma: np.ndarray, k: np.ndarray, phi: np.ndarray,
              edge: float, lookback: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The recursive core: AR(1) shocks plus the momentum term (returns r, z, positions)."""
    n_symbols, n_bars = shocks.shape
    r = np.empty((n_symbols, n_bars))
    z_out = np.empty((n_symbols, n_bars))
    pos = np.zeros((n_symbols, n_bars))
    for i in range(n_symbols):
        z = 0.0
        for t in range(n_bars):
            z = phi[t] * z + np.sqrt(1.0 - phi[t] * phi[t]) * shocks[i, t]
            p = 0.0
            if t >= lookback:
                trailing = 0.0
                for j in range(t - lookback, t):  # summed afresh: exactly reproducible
                    trailing += r[i, j]
                p = 1.0 if trailing > 0.0 else (-1.0 if trailing < 0.0 else 0.0)
            pos[i, t] = p
            z_out[i, t] = z
            r[i, t] = sigma[i] * k[t] * (z + edge * p)
    return r, z_out, pos


def _ideal_sharpes(r: np.ndarray, pos: np.ndarray, lookback: int, annual: int) -> np.ndarray:
    """Annualised Sharpe of holding ``pos`` (the trailing-return sign) over each next bar."""
    pnl = (pos * r)[:, lookback:]
    if pnl.shape[1] < 2:
        return np.zeros(r.shape[0])
    std = pnl.std(axis=1, ddof=1)
    return np.where(std > 0, pnl.mean(axis=1) / np.where(std > 0, std, 1.0), 0.0) * np.sqrt(
        annual)


def _bars(rng: np.random.Generator, clock: Clock, names: list[str],
          params: dict[str, np.ndarray], r: np.ndarray, z: np.ndarray, k: np.ndarray,
          volume_profile: np.ndarray) -> pd.DataFrame:
    """OHLCV and quotes from the returns; arrays are (symbols, bars)."""
    n_symbols, n_bars = r.shape
    sigma_t = params["sigma"][:, None] * k[None, :]
    log_close = np.log(params["price0"])[:, None] + np.cumsum(r, axis=1)
    prev_close = np.concatenate([np.log(params["price0"])[:, None], log_close[:, :-1]], axis=1)
    gap = np.where(clock.session_start[None, :], OPEN_GAP_SHARE * sigma_t * z, 0.0)
    log_open = prev_close + gap
    up, down = np.abs(rng.standard_normal((2, n_symbols, n_bars))) * RANGE_SCALE * sigma_t
    log_high = np.maximum(log_open, log_close) + up
    log_low = np.minimum(log_open, log_close) - down
    activity = np.exp(0.3 * rng.standard_normal((n_symbols, n_bars))) * (0.5 + 0.5 * np.abs(z))
    volume = np.maximum(1.0, np.rint(params["volume"][:, None] * volume_profile[None, :]
                                     * np.sqrt(k / k.mean())[None, :] * activity))
    relative = (params["spread_bps"][:, None] * 1e-4 * k[None, :]
                * np.exp(0.15 * rng.standard_normal((n_symbols, n_bars))))
    close = np.exp(log_close)
    bid, ask = close * (1.0 - relative / 2.0), close * (1.0 + relative / 2.0)
    # Transpose to (bars, symbols) so rows come out ordered by (ts, symbol).
    return pd.DataFrame({
        "ts": clock.ts.repeat(n_symbols),
        "symbol": np.tile(np.array(names, dtype=object), n_bars),
        "open": np.exp(log_open).T.ravel(), "high": np.exp(log_high).T.ravel(),
        "low": np.exp(log_low).T.ravel(), "close": close.T.ravel(), "volume": volume.T.ravel(),
        "bid": bid.T.ravel(), "ask": ask.T.ravel(), "spread": (ask - bid).T.ravel(),
    })
