"""The strategy plugin SDK: the contract every plugin meets, and a base class that owns the
bookkeeping so a plugin author writes only the decision rule.

A plugin is used two ways and must agree with itself exactly:

* streaming — the runtime calls :meth:`StrategyPlugin.on_event` once per feature vector and
  gets a :class:`~torghut.contracts.StrategyIntent` (a target exposure) or ``None`` (of a
  :class:`RuleStrategy` it asks :meth:`RuleStrategy.target`, the same decision as a float);
* batch — research calls :meth:`StrategyPlugin.signals` on one symbol's feature frame and
  gets one target exposure per row.

Parity contract: the streaming exposure at bar *t* is the target of the intent emitted at
*t*, else the previous exposure (initially 0); ``signals`` must return exactly (bit for bit)
those exposures. An event is *eligible* when its quality flag is OK, it is within the
staleness budget and every required feature is present and finite. Ineligible events are
skipped with a recorded reason and leave the plugin's state untouched; ``warmup_bars``
counts eligible events the rule consumes before it may emit its first intent.

:class:`RuleStrategy` meets that contract by construction: the author supplies one pure
scalar ``rule(state, x, p) -> float`` marked with :func:`kernel`. Streaming calls it as
plain Python (``state`` a list, ``x`` and ``p`` tuples); batch runs it compiled by numba
inside one loop (``state``, ``x``, ``p`` float64 arrays). Without fastmath numba performs
the same IEEE-754 operations in the same order, so both paths give identical floats. Keep
rules to + - * /, comparisons and ``math.sqrt``, which are correctly rounded everywhere.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from operator import itemgetter
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar, runtime_checkable

import numba
import numpy as np
import pandas as pd
from numba.extending import register_jitable
from pydantic import BaseModel, ConfigDict

from torghut.contracts import FeatureVector, SignalQuality, StrategyIntent
from torghut.contracts.trusted import Trusted
from torghut.errors import TorghutError

# Plan-details, Gate 0 reference: staleness ceiling of 120 s.
DEFAULT_MAX_STALENESS_MS: Final = 120_000
QUALITY_COLUMN: Final = "signal_quality"

# rule(state, x, p) -> target: lists/tuples when streaming, float64 arrays in batch.
Rule = Callable[[Any, Any, Any], float]
P = TypeVar("P", bound=BaseModel)

#: Mark a pure scalar function as usable from both paths: it stays a plain Python function
#: when called from Python and is compiled inline when called from numba code.
kernel = register_jitable


class SkipCode(StrEnum):
    """Stable codes for why an event produced no intent."""

    WARMUP = "WARMUP"  # the mapper or the rule is still warming up
    MISSING_FEATURE = "MISSING_FEATURE"  # a required feature is None/NaN, or flagged missing
    STALE_FEATURE = "STALE_FEATURE"  # flagged stale, or staleness beyond the budget
    NO_SIGNAL = "NO_SIGNAL"  # the rule had no opinion; the previous exposure stands


@dataclass(frozen=True, slots=True)
class Skip:
    code: SkipCode
    symbol: str
    seq: int
    detail: str


class StrategyParams(BaseModel):
    """Base for plugin params: unknown keys, NaN and infinities are rejected; frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def validate_params(model: type[P], raw: Mapping[str, Any]) -> P:
    """Validate config values strictly, as JSON: ``"60"`` is not an int, ``"yes"`` not a bool.

    Config comes from YAML or JSON, so validating in JSON mode keeps lists valid for tuple
    fields and ints valid for float fields while refusing every silent string coercion.
    """
    return model.model_validate_json(json.dumps(dict(raw), default=str), strict=True)


