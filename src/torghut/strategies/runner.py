"""Run a plugin over a feature frame, batch or streaming, inside the sandbox.

These are the only places research and the conformance harness call plugin code, so every
call — ``prepare`` (JIT compilation) included — goes through
:func:`~torghut.strategies.sandbox.sandboxed`, and every output is checked against the
contract (shape, finiteness, bounds, intent identity) before anyone uses it. Compiling in
the sandbox works because kernels do not use numba's on-disk cache (it would write files).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from torghut.contracts import FeatureVector, StrategyIntent
from torghut.data.calendars import session_tz
from torghut.data.features import compute_features, iter_feature_vectors
from torghut.data.snapshots import load_snapshot
from torghut.errors import TorghutError
from torghut.strategies.sandbox import PluginSandboxViolation, sandboxed
from torghut.strategies.sdk import (
    RuleStrategy,
    StrategyContext,
    StrategyPlugin,
    one_line,
)
from torghut.workspace import Workspace

SIGNAL_COLUMNS = ("ts", "symbol", "exposure")
T = TypeVar("T")


class PluginError(TorghutError):
    """A plugin raised, broke the sandbox or returned output that breaks the contract."""


@dataclass(frozen=True)
class FeatureSet:
    """A feature frame (all symbols, sorted by ts then symbol) and where it came from."""

    name: str
    timeframe: str
    source: str  # e.g. "dataset:<id>" or "sample:<name>"
    frame: pd.DataFrame

    def vectors(self) -> list[FeatureVector]:
        """Every row as a validated FeatureVector, in frame order (what a runtime sees)."""
        return list(iter_feature_vectors(self.frame, self.timeframe, self.source))


def feature_set(name: str, bars: pd.DataFrame, *, timeframe: str, calendar: str,
                source: str) -> FeatureSet:
    frame = compute_features(bars, timeframe, session_tz=session_tz(calendar))
    return FeatureSet(name, timeframe, source, frame.reset_index(drop=True))


def snapshot_feature_set(ws: Workspace, ref: str) -> FeatureSet:
    """Features of a stored snapshot (``ref``: id, unique id prefix or name)."""
    snapshot = load_snapshot(ws, ref)
    m = snapshot.manifest
    return feature_set(m.name, snapshot.bars(), timeframe=m.timeframe, calendar=m.calendar,
                       source=f"dataset:{m.dataset_id}")


def sample_feature_sets() -> list[FeatureSet]:
    """Features of the real sample data, computed in memory (no workspace needed)."""
    from torghut.data.sample import sample_frames  # imports arch's bundled data

    return [feature_set(spec.name, bars, timeframe=spec.timeframe, calendar=spec.calendar,
                        source=f"sample:{spec.name}") for spec, bars in sample_frames()]


def ref_of(plugin: StrategyPlugin) -> str:
    return f"{plugin.strategy_type}@{plugin.version}"


def symbol_rows(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row positions of each symbol, in frame order (ts ascending within a symbol)."""
    codes, symbols = pd.factorize(frame["symbol"], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(symbols) + 1))
    return {str(sym): order[bounds[i]:bounds[i + 1]] for i, sym in enumerate(symbols)}


def prepare(plugin: StrategyPlugin, params: BaseModel) -> str:
    """Compile the plugin's kernels (sandboxed too: kernels must not use numba's disk cache)."""
    ref = ref_of(plugin)
    guarded_call(ref, "prepare", plugin.prepare, params)
    return ref


def guarded_call(ref: str, method: str, fn: Callable[..., T], *args: Any) -> T:
    """Call plugin code in the sandbox; any failure becomes a one-line :class:`PluginError`."""
    return Guard(ref)(method, fn, *args)


