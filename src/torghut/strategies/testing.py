"""Deliberately misbehaving plugins, shipped for the conformance harness's sandbox check.

Each one breaks a plugin rule (network, file write, subprocess) on every call. The
static check would refuse this module at registration, so the harness instantiates these
classes directly and proves the *runtime* line of defence stops them too. Never register
them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import MutableSequence, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

from torghut.contracts import FeatureVector, StrategyIntent
from torghut.strategies.sdk import RuleStrategy, StrategyContext, StrategyParams, kernel

# Resolved at import, outside any sandbox (tempfile probes the directory by writing to it).
PROBE_FILE = Path(tempfile.gettempdir()) / f"torghut-sandbox-probe-{os.getpid()}.txt"


@kernel
def _flat(state: MutableSequence[float], x: Sequence[float], p: Sequence[float]) -> float:
    return 0.0


class _Misbehaving(RuleStrategy[StrategyParams]):
    """A flat strategy that misbehaves before each streaming or batch call."""

    version: ClassVar[str] = "0.0.1"
    Params: ClassVar[type[BaseModel]] = StrategyParams
    features = ("price",)
    rule = staticmethod(_flat)

    def kernel_params(self, params: StrategyParams) -> tuple[float, ...]:
        return ()

    def initial_state(self, params: StrategyParams) -> list[float]:
        return []

    def misbehave(self) -> None:
        raise NotImplementedError

    def on_event(self, fv: FeatureVector, ctx: StrategyContext) -> StrategyIntent | None:
        self.misbehave()
        return super().on_event(fv, ctx)

    def signals(self, frame: pd.DataFrame, params: Any) -> np.ndarray:
        self.misbehave()
        return super().signals(frame, params)


class OpensSocket(_Misbehaving):
    strategy_type: ClassVar[str] = "probe_socket"

    def misbehave(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.connect(("127.0.0.1", 9))


class WritesFile(_Misbehaving):
    strategy_type: ClassVar[str] = "probe_file_write"

    def misbehave(self) -> None:
        PROBE_FILE.write_text("a plugin must not write files\n", encoding="utf-8")


class SpawnsProcess(_Misbehaving):
    strategy_type: ClassVar[str] = "probe_subprocess"

    def misbehave(self) -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=False)


class SwallowsViolation(_Misbehaving):
    """Catches the refusal and carries on: the sandbox must still report it."""

    strategy_type: ClassVar[str] = "probe_swallow"

    def misbehave(self) -> None:
        with contextlib.suppress(Exception):
            socket.getaddrinfo("example.com", 443)


MISBEHAVING: tuple[type[_Misbehaving], ...] = (
    OpensSocket, WritesFile, SpawnsProcess, SwallowsViolation)
