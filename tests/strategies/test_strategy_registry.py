"""Registry: discovery through real entry points, refusals, and fail-closed resolution."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint
from types import ModuleType

import pytest

from tests.strategies.strategy_helpers import plugin_source
from torghut.contracts import StrategyDefinition
from torghut.errors import NotFoundError, TorghutError
from torghut.strategies.registry import (
    ENTRY_POINT_GROUP,
    ReasonCode,
    Registry,
    Status,
    describe,
    parse_ref,
)

Loader = Callable[[str], ModuleType]
BUILTIN_REFS = ["legacy_macd_rsi@1.0.0", "mean_reversion@1.0.0", "sma_crossover@1.0.0",
                "tsmom@1.0.0", "vol_breakout@1.0.0"]


def _entry(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def _definition(stype: str, version: str = "1.0.0", **kw: object) -> StrategyDefinition:
    return StrategyDefinition(strategy_id="s1", strategy_type=stype, version=version,
                              **kw)  # type: ignore[arg-type]


def test_installed_entry_points_register_the_builtins(registry: Registry) -> None:
    records = registry.records()
    assert [r.name for r in records] == BUILTIN_REFS
    assert all(r.status is Status.READY and r.source.startswith("entry point") for r in records)
    listing = describe(next(r for r in records if r.name == "tsmom@1.0.0"))
    assert listing["warmup_bars"] == 60
    assert listing["required_features"] == ["price", "vol_realized_20"]
    assert listing["params"]["lookback"] == {
        "type": "int", "default": 60, "ge": 2, "le": 5000,
        "description": "Bars in the momentum return"}


def test_register_a_plugin_defined_in_code(load_module: Loader) -> None:
    module = load_module(plugin_source("user_trend", "1.2.0"))
    registry = Registry()
    record = registry.register(module.EmaTrend)
    assert record.status is Status.READY and record.name == "user_trend@1.2.0"
    assert registry.plugin("user_trend@1.2.0") is record.plugin


def test_static_check_refusal_is_listed_not_raised(load_module: Loader) -> None:
    registry = Registry()
    bad = load_module(plugin_source("sneaky", prelude="import socket"))
    record = registry.register(bad.EmaTrend)
    assert record.status is Status.DISABLED
    assert record.reasons[0].code is ReasonCode.STATIC_CHECK
    assert "imports 'socket'" in record.reasons[0].message
    with pytest.raises(TorghutError, match=r"disabled.*STATIC_CHECK"):
        registry.plugin("sneaky@1.0.0")


def test_entry_point_is_checked_before_it_is_imported(load_module: Loader) -> None:
    # The module would raise if imported: the static check must refuse it first.
    module_file = load_module("X = 1\n")
    path = module_file.__file__
    assert path is not None
    with open(path, "w") as fh:
        fh.write("import ccxt\nraise SystemExit('imported!')\n")
    registry = Registry()
    record = registry.load_entry_point(_entry("evil-1.0.0", f"{module_file.__name__}:X"))
    assert record.status is Status.DISABLED and record.key == ("evil", "1.0.0")
    assert record.name == "evil@1.0.0"
    assert record.reasons[0].code is ReasonCode.STATIC_CHECK


@pytest.mark.parametrize("source,value_attr,needle,code", [
    ("raise RuntimeError('boom at import')\n", "X", "RuntimeError: boom at import",
     ReasonCode.ENTRY_POINT_ERROR),
    ("X = 1\n", "Missing", "AttributeError", ReasonCode.ENTRY_POINT_ERROR),
    ("X = 1\n", "X", "is not a class", ReasonCode.INVALID_PLUGIN),
])
def test_broken_entry_points_are_reported(load_module: Loader, source: str, value_attr: str,
                                          needle: str, code: ReasonCode) -> None:
    holder = load_module("X = 1\n")
    path = holder.__file__
    assert path is not None
    with open(path, "w") as fh:
        fh.write(source)
    sys.modules.pop(holder.__name__)  # force a fresh import of the new content
    registry = Registry()
    record = registry.load_entry_point(_entry("broken-2.0.0", f"{holder.__name__}:{value_attr}"))
    assert record.status is Status.DISABLED and record.reasons[0].code is code
    assert needle in record.reasons[0].message
    entry = registry.resolve(_definition("broken", "2.0.0"))
    assert entry.reasons[0].code is ReasonCode.PLUGIN_DISABLED


def test_entry_point_name_must_match_the_class(load_module: Loader) -> None:
    module = load_module(plugin_source("user_trend", "1.0.0"))
    registry = Registry()
    record = registry.load_entry_point(_entry("user_trend-2.0.0", f"{module.__name__}:EmaTrend"))
    assert record.status is Status.DISABLED
    assert "declares user_trend@1.0.0" in record.reasons[0].message


def test_two_sources_for_one_key_disable_it(load_module: Loader) -> None:
    first, second = (load_module(plugin_source("twin")) for _ in range(2))
    registry = Registry()
    registry.register(first.EmaTrend)
    registry.register(first.EmaTrend)  # the same source twice is not a conflict
    assert registry.records()[0].status is Status.READY
    registry.register(second.EmaTrend)
    (record,) = registry.records()
    assert record.status is Status.DISABLED
    assert record.reasons[0].code is ReasonCode.DUPLICATE_PLUGIN


def test_unknown_type_and_version_fail_closed(load_module: Loader) -> None:
    registry = Registry()
    for version in ("1.0.0", "2.0.0"):
        registry.register(load_module(plugin_source("multi", version)).EmaTrend)
    assert registry.resolve(_definition("multi", "2.0.0")).status is Status.READY
    unknown_type = registry.resolve(_definition("nope"))
    assert unknown_type.status is Status.DISABLED
    assert unknown_type.reasons[0].code is ReasonCode.UNKNOWN_STRATEGY_TYPE
    assert unknown_type.reasons[0].loc == ("strategy_type",)
    # 1.5.0 sits between two registered versions: never substituted by either.
    between = registry.resolve(_definition("multi", "1.5.0"))
    assert between.status is Status.DISABLED and between.plugin is None
    assert between.reasons[0].code is ReasonCode.UNKNOWN_STRATEGY_VERSION
    assert "['1.0.0', '2.0.0']" in between.reasons[0].message
    with pytest.raises(NotFoundError, match="UNKNOWN_STRATEGY_VERSION"):
        registry.get("multi", "1.5.0")


def test_invalid_params_are_reported_per_field(registry: Registry) -> None:
    entry = registry.resolve(_definition(
        "tsmom", params={"lookback": 1, "allow_short": "no", "bogus": True}))
    assert entry.status is Status.DISABLED and entry.params is None
    assert {(r.code, r.loc) for r in entry.reasons} == {
        (ReasonCode.INVALID_PARAMS, ("params", "lookback")),
        (ReasonCode.INVALID_PARAMS, ("params", "allow_short")),
        (ReasonCode.INVALID_PARAMS, ("params", "bogus")),
    }
    cross = registry.resolve(_definition("vol_breakout",
                                         params={"entry_lookback": 5, "exit_lookback": 9}))
    assert cross.reasons[0].loc == ("params",)
    assert "exit_lookback must not exceed" in cross.reasons[0].message


def test_feature_requirements(registry: Registry, load_module: Loader) -> None:
    unknown = registry.resolve(_definition("tsmom", feature_requirements=("price", "gamma")))
    assert [(r.code, r.loc) for r in unknown.reasons] == [
        (ReasonCode.FEATURE_REQUIREMENTS, ("feature_requirements", 1))]
    missing = registry.resolve(_definition("tsmom"),
                               available_features=("price", "rsi14"))
    assert missing.reasons[0].code is ReasonCode.FEATURE_REQUIREMENTS
    assert "vol_realized_20" in missing.reasons[0].message
    newer = load_module(plugin_source("needs_new", extra="    min_feature_schema = '3.4'\n"))
    local = Registry()
    local.register(newer.EmaTrend)
    too_old = local.resolve(_definition("needs_new"))
    assert too_old.reasons[0].code is ReasonCode.FEATURE_REQUIREMENTS
    assert "3.4" in too_old.reasons[0].message
    assert local.resolve(_definition("needs_new"), feature_schema="3.4").status is Status.READY
    assert local.resolve(_definition("needs_new"), feature_schema="4.4").status is \
        Status.DISABLED  # a major bump breaks compatibility


def test_resolution_of_a_valid_entry(registry: Registry) -> None:
    entry = registry.resolve(_definition("tsmom", params={"lookback": 120}, enabled=True))
    assert entry.status is Status.READY and entry.runnable
    assert entry.params is not None and entry.params.lookback == 120  # type: ignore[attr-defined]
    assert not registry.resolve(_definition("tsmom")).runnable  # valid but switched off


@pytest.mark.parametrize("ref", ["tsmom", "tsmom@1.0", "Tsmom@1.0.0", "tsmom@v1.0.0", ""])
def test_parse_ref_rejects_malformed_refs(ref: str) -> None:
    with pytest.raises(TorghutError, match="TYPE@VERSION"):
        parse_ref(ref)


def test_parse_ref() -> None:
    assert parse_ref(" vol_breakout@10.2.3 ") == ("vol_breakout", "10.2.3")