class Guard:
    """:func:`guarded_call` for one plugin, its sandbox built once and entered per call
    (the runtime calls each plugin on every event; a fresh sandbox each time cost more
    than a simple rule)."""

    __slots__ = ("_box", "ref")

    def __init__(self, ref: str) -> None:
        self.ref = ref
        self._box = sandboxed(ref)

    def __call__(self, method: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            with self._box:
                return fn(*args)
        except Exception as exc:
            self.fail(method, exc)

    def bind(self, fn: Callable[[FeatureVector, StrategyContext], T]
             ) -> Callable[[FeatureVector, StrategyContext], T]:
        """``fn`` run in this plugin's sandbox, as one closure (:meth:`sandboxed.bind`): the
        caller turns a failure into a :class:`PluginError` with :meth:`fail`."""
        return self._box.bind(fn)

    def fail(self, method: str, exc: Exception) -> NoReturn:
        """Raise the one-line :class:`PluginError` for ``exc`` (from inside its handler)."""
        field = f"{self.ref}.{method}"
        if isinstance(exc, PluginSandboxViolation):
            raise PluginError(str(exc), field=field) from exc
        if isinstance(exc, ValidationError):  # e.g. an intent outside its contract
            raise PluginError(f"produced an invalid value: {exc.errors()[0]['msg']}",
                              field=field) from None
        raise PluginError(f"raised {type(exc).__name__}: {one_line(str(exc))}",
                          field=field) from exc


# -- batch -------------------------------------------------------------------------------
def batch_exposures(plugin: StrategyPlugin, frame: pd.DataFrame,
                    params: BaseModel) -> np.ndarray:
    """Exposures for every row of a multi-symbol feature frame (via ``signals`` per symbol)."""
    ref = prepare(plugin, params)
    out = np.zeros(len(frame))
    for symbol, rows in symbol_rows(frame).items():
        sub = frame.iloc[rows].reset_index(drop=True)
        values = guarded_call(ref, f"signals({symbol})", plugin.signals, sub, params)
        out[rows] = check_exposures(values, len(sub), where=f"{ref}.signals({symbol})")
    return out


def check_exposures(values: Any, n: int, *, where: str) -> np.ndarray:
    """The batch output contract: float64, one per row, finite, within [-1, 1]."""
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.shape != (n,):
        shape = getattr(values, "shape", None)
        dtype = getattr(values, "dtype", type(values).__name__)
        raise PluginError(f"must return a float64 array of shape ({n},), got {dtype} {shape}",
                          field=where)
    bad = ~np.isfinite(values) | (np.abs(values) > 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise PluginError(f"exposure {float(values[i])!r} at row {i} is not finite within "
                          "[-1, 1]", field=where)
    return values


def signal_table(frame: pd.DataFrame, exposures: np.ndarray) -> pd.DataFrame:
    """One row per bar, in frame order: ts, symbol, exposure."""
    ts, symbol, exposure = SIGNAL_COLUMNS
    return pd.DataFrame({ts: frame["ts"].array, symbol: frame["symbol"].array,
                         exposure: exposures})


def encode_signals(table: pd.DataFrame, suffix: str) -> bytes:
    """The signal table as CSV or Parquet bytes (the caller writes them atomically)."""
    if suffix == ".csv":
        text: str = table.to_csv(index=False)
        return text.encode("utf-8")
    if suffix == ".parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
        return bytes(sink.getvalue().to_pybytes())
    raise TorghutError(f"unsupported output format {suffix!r}; use .csv or .parquet",
                       field="--out")


# -- streaming ---------------------------------------------------------------------------
@dataclass
class StreamResult:
    exposures: np.ndarray  # per event, in input order
    emitted: np.ndarray  # per event: did it produce an intent
    intents: list[StrategyIntent]
    context: StrategyContext
    latencies_ns: np.ndarray  # per on_event call, sandbox included


def stream(plugin: StrategyPlugin, vectors: Sequence[FeatureVector], params: BaseModel, *,
           strategy_id: str = "conformance", context: StrategyContext | None = None
           ) -> StreamResult:
    """Feed events one by one, each ``on_event`` call sandboxed and timed.

    The exposure of a symbol is the last emitted intent's target (initially 0).
    """
    ref = prepare(plugin, params)
    ctx = context or StrategyContext(strategy_id=strategy_id, params=params)
    exposures = np.zeros(len(vectors))
    emitted = np.zeros(len(vectors), dtype=bool)
    latencies = np.empty(len(vectors), dtype=np.int64)
    current: dict[str, float] = {}
    intents: list[StrategyIntent] = []
    clock = time.perf_counter_ns
    on_event = plugin.on_event
    for i, fv in enumerate(vectors):
        start = clock()
        try:
            intent = guarded_call(ref, "on_event", on_event, fv, ctx)
        except PluginError as exc:
            raise PluginError(f"at {fv.symbol} seq {fv.seq}: {exc.message}",
                              field=exc.field) from exc.__cause__
        latencies[i] = clock() - start
        if intent is not None:
            check_intent(intent, fv, plugin, ctx)
            intents.append(intent)
            emitted[i] = True
            current[fv.symbol] = intent.target_exposure
        exposures[i] = current.get(fv.symbol, 0.0)
    return StreamResult(exposures, emitted, intents, ctx, latencies)


#: What a decider hands back for a checked decision at ``fv``: (fv, target, reason) → T.
Emit = Callable[[FeatureVector, float, str], T]


def decider(plugin: StrategyPlugin, ctx: StrategyContext, guard: Guard,
            emit: Emit[T]) -> Callable[[FeatureVector], T | None]:
    """One plugin's checked decision (or ``None``) per event, its code run in ``guard``.

    A :class:`RuleStrategy` streaming with the SDK's own ``on_event`` is asked for its
    target only: only the target comes from plugin code, so :func:`check_intent`'s identity,
    schema and pattern checks (~0.8 µs an intent) have nothing left to check, and the
    target is checked alone. Every other plugin's intents are checked in full. Either way
    the decision reaches the caller through ``emit`` with the event it answers — the
    runtime builds its own lightweight record from it (the aggregator's ``Target``).
    """
    fail, ref = guard.fail, guard.ref
    if not _sdk_streaming(plugin, ctx):
        on_event = guard.bind(plugin.on_event)

        def checked(fv: FeatureVector) -> T | None:
            try:
                intent = on_event(fv, ctx)
            except Exception as exc:
                fail("on_event", exc)
            if intent is None:
                return None
            check_intent(intent, fv, plugin, ctx)  # identity and event are fv's and ctx's
            return emit(fv, intent.target_exposure, intent.reason)

        return checked
    target_of = guard.bind(plugin.target)  # type: ignore[attr-defined]

    # One closure per event: the sandbox's own closure runs the plugin, and check_target's
    # test and intent_reason are inlined (they run on every event; a call each cost ~0.1 µs).
    def built(fv: FeatureVector) -> T | None:
        try:
            target = target_of(fv, ctx)
        except Exception as exc:
            fail("on_event", exc)
        if target is None:
            return None
        if type(target) is not float or not -1.0 <= target <= 1.0:
            check_target(target, fv, ref)  # raises the contract's error
        return emit(fv, target, "TARGET_LONG" if target > 0 else (
            "TARGET_SHORT" if target < 0 else "TARGET_FLAT"))  # intent_reason(target)

    return built


def _sdk_streaming(plugin: StrategyPlugin, ctx: StrategyContext) -> bool:
    """The plugin's ``on_event`` is the SDK's and its identity fits the intent contract."""
    return (isinstance(plugin, RuleStrategy) and type(plugin).on_event is RuleStrategy.on_event
            and type(ctx.strategy_id) is str and type(plugin.strategy_type) is str
            and _matches("version", plugin.version))


def check_intent(intent: Any, fv: FeatureVector, plugin: StrategyPlugin,
                 ctx: StrategyContext) -> None:
    """The intent contract, checked directly: an intent must answer the event it was given,
    under the plugin's own identity, with a target in [-1, 1] and a reason code.

    This is the validation of plugin output (the SDK builds its intents without pydantic,
    and a plugin could do the same), so it checks every constraint of
    :class:`StrategyIntent` itself: the identity fields against values already validated
    (the plugin's registration, the feature vector) and the rest by type and range.
    """
    if not isinstance(intent, StrategyIntent):
        raise PluginError(f"on_event returned {type(intent).__name__}, not StrategyIntent",
                          field=f"{ref_of(plugin)}.on_event")
    got = intent.__dict__
    if (got["strategy_id"] != ctx.strategy_id or got["strategy_type"] != plugin.strategy_type
            or got["version"] != plugin.version or got["symbol"] != fv.symbol
            or got["seq"] != fv.seq or got["event_ts"] != fv.event_ts):
        expected = {"strategy_id": ctx.strategy_id, "strategy_type": plugin.strategy_type,
                    "version": plugin.version, "symbol": fv.symbol, "seq": fv.seq,
                    "event_ts": fv.event_ts}
        wrong = [k for k, v in expected.items() if got[k] != v]
        raise PluginError(f"intent at {fv.symbol} seq {fv.seq} has wrong {wrong}",
                          field=f"{ref_of(plugin)}.on_event")
    reason = got["reason"]
    check_target(got["target_exposure"], fv, ref_of(plugin))
    if type(got["seq"]) is not int or got["schema_version"] != "1.0" \
            or type(got["feature_schema_version"]) is not str \
            or not _matches("reason", reason) or not _matches("version", got["version"]):
        raise PluginError(f"intent at {fv.symbol} seq {fv.seq} breaks the StrategyIntent "
                          f"contract (seq, schema versions or reason {reason!r})",
                          field=f"{ref_of(plugin)}.on_event")


def check_target(target: object, fv: FeatureVector, ref: str) -> float:
    """A plugin's target exposure for ``fv``: a float within [-1, 1] (so not NaN)."""
    if type(target) is not float or not -1.0 <= target <= 1.0:
        raise PluginError(f"intent at {fv.symbol} seq {fv.seq}: target_exposure {target!r} "
                          "is not a float within [-1, 1]", field=f"{ref}.on_event")
    return target


_PATTERNS = {name: re.compile(StrategyIntent.model_fields[name].metadata[0].pattern)
             for name in ("reason", "version")}
_MATCHED: set[tuple[str, str]] = set()


def _matches(name: str, value: object) -> bool:
    """``value`` fits the intent field's pattern. Reason codes and versions repeat, so the
    few valid ones are remembered instead of matched on every intent."""
    if not isinstance(value, str):
        return False
    if (name, value) in _MATCHED:
        return True
    if _PATTERNS[name].fullmatch(value) is None:
        return False
    if len(_MATCHED) < 4096:
        _MATCHED.add((name, value))
    return True