def params_summary(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """Per field: type, default (or required), bounds and description — for listings."""
    summary: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        entry: dict[str, Any] = {
            "type": getattr(info.annotation, "__name__", str(info.annotation))}
        if info.is_required():
            entry["required"] = True
        else:
            entry["default"] = info.get_default(call_default_factory=True)
        for meta in info.metadata:
            entry.update({attr: getattr(meta, attr) for attr in ("ge", "gt", "le", "lt")
                          if getattr(meta, attr, None) is not None})
        if info.description:
            entry["description"] = info.description
        summary[name] = entry
    return summary


@dataclass
class StrategyContext:
    """Everything one running strategy instance owns.

    ``local`` holds per-symbol state and ``memo`` values derived from the params; both
    belong to the plugin, so a plugin object itself stays stateless and shareable. A
    context is tied to its params: a catalog reload that changes them starts a fresh one.
    """

    strategy_id: str
    params: BaseModel
    max_staleness_ms: int = DEFAULT_MAX_STALENESS_MS
    local: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    skip_counts: Counter[str] = field(default_factory=Counter)
    last_skip: dict[str, Skip] = field(default_factory=dict)

    def record_skip(self, fv: FeatureVector, code: SkipCode, detail: str) -> None:
        self.skip_counts[code] += 1
        self.last_skip[fv.symbol] = Skip(code, fv.symbol, fv.seq, detail)


@runtime_checkable
class StrategyPlugin(Protocol):
    """What the registry, runtime and research lanes require of a plugin class instance."""

    strategy_type: ClassVar[str]
    version: ClassVar[str]  # semver; a breaking change is a major bump
    Params: ClassVar[type[BaseModel]]  # pydantic, extra="forbid", frozen
    min_feature_schema: ClassVar[str]

    def required_features(self) -> tuple[str, ...]:
        """Feature names that must be present and finite for an event to be eligible."""
        ...

    def warmup_bars(self, params: Any) -> int:
        """Eligible events consumed per symbol before the first intent."""
        ...

    def prepare(self, params: Any) -> None:
        """Compile or warm anything slow before first use (sandboxed: no disk caches)."""
        ...

    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        """Streaming: the intent for this event, or ``None`` with a reason in ``ctx``."""
        ...

    def signals(self, frame: pd.DataFrame, params: Any) -> np.ndarray:
        """Batch: float64 target exposures in [-1, 1], one per row of one symbol's frame."""
        ...


def event_skip(fv: FeatureVector, features: Sequence[str],
               max_staleness_ms: int) -> tuple[SkipCode, str] | None:
    """Why ``fv`` is not eligible, or ``None`` when it is.

    Warm-up is per plugin: a vector still flagged ``warmup`` (some feature of the full
    schema is not warm yet) is eligible as soon as every feature *this plugin* reads is.
    """
    flag = fv.signal_quality_flag
    if flag is SignalQuality.STALE or fv.staleness_ms > max_staleness_ms:
        return SkipCode.STALE_FEATURE, f"staleness_ms={fv.staleness_ms} flag={flag.value}"
    if flag is SignalQuality.MISSING:
        return SkipCode.MISSING_FEATURE, "signal_quality_flag=missing"
    for name in features:
        value = getattr(fv, name)
        if value is None or not math.isfinite(value):
            code = SkipCode.WARMUP if flag is SignalQuality.WARMUP else SkipCode.MISSING_FEATURE
            return code, f"{name}={value}"
    return None


def feature_matrix(frame: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The required feature columns as a C-contiguous float64 (rows × features) array."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise TorghutError(f"feature frame lacks required columns {missing}",
                           field="features")
    values = frame.loc[:, list(features)].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(values)


def eligible_mask(frame: pd.DataFrame, x: np.ndarray) -> np.ndarray:
    """Batch counterpart of :func:`event_skip`: every required feature finite and the row
    neither missing nor stale (a ``warmup`` row counts once the plugin's features are warm).

    Historical frames carry no delivery staleness; the mapper marks stale rows itself.
    """
    ok = np.isfinite(x).all(axis=1)
    if QUALITY_COLUMN in frame.columns:
        quality = frame[QUALITY_COLUMN]  # str or categorical
        usable = (quality == SignalQuality.OK.value) | (quality == SignalQuality.WARMUP.value)
        ok &= usable.to_numpy(dtype=bool, na_value=False)
    return np.ascontiguousarray(ok)


def one_line(text: str, limit: int = 400) -> str:
    """Collapse a multi-line message (numba, SyntaxError) so user errors stay one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def intent_reason(target: float) -> str:
    return "TARGET_LONG" if target > 0 else ("TARGET_SHORT" if target < 0 else "TARGET_FLAT")


_TRUSTED_INTENT: Final = Trusted(StrategyIntent)


def rule_intent(strategy_id: str, strategy_type: str, version: str, fv: FeatureVector,
                target: float, reason: str | None = None) -> StrategyIntent:
    """The intent :class:`RuleStrategy` emits for ``target`` at ``fv``, built unvalidated.

    The event fields come from the validated vector and the reason, unless given, from the
    target, so only the identity, the target and a given reason are the caller's to vouch
    for: whoever calls plugin code
    (the runner, the runtime) checks the intent, or the target it was built from, anyway.
    """
    return _TRUSTED_INTENT.build({
        "strategy_id": strategy_id, "strategy_type": strategy_type, "version": version,
        "symbol": fv.symbol, "event_ts": fv.event_ts, "seq": fv.seq,
        "target_exposure": target,
        "reason": intent_reason(target) if reason is None else reason,
        "feature_schema_version": fv.feature_schema_version})


_Reader = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def _feature_reader(names: tuple[str, ...]) -> _Reader:
    """Reads ``names`` from a vector's ``__dict__`` as a tuple, in order: an ``itemgetter``
    (a third of a comprehension's cost, paid on every event), which returns a tuple only
    for two names or more."""
    if len(names) >= 2:
        return itemgetter(*names)
    return lambda values: tuple([values[name] for name in names])


@dataclass(frozen=True, slots=True)
class _Derived:
    """What every event of one context needs, resolved once from the plugin and params."""

    p: tuple[float, ...]
    warmup: int
    read: _Reader
    rule: Rule  # the plugin's rule, looked up once (through its staticmethod: ~40 ns an event)


@dataclass(slots=True)
class _SymbolState:
    state: list[float]
    derived: _Derived = field(compare=False, repr=False)  # the context's, at hand
    seen: int = 0  # eligible events consumed by the rule


_MEMO_KEY = "rule_strategy"
_OK, _WARMUP = SignalQuality.OK, SignalQuality.WARMUP


class RuleStrategy(ABC, Generic[P]):
    """Base class: guards, warm-up and both execution paths around one scalar rule.

    Subclasses set ``strategy_type``, ``version``, ``Params``, ``features`` (the required
    features, in the order the rule reads them from ``x``) and ``rule`` (a
    ``staticmethod`` of a :func:`kernel` function), and implement :meth:`kernel_params`
    and :meth:`initial_state`. The rule receives the mutable state vector, the current
    feature values and the numeric params; it returns the target exposure in [-1, 1], or
    NaN for "no opinion". It is called on every eligible event, also during warm-up (so
    buffers fill), but its output only counts after ``warmup_bars`` eligible events.
    """

    strategy_type: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    min_feature_schema: ClassVar[str] = "3.1"
    features: ClassVar[tuple[str, ...]]
    rule: ClassVar[staticmethod[[Any, Any, Any], float]]

    @abstractmethod
    def kernel_params(self, params: P) -> tuple[float, ...]:
        """The params the rule reads, as floats (ints and bools converted)."""

    @abstractmethod
    def initial_state(self, params: P) -> list[float]:
        """The rule's state vector for a new symbol (its length is fixed)."""

    def warmup_bars(self, params: P) -> int:
        return 0

    def required_features(self) -> tuple[str, ...]:
        return self.features

    # -- streaming -------------------------------------------------------------------
    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        target = self.target(fv, ctx)
        if target is None:
            return None
        return rule_intent(ctx.strategy_id, self.strategy_type, self.version, fv, target)

    def target(self, fv: FeatureVector, ctx: StrategyContext) -> float | None:
        """:meth:`on_event` short of the intent: the rule's target for ``fv`` as a float
        (not checked against [-1, 1]: the caller checks it), or ``None`` with the reason
        recorded in ``ctx``. The runtime calls this and builds the intent itself."""
        values = fv.__dict__
        sym = ctx.local.get(values["symbol"])
        if sym is None:
            sym = ctx.local[values["symbol"]] = self._new_symbol(ctx)
        derived = sym.derived
        x = derived.read(values)
        flag = values["signal_quality_flag"]
        # The common, eligible case in a few comparisons: a sum is finite only when every
        # term is (an overflow merely takes the slow path), and summing a missing (None)
        # feature raises TypeError, which costs nothing until raised where testing
        # ``None in x`` first cost ~70 ns an event. event_skip says why an event is not
        # eligible.
        try:
            eligible = ((flag is _OK or flag is _WARMUP)
                        and values["staleness_ms"] <= ctx.max_staleness_ms
                        and math.isfinite(sum(x)))
        except TypeError:
            if None not in x:
                raise  # not a missing feature: the rule's inputs are broken, as before
            eligible = False
        if not eligible:
            skip = event_skip(fv, self.features, ctx.max_staleness_ms)
            if skip is not None:
                ctx.record_skip(fv, *skip)
                return None
        target = derived.rule(sym.state, x, derived.p)
        seen = sym.seen = sym.seen + 1
        if seen <= derived.warmup:
            ctx.record_skip(fv, SkipCode.WARMUP, f"{seen}/{derived.warmup} bars")
            return None
        if target != target:  # NaN: the rule holds its previous exposure
            ctx.record_skip(fv, SkipCode.NO_SIGNAL, "rule returned NaN")
            return None
        # A rule's float is returned as is (float() of a float is the same value).
        return target if type(target) is float else float(target)

    def _new_symbol(self, ctx: StrategyContext) -> _SymbolState:
        derived = ctx.memo.get(_MEMO_KEY)
        if derived is None:
            params = ctx.params
            derived = ctx.memo[_MEMO_KEY] = _Derived(
                tuple(float(v) for v in self.kernel_params(params)),  # type: ignore[arg-type]
                self.warmup_bars(params),  # type: ignore[arg-type]
                _feature_reader(self.features), self.rule)
        state = self.initial_state(ctx.params)  # type: ignore[arg-type]
        return _SymbolState([float(v) for v in state], derived)

    # -- batch -----------------------------------------------------------------------
    def signals(self, frame: pd.DataFrame, params: P) -> np.ndarray:
        x = feature_matrix(frame, self.features)
        return self._run_batch(x, eligible_mask(frame, x), params)

    def prepare(self, params: P) -> None:
        """JIT-compile the batch loop on empty input, so the first real call is fast."""
        self._run_batch(np.empty((0, len(self.features))), np.empty(0, dtype=bool), params)

    def _run_batch(self, x: np.ndarray, ok: np.ndarray, params: P) -> np.ndarray:
        p = np.asarray(self.kernel_params(params), dtype=np.float64).reshape(-1)
        state = np.asarray(self.initial_state(params), dtype=np.float64).reshape(-1)
        run = _batch_loop(type(self).rule)
        return run(x, ok, p, state, int(self.warmup_bars(params)))  # type: ignore[no-any-return]


@cache
def _batch_loop(rule: Rule) -> Any:
    """The numba-compiled batch loop for one rule (compiled lazily, once per process).

    It mirrors :meth:`RuleStrategy.on_event` line for line: ineligible rows hold the
    exposure and leave the state alone; warm-up rows feed the rule but emit nothing.
    """

    @numba.njit(nogil=True)
    def run(x: np.ndarray, ok: np.ndarray, p: np.ndarray, state: np.ndarray,
            warmup: int) -> np.ndarray:
        out = np.zeros(x.shape[0])
        exposure = 0.0
        seen = 0
        for i in range(x.shape[0]):
            if ok[i]:
                target = rule(state, x[i], p)
                seen += 1
                if seen > warmup and target == target:
                    exposure = target
            out[i] = exposure
        return out

    return run
