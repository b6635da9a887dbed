"""Conformance harness: does a plugin honour the SDK contract on real data?

Runs on any registered plugin (``torghut strategy conformance TYPE@VERSION``). Each check
is independent and reports what it saw; a plugin that raises fails the check it was in,
never the harness. The checks:

* ``params_validation`` — ``Params`` forbids unknown keys and is frozen; for every field a
  wrong-typed value and each out-of-bounds value is rejected with the field in ``loc``;
* ``determinism`` — two fresh runs (streaming and batch) give identical intents and bits;
* ``warmup_boundary`` — no intent and zero batch exposure until ``warmup_bars`` eligible
  bars have been consumed, on every symbol;
* ``missing_features`` / ``stale_features`` — a warm event with a required feature None or
  NaN, flagged missing or stale, or beyond the staleness budget: no crash, no intent, the
  right reason recorded;
* ``parity`` — batch ``signals`` equals the streaming exposures on every bar of every
  symbol of every data set, exactly;
* ``sandbox`` — the misbehaving fixtures in :mod:`torghut.strategies.testing` are stopped,
  while the plugin under test ran all of the above inside the sandbox;
* ``latency`` — per-event ``on_event`` p50/p99 (sandbox included) against a budget.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from torghut.contracts import FeatureVector, SignalQuality
from torghut.errors import TorghutError, from_validation_error
from torghut.strategies import testing
from torghut.strategies.runner import (
    FeatureSet,
    PluginError,
    StreamResult,
    batch_exposures,
    guarded_call,
    ref_of,
    stream,
    symbol_rows,
)
from torghut.strategies.sandbox import PluginSandboxViolation
from torghut.strategies.sdk import (
    SkipCode,
    StrategyContext,
    StrategyPlugin,
    eligible_mask,
    feature_matrix,
    validate_params,
)

# Generous enough not to flake on a loaded 2-core CI box; the 50 µs target is benchmarked.
DEFAULT_P99_BUDGET_US: Final = 1000.0
_UNKNOWN_KEY: Final = "__conformance_unknown_key__"


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConformanceReport:
    ref: str
    params: dict[str, Any]
    datasets: tuple[str, ...]
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "passed": self.passed, "params": self.params,
                "datasets": list(self.datasets),
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail,
                            "metrics": c.metrics} for c in self.checks]}


def resolve_params(plugin: StrategyPlugin, raw: Mapping[str, Any] | None) -> BaseModel:
    """Validated params (defaults when ``raw`` is None); bad params are a user error."""
    try:
        return validate_params(plugin.Params, raw or {})
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="params") from None


def run_conformance(plugin: StrategyPlugin, feature_sets: Sequence[FeatureSet], *,
                    params: Mapping[str, Any] | None = None,
                    p99_budget_us: float = DEFAULT_P99_BUDGET_US) -> ConformanceReport:
    if not feature_sets:
        raise TorghutError("no feature data to run conformance on", field="dataset")
    validated = resolve_params(plugin, params)
    harness = _Harness(plugin, validated, tuple(feature_sets), p99_budget_us)
    checks = tuple(_guarded(name, check, harness) for name, check in CHECKS)
    return ConformanceReport(ref_of(plugin), validated.model_dump(mode="json"),
                             tuple(fs.name for fs in feature_sets), checks)


@dataclass
class _Harness:
    """Shared, lazily computed runs so each data set is streamed and batched once."""

    plugin: StrategyPlugin
    params: BaseModel
    sets: tuple[FeatureSet, ...]
    p99_budget_us: float
    _vectors: dict[int, list[FeatureVector]] = field(default_factory=dict)
    _streams: dict[int, StreamResult] = field(default_factory=dict)
    _batches: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return ref_of(self.plugin)

    def vectors(self, i: int) -> list[FeatureVector]:
        if i not in self._vectors:
            self._vectors[i] = self.sets[i].vectors()
        return self._vectors[i]

    def streamed(self, i: int) -> StreamResult:
        if i not in self._streams:
            self._streams[i] = stream(self.plugin, self.vectors(i), self.params)
        return self._streams[i]

    def batched(self, i: int) -> np.ndarray:
        if i not in self._batches:
            self._batches[i] = batch_exposures(self.plugin, self.sets[i].frame, self.params)
        return self._batches[i]


Check = Callable[[_Harness], CheckResult]


def _guarded(name: str, check: Check, harness: _Harness) -> CheckResult:
    try:
        return check(harness)
    except (PluginError, TorghutError) as exc:
        return CheckResult(name, False, str(exc))
    except Exception as exc:  # a plugin bug surfacing outside the runner's guard
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")


def _result(name: str, problems: Sequence[str], ok: str, **metrics: Any) -> CheckResult:
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return CheckResult(name, False, "; ".join(problems[:3]) + more, metrics)
    return CheckResult(name, True, ok, metrics)


# -- params ------------------------------------------------------------------------------
def check_params(h: _Harness) -> CheckResult:
    model = h.plugin.Params
    base = h.params.model_dump(mode="json")
    problems: list[str] = []
    config = model.model_config
    if config.get("extra") != "forbid":
        problems.append("Params must set extra='forbid'")
    if not config.get("frozen"):
        problems.append("Params must be frozen")
    probes = [(_UNKNOWN_KEY, 1, "unknown key")]
    for name, info in model.model_fields.items():
        probes.append((name, _wrong_type(info), "wrong type"))
        probes.extend((name, value, what) for value, what in _out_of_bounds(info))
    for name, value, what in probes:
        problem = _expect_rejected(model, {**base, name: value}, name)
        if problem:
            problems.append(f"{name}={value!r} ({what}): {problem}")
    return _result("params_validation", problems,
                   f"{len(probes)} invalid values rejected with the field named",
                   fields=len(model.model_fields), probes=len(probes))


def _expect_rejected(model: type[BaseModel], raw: dict[str, Any], name: str) -> str | None:
    try:
        validate_params(model, raw)
    except ValidationError as exc:
        locs = [err["loc"][:1] for err in exc.errors()]
        return None if (name,) in locs else f"rejected, but loc {locs} does not name it"
    return "accepted"


def _wrong_type(info: FieldInfo) -> Any:
    """A JSON value of the wrong type: an object, unless the field takes mappings."""
    annotation = info.annotation
    origins = {get_origin(a) or a for a in (annotation, *get_args(annotation))}
    takes_mapping = any(o is dict or (isinstance(o, type) and issubclass(o, BaseModel))
                        for o in origins)
    return "not-a-mapping" if takes_mapping else {"wrong": "type"}


def _out_of_bounds(info: FieldInfo) -> list[tuple[Any, str]]:
    """One value just outside each numeric bound declared on the field."""
    integral = info.annotation is int
    out: list[tuple[Any, str]] = []
    for meta in info.metadata:
        for attr, below in (("ge", True), ("gt", True), ("le", False), ("lt", False)):
            bound = getattr(meta, attr, None)
            if bound is None:
                continue
            strict = attr in ("gt", "lt")
            if integral:
                value = (math.floor(bound) if strict else math.ceil(bound) - 1) if below \
                    else (math.ceil(bound) if strict else math.floor(bound) + 1)
            else:
                value = bound if strict else math.nextafter(bound, -math.inf if below
                                                            else math.inf)
            out.append((value, f"violates {attr}={bound}"))
    return out


# -- determinism -------------------------------------------------------------------------
def check_determinism(h: _Harness) -> CheckResult:
    problems: list[str] = []
    for i, fs in enumerate(h.sets):
        first, again = h.streamed(i), stream(h.plugin, h.vectors(i), h.params)
        if [x.model_dump() for x in first.intents] != [x.model_dump() for x in again.intents]:
            problems.append(f"{fs.name}: streaming intents differ between two runs")
        if first.context.skip_counts != again.context.skip_counts:
            problems.append(f"{fs.name}: recorded skip reasons differ between two runs")
        batch_again = batch_exposures(h.plugin, fs.frame, h.params)
        if h.batched(i).tobytes() != batch_again.tobytes():
            problems.append(f"{fs.name}: batch exposures differ between two runs")
    return _result("determinism", problems, "two fresh runs are identical, bit for bit",
                   data_sets=len(h.sets))


# -- warm-up -----------------------------------------------------------------------------
def check_warmup(h: _Harness) -> CheckResult:
    warmup = h.plugin.warmup_bars(h.params)
    features = h.plugin.required_features()
    problems: list[str] = []
    first_after: list[int] = []
    first_bar: list[int] = []
    for i, fs in enumerate(h.sets):
        frame = fs.frame
        eligible = eligible_mask(frame, feature_matrix(frame, features))
        emitted, batch = h.streamed(i).emitted, h.batched(i)
        for symbol, rows in symbol_rows(frame).items():
            consumed = np.cumsum(eligible[rows])
            early = rows[consumed <= warmup]
            if emitted[early].any():
                problems.append(f"{fs.name} {symbol}: intent after only "
                                f"{int(consumed[np.argmax(emitted[rows])])} eligible bars")
            if (batch[early] != 0.0).any():
                problems.append(f"{fs.name} {symbol}: non-zero batch exposure in warm-up")
            if emitted[rows].any():
                first_after.append(int(consumed[np.argmax(emitted[rows])]))
                first_bar.append(int(np.argmax(emitted[rows])))
    earliest = min(first_bar, default=None)
    return _result("warmup_boundary", problems,
                   f"no intent during the feature warm-up nor before {warmup} eligible bars; "
                   f"earliest intent at bar {earliest}",
                   warmup_bars=warmup, earliest_intent_bar=min(first_after, default=None),
                   earliest_intent_row=earliest)


# -- missing and stale features ----------------------------------------------------------
def _probe_base(h: _Harness) -> tuple[StrategyContext, FeatureVector, bool]:
    """A context warmed on real data and the next event (live: it would emit an intent)."""
    vectors, emitted = h.vectors(0), h.streamed(0).emitted
    live = bool(emitted.any())
    k = int(np.argmax(emitted)) if live else len(vectors) - 1
    ctx = StrategyContext(strategy_id="conformance", params=h.params)
    stream(h.plugin, vectors[:k], h.params, context=ctx)
    return ctx, vectors[k], live


def _probe(h: _Harness, ctx: StrategyContext, fv: FeatureVector, code: SkipCode,
           what: str) -> str | None:
    probe_ctx = copy.deepcopy(ctx)
    before = probe_ctx.skip_counts[code]
    intent = guarded_call(h.ref, "on_event", h.plugin.on_event, fv, probe_ctx)
    if intent is not None:
        return f"{what}: emitted an intent"
    recorded = probe_ctx.last_skip.get(fv.symbol)
    if probe_ctx.skip_counts[code] != before + 1 or recorded is None or recorded.code != code:
        got = recorded.code.value if recorded else None
        return f"{what}: recorded {got}, expected {code.value}"
    return None


def _control(h: _Harness, ctx: StrategyContext, fv: FeatureVector, live: bool) -> list[str]:
    """The unmodified event must still emit, or the probes would prove nothing."""
    if not live:
        return []
    intent = guarded_call(h.ref, "on_event", h.plugin.on_event, fv, copy.deepcopy(ctx))
    return [] if intent is not None else ["control event emitted no intent"]


def check_missing(h: _Harness) -> CheckResult:
    ctx, fv, live = _probe_base(h)
    probes = [(fv.model_copy(update={"signal_quality_flag": SignalQuality.MISSING}),
               "flag=missing")]
    ok = SignalQuality.OK  # the mapper says the vector is fine, yet a feature is absent
    for name in h.plugin.required_features():
        probes.append((fv.model_copy(update={name: None, "signal_quality_flag": ok}),
                       f"{name}=None"))
        probes.append((fv.model_copy(update={name: math.nan, "signal_quality_flag": ok}),
                       f"{name}=NaN"))
    problems = _control(h, ctx, fv, live) + [
        p for probe, what in probes
        if (p := _probe(h, ctx, probe, SkipCode.MISSING_FEATURE, what))]
    return _result("missing_features", problems,
                   f"{len(probes)} probes: no intent, {SkipCode.MISSING_FEATURE.value} "
                   "recorded", probes=len(probes), live_probe_point=live)


def check_stale(h: _Harness) -> CheckResult:
    ctx, fv, live = _probe_base(h)
    probes = [
        (fv.model_copy(update={"signal_quality_flag": SignalQuality.STALE}), "flag=stale"),
        (fv.model_copy(update={"staleness_ms": ctx.max_staleness_ms + 1}),
         f"staleness_ms={ctx.max_staleness_ms + 1} > budget"),
    ]
    problems = _control(h, ctx, fv, live) + [
        p for probe, what in probes
        if (p := _probe(h, ctx, probe, SkipCode.STALE_FEATURE, what))]
    return _result("stale_features", problems,
                   f"{len(probes)} probes: no intent, {SkipCode.STALE_FEATURE.value} recorded",
                   probes=len(probes), live_probe_point=live)


# -- parity ------------------------------------------------------------------------------
def check_parity(h: _Harness) -> CheckResult:
    problems: list[str] = []
    rows = intents = active = 0
    for i, fs in enumerate(h.sets):
        streamed, batch = h.streamed(i).exposures, h.batched(i)
        mismatch = np.flatnonzero(streamed != batch)
        if mismatch.size:
            j = int(mismatch[0])
            row = fs.frame.iloc[j]
            problems.append(f"{fs.name}: {mismatch.size} bars differ, first {row['symbol']} "
                            f"{row['ts']}: batch {float(batch[j])!r} vs streaming "
                            f"{float(streamed[j])!r}")
        rows += len(batch)
        intents += len(h.streamed(i).intents)
        active += int(np.count_nonzero(batch))
    return _result("parity", problems,
                   f"batch equals streaming on all {rows} bars of {len(h.sets)} data sets",
                   bars=rows, intents=intents, active_share=active / rows if rows else 0.0)


# -- sandbox -----------------------------------------------------------------------------
def check_sandbox(h: _Harness) -> CheckResult:
    h.streamed(0)  # the plugin under test, sandboxed: a violation would have raised
    h.batched(0)
    fs = h.sets[0]
    event = h.vectors(0)[0]
    frame = fs.frame.iloc[next(iter(symbol_rows(fs.frame).values()))[:3]]
    problems: list[str] = []
    stopped: list[str] = []
    for cls in testing.MISBEHAVING:
        fixture = cls()
        params = fixture.Params()
        ctx = StrategyContext(strategy_id="sandbox-probe", params=params)
        calls = (("on_event", fixture.on_event, (event, ctx)),
                 ("signals", fixture.signals, (frame, params)))
        for method, call, args in calls:
            where = f"{cls.strategy_type}.{method}"
            try:
                guarded_call(ref_of(fixture), method, call, *args)
            except PluginError as exc:
                if isinstance(exc.__cause__, PluginSandboxViolation):
                    stopped.append(f"{where}: {exc.__cause__.event}")
                else:
                    problems.append(f"{where} failed otherwise: {exc}")
            else:
                problems.append(f"{where} was not stopped")
    if testing.PROBE_FILE.exists():
        problems.append(f"{testing.PROBE_FILE} was written")
    return _result("sandbox", problems,
                   f"{len(stopped)} misbehaving calls stopped; {h.ref} ran clean inside",
                   stopped=stopped)


# -- latency -----------------------------------------------------------------------------
def check_latency(h: _Harness) -> CheckResult:
    latencies = np.concatenate([h.streamed(i).latencies_ns for i in range(len(h.sets))])
    p50, p99 = (float(v) / 1000.0 for v in np.percentile(latencies, [50, 99]))
    metrics = {"events": int(latencies.size), "p50_us": round(p50, 2), "p99_us": round(p99, 2),
               "p99_budget_us": h.p99_budget_us}
    problems = [] if p99 <= h.p99_budget_us else [
        f"p99 {p99:.1f} µs exceeds the budget of {h.p99_budget_us:.0f} µs"]
    return _result("latency", problems,
                   f"on_event p50 {p50:.1f} µs, p99 {p99:.1f} µs (budget "
                   f"{h.p99_budget_us:.0f} µs)", **metrics)


CHECKS: tuple[tuple[str, Check], ...] = (
    ("params_validation", check_params),
    ("determinism", check_determinism),
    ("warmup_boundary", check_warmup),
    ("missing_features", check_missing),
    ("stale_features", check_stale),
    ("parity", check_parity),
    ("sandbox", check_sandbox),
    ("latency", check_latency),
)
