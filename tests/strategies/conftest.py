"""Fixtures for the strategy tests: the real sample features and importable user plugins."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.strategies.strategy_helpers import module_names
from torghut.strategies.registry import Registry
from torghut.strategies.runner import FeatureSet, sample_feature_sets


@pytest.fixture
def load_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Callable[[str], ModuleType]]:
    """Write source to a uniquely named module on sys.path and import it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created: list[str] = []

    def load(source: str) -> ModuleType:
        name = next(module_names)
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        created.append(name)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield load
    for name in created:
        sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.from_entry_points()


@pytest.fixture(scope="session")
def sample_sets() -> list[FeatureSet]:
    return sample_feature_sets()


