"""The static check reads plugin source (without importing it) and refuses side channels."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from torghut.strategies.static_check import check_module, check_source, forbidden_reason


@pytest.mark.parametrize("source,needle", [
    ("import socket\n", "'socket' (network access"),
    ("import os, urllib.request\n", "'urllib.request'"),
    ("from http.client import HTTPConnection\n", "'http.client'"),
    ("def f():\n    import requests\n", "'requests'"),
    ("import subprocess as sp\n", "'subprocess' (processes"),
    ("from multiprocessing import Pool\n", "'multiprocessing'"),
    ("import alpaca_trade_api\n", "a broker client"),
    ("from ib_insync import IB\n", "a broker client"),
    ("import ccxt\n", "a broker client"),
    ("__import__('socket')\n", "via __import__()"),
    ("import importlib\nimportlib.import_module('websockets')\n", "via import_module()"),
    ("import importlib\nname = 'x'\nimportlib.import_module(name)\n", "non-literal"),
    ("exec('print(1)')\n", "calls exec()"),
    ("eval('1')\n", "calls eval()"),
    ("def broken(:\n", "syntax error"),
])
def test_forbidden_source_is_refused_with_its_line(source: str, needle: str) -> None:
    findings = check_source(source, filename="plugin.py")
    assert findings, source
    assert needle in findings[0].message
    assert str(findings[0]).startswith("plugin.py:")


def test_clean_source_passes() -> None:
    source = ("import math\nimport numpy as np\nfrom os import path\nimport importlib\n"
              "importlib.import_module('json')\nmodel.eval()\n")
    assert check_source(source, filename="ok.py") == []


def test_forbidden_reason_matches_packages_not_prefixes() -> None:
    assert forbidden_reason("socket") and forbidden_reason("http.server")
    assert forbidden_reason("socketserver")
    assert forbidden_reason("socketlike") is None and forbidden_reason("httpie") is None


def test_module_check_follows_same_package_imports_without_importing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "plugpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "strategy.py").write_text("from . import helpers\nfrom plugpkg.util import f\n")
    (pkg / "helpers.py").write_text("X = 1\n")
    (pkg / "util.py").write_text("import socket\nraise SystemExit('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    findings = check_module("plugpkg.strategy")
    assert [(Path(f.file).name, f.line) for f in findings] == [("util.py", 1)]
    assert "plugpkg" not in sys.modules


def test_builtins_pass_and_missing_source_is_refused() -> None:
    for name in ("legacy_macd_rsi", "tsmom", "mean_reversion", "vol_breakout"):
        assert check_module(f"torghut.strategies.builtin.{name}") == []
    assert "source not found" in check_module("no_such_plugin_module")[0].message
    # The misbehaving fixtures would never get past registration.
    assert {f.message for f in check_module("torghut.strategies.testing")} >= {
        "imports 'socket' (network access is forbidden)",
        "imports 'subprocess' (processes or native code is forbidden)"}
