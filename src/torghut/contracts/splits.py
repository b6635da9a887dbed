"""Split policies: how research cuts a sample into train and test folds.

Serialisable so candidate specs can name them in YAML (a discriminated union on ``kind``).
The fold arithmetic that interprets them lives in :mod:`torghut.research.splits`; see it for
the purge and embargo rules (López de Prado, *Advances in Financial Machine Learning*, 2018,
ch. 7 and 12).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Annotated, Literal, TypeAlias

from pydantic import Field, ValidationInfo, field_validator

from torghut.contracts.base import Contract


class _WalkForwardBase(Contract, ABC):
    n_folds: int = Field(ge=1, description="Consecutive test windows, tiling the sample's end")
    test_bars: int = Field(ge=1, description="Bars in each test window")
    purge_bars: int = Field(default=0, ge=0, description="Holding/label horizon in bars")
    embargo_bars: int = Field(default=0, ge=0, description="Gap after each test window")

    @property
    @abstractmethod
    def initial_train_bars(self) -> int:
        """Train-window length (before purging) of the first fold."""

    @abstractmethod
    def train_start(self, test_start: int, warmup_bars: int) -> int:
        """First position of the train window for a test window starting at ``test_start``."""


class RollingWalkForward(_WalkForwardBase):
    """Train on the ``train_bars`` bars right before each test window (less the purge)."""

    schema_version: Literal["1.0"] = "1.0"
    kind: Literal["rolling"] = "rolling"
    train_bars: int = Field(ge=1, description="Train-window length before purging")

    @property
    def initial_train_bars(self) -> int:
        return self.train_bars

    def train_start(self, test_start: int, warmup_bars: int) -> int:
        return test_start - self.train_bars


class ExpandingWalkForward(_WalkForwardBase):
    """Train on everything from the end of warm-up to each test window (less the purge)."""

    schema_version: Literal["1.0"] = "1.0"
    kind: Literal["expanding"] = "expanding"
    min_train_bars: int = Field(ge=1, description="Least train-window length (first fold), "
                                "before purging")

    @property
    def initial_train_bars(self) -> int:
        return self.min_train_bars

    def train_start(self, test_start: int, warmup_bars: int) -> int:
        return warmup_bars


class CPCV(Contract):
    """Combinatorial purged CV (AFML §12.4): ``n_groups`` contiguous groups, every choice
    of ``k_test_groups`` of them is one split's test set, the rest (purged and embargoed)
    its train set."""

    schema_version: Literal["1.0"] = "1.0"
    kind: Literal["cpcv"] = "cpcv"
    n_groups: int = Field(ge=2, description="N: contiguous groups of near-equal size")
    k_test_groups: int = Field(ge=1, description="k: test groups per split, 1 <= k < N")
    purge_bars: int = Field(default=0, ge=0, description="Holding/label horizon in bars")
    embargo_bars: int = Field(default=0, ge=0, description="Gap after each test block")

    @field_validator("k_test_groups")
    @classmethod
    def _k_below_n(cls, k: int, info: ValidationInfo) -> int:
        n = info.data.get("n_groups")
        if n is not None and k >= n:
            raise ValueError(f"k_test_groups must be < n_groups ({n}), got {k}")
        return k

    @property
    def n_splits(self) -> int:
        """C(N, k) train/test splits."""
        return math.comb(self.n_groups, self.k_test_groups)

    @property
    def n_paths(self) -> int:
        """φ = k/N · C(N, k) = C(N − 1, k − 1) backtest paths (AFML §12.4.1)."""
        return math.comb(self.n_groups - 1, self.k_test_groups - 1)


WalkForward: TypeAlias = RollingWalkForward | ExpandingWalkForward
AnyPolicy: TypeAlias = RollingWalkForward | ExpandingWalkForward | CPCV
SplitPolicy: TypeAlias = Annotated[AnyPolicy, Field(discriminator="kind")]  # embed in specs
