"""Train/test splits for time series: purged walk-forward and combinatorial purged CV.

Follows López de Prado, *Advances in Financial Machine Learning* (Wiley, 2018): ch. 7
(purging and embargo) and ch. 12 (combinatorial purged cross-validation, CPCV). Everything
is in *bar positions* on one clock (0 … n_bars − 1); the first ``warmup_bars`` positions
are reserved for indicator warm-up and are never trained or tested on.

Leakage rules, for every test window ``[a, b]`` (inclusive) of a fold:

* **purge** — a training bar ``i`` whose holding interval ``[i, i + purge_bars]`` overlaps
  ``[a, b]`` is dropped, i.e. every non-test ``i`` in ``[a − purge_bars, b]``. Set
  ``purge_bars`` to the label/holding horizon: a position opened at ``i`` is still
  earning on bar ``i + purge_bars``.
* **embargo** — training bars in ``(b, b + embargo_bars]`` are dropped, because features
  computed there still see the test window (serial correlation; AFML §7.4.2).

A bar in both zones (CPCV, two close test blocks) counts as purged. Walk-forward trains
strictly before its test window, so its embargo never removes a bar of its own fold (the
field exists so a policy can move between walk-forward and CPCV unchanged); CPCV trains on
both sides and needs it.

Policies are pydantic models (a discriminated union on ``kind``) because candidate specs
name them in YAML. Grid candidates pick their parameters per fold on the train window only
(:func:`select_on_train`) and are scored on the test window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from pydantic import TypeAdapter, ValidationError

from torghut.contracts.splits import (
    CPCV,
    AnyPolicy,
    ExpandingWalkForward,
    RollingWalkForward,
    SplitPolicy,
    WalkForward,
)
from torghut.errors import TorghutError, from_validation_error

SPLIT_FIELD = "split"  # where a candidate spec holds its split policy; prefixes error fields


# Policies are contracts (candidate specs embed them); re-exported here for convenience.
_POLICY_ADAPTER: TypeAdapter[AnyPolicy] = TypeAdapter(SplitPolicy)
Timestamps: TypeAlias = Sequence[Any] | pd.DatetimeIndex | np.ndarray


def parse_split_policy(data: Mapping[str, Any], *, file: str | Path | None = None
                       ) -> AnyPolicy:
    """Validate a policy mapping (e.g. from YAML); errors name ``split.<kind>.<field>``."""
    try:
        return _POLICY_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise from_validation_error(exc, file=file, prefix=SPLIT_FIELD) from None


# --------------------------------------------------------------------------------------
# Folds


@dataclass(frozen=True)
class Window:
    """First and last position (inclusive) of a span, and their timestamps when known."""

    first: int
    last: int
    first_ts: pd.Timestamp | None = None
    last_ts: pd.Timestamp | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-ready form (ISO timestamps)."""
        return {"first": self.first, "last": self.last,
                "first_ts": _iso(self.first_ts), "last_ts": _iso(self.last_ts)}


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split. ``train`` and ``test`` are sorted, read-only positions.

    Windows give the span (first/last position) of each set; CPCV sets can have holes, see
    :attr:`train_blocks` / :attr:`test_blocks`. ``test_groups`` is empty for walk-forward.
    """

    index: int
    name: str
    train: np.ndarray
    test: np.ndarray
    train_window: Window
    test_window: Window
    n_purged: int
    n_embargoed: int
    test_groups: tuple[int, ...] = ()

    @property
    def train_blocks(self) -> tuple[tuple[int, int], ...]:
        return contiguous_blocks(self.train)

    @property
    def test_blocks(self) -> tuple[tuple[int, int], ...]:
        return contiguous_blocks(self.test)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for metrics bundles and the ledger (no index arrays)."""
        return {"index": self.index, "name": self.name,
                "train": {**self.train_window.summary(), "n_bars": int(self.train.size)},
                "test": {**self.test_window.summary(), "n_bars": int(self.test.size)},
                "n_purged": self.n_purged, "n_embargoed": self.n_embargoed,
                "test_groups": list(self.test_groups)}


def contiguous_blocks(positions: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Maximal runs of consecutive positions as inclusive ``(first, last)`` pairs."""
    if positions.size == 0:
        return ()
    breaks = np.flatnonzero(np.diff(positions) != 1)
    firsts = np.concatenate(([positions[0]], positions[breaks + 1]))
    lasts = np.concatenate((positions[breaks], [positions[-1]]))
    return tuple((int(a), int(b)) for a, b in zip(firsts, lasts, strict=True))


def split_folds(n_bars: int, policy: AnyPolicy, *,
                timestamps: Timestamps | None = None,
                warmup_bars: int = 0) -> list[Fold]:
    """Folds of any policy: walk-forward folds, or CPCV splits in lexicographic order."""
    if isinstance(policy, CPCV):
        return cpcv_splits(n_bars, policy, timestamps=timestamps, warmup_bars=warmup_bars)
    return walk_forward_folds(n_bars, policy, timestamps=timestamps, warmup_bars=warmup_bars)


def walk_forward_folds(n_bars: int, policy: WalkForward, *,
                       timestamps: Timestamps | None = None,
                       warmup_bars: int = 0) -> list[Fold]:
    """Walk-forward folds in time order; every train bar precedes its test window.

    The ``n_folds`` test windows of ``test_bars`` each tile the *end* of the sample, so the
    most recent data is always tested; fold ``j`` tests ``[s_j, s_j + test_bars − 1]`` with
    ``s_j = n_bars − (n_folds − j) · test_bars``. Its train window is the ``train_bars``
    before ``s_j`` (rolling) or ``[warmup_bars, s_j − 1]`` (expanding); the purge then drops
    its last ``purge_bars`` bars. Leading bars a rolling policy does not need stay unused.
    """
    if not isinstance(policy, RollingWalkForward | ExpandingWalkForward):
        raise TorghutError(f"expected a walk-forward policy, got kind {policy.kind!r}",
                           field=f"{SPLIT_FIELD}.kind")
    ts = _check_inputs(n_bars, warmup_bars, timestamps)
    need = warmup_bars + policy.initial_train_bars + policy.n_folds * policy.test_bars
    if n_bars < need:
        train_name = "train" if policy.kind == "rolling" else "min train"
        raise TorghutError(
            f"{policy.kind} walk-forward needs {need} bars (warm-up {warmup_bars} + "
            f"{train_name} {policy.initial_train_bars} + {policy.n_folds} folds × "
            f"{policy.test_bars} test) but the data has {n_bars}", field=SPLIT_FIELD)
    if policy.purge_bars >= policy.initial_train_bars:
        raise TorghutError(
            f"purge_bars={policy.purge_bars} empties the first train window of "
            f"{policy.initial_train_bars} bars; it needs at least {policy.purge_bars + 1}",
            field=f"{SPLIT_FIELD}.purge_bars")
    folds = []
    for j in range(policy.n_folds):
        a = n_bars - (policy.n_folds - j) * policy.test_bars
        test = np.arange(a, a + policy.test_bars)
        candidate = np.zeros(n_bars, dtype=bool)
        candidate[policy.train_start(a, warmup_bars):a] = True
        folds.append(_make_fold(j, f"{policy.kind}-{j:02d}", candidate, test, policy, ts))
    return folds


def cpcv_groups(n_bars: int, policy: CPCV, *, warmup_bars: int = 0) -> list[tuple[int, int]]:
    """The N contiguous groups of ``[warmup_bars, n_bars)`` as inclusive ``(first, last)``;
    sizes differ by at most one, larger groups first (``numpy.array_split``)."""
    _check_inputs(n_bars, warmup_bars, None)
    usable = n_bars - warmup_bars
    if usable < policy.n_groups:
        raise TorghutError(
            f"CPCV with {policy.n_groups} groups needs at least "
            f"{warmup_bars + policy.n_groups} bars (warm-up {warmup_bars} + one bar per "
            f"group) but the data has {n_bars}", field=SPLIT_FIELD)
    sizes = np.full(policy.n_groups, usable // policy.n_groups)
    sizes[: usable % policy.n_groups] += 1
    lasts = warmup_bars + np.cumsum(sizes) - 1
    return [(int(last - size + 1), int(last)) for last, size in zip(lasts, sizes, strict=True)]


def cpcv_splits(n_bars: int, policy: CPCV, *,
                timestamps: Timestamps | None = None,
                warmup_bars: int = 0) -> list[Fold]:
    """The C(N, k) CPCV splits, in lexicographic order of their test groups.

    Train sets take bars on both sides of the test blocks, less purge and embargo zones.
    """
    ts = _check_inputs(n_bars, warmup_bars, timestamps)
    groups = cpcv_groups(n_bars, policy, warmup_bars=warmup_bars)
    folds = []
    for s, combo in enumerate(combinations(range(policy.n_groups), policy.k_test_groups)):
        test = np.concatenate([np.arange(groups[g][0], groups[g][1] + 1) for g in combo])
        candidate = np.zeros(n_bars, dtype=bool)
        candidate[warmup_bars:] = True
        folds.append(_make_fold(s, f"cpcv-{s:02d}", candidate, test, policy, ts, combo))
    return folds


def _make_fold(index: int, name: str, candidate: np.ndarray, test: np.ndarray,
               policy: AnyPolicy,
               ts: pd.DatetimeIndex | None, test_groups: tuple[int, ...] = ()) -> Fold:
    """Apply purge and embargo around every test block of ``test`` to the candidate mask."""
    n = candidate.size
    candidate[test] = False
    purged, embargoed = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for a, b in contiguous_blocks(test):
        purged[max(a - policy.purge_bars, 0):a] = True
        embargoed[b + 1:b + 1 + policy.embargo_bars] = True
    purged &= candidate
    embargoed &= candidate & ~purged
    train = np.flatnonzero(candidate & ~purged & ~embargoed)
    if train.size == 0:
        raise TorghutError(
            f"purge_bars={policy.purge_bars} and embargo_bars={policy.embargo_bars} leave no "
            f"training bars in fold {name} ({int(candidate.sum())} candidate bars)",
            field=f"{SPLIT_FIELD}.purge_bars")
    return Fold(index=index, name=name, train=_frozen(train), test=_frozen(test),
                train_window=_window(train, ts), test_window=_window(test, ts),
                n_purged=int(purged.sum()), n_embargoed=int(embargoed.sum()),
                test_groups=tuple(test_groups))


def _check_inputs(n_bars: int, warmup_bars: int,
                  timestamps: Timestamps | None
                  ) -> pd.DatetimeIndex | None:
    for label, value in (("n_bars", n_bars), ("warmup_bars", warmup_bars)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise TorghutError(f"must be a non-negative integer, got {value!r}", field=label)
    if timestamps is None:
        return None
    try:
        ts = pd.DatetimeIndex(timestamps)
    except (TypeError, ValueError) as exc:
        raise TorghutError(f"not datetimes: {exc}", field="timestamps") from None
    if len(ts) != n_bars:
        raise TorghutError(f"has {len(ts)} entries for {n_bars} bars", field="timestamps")
    if ts.hasnans or not ts.is_monotonic_increasing or not ts.is_unique:
        raise TorghutError("must be strictly increasing, without missing values",
                           field="timestamps")
    return ts


def _window(positions: np.ndarray, ts: pd.DatetimeIndex | None) -> Window:
    first, last = int(positions[0]), int(positions[-1])
    if ts is None:
        return Window(first, last)
    return Window(first, last, ts[first], ts[last])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64, copy=False)
    a.setflags(write=False)
    return a


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.isoformat()


# --------------------------------------------------------------------------------------
# CPCV backtest paths


@dataclass(frozen=True, eq=False)
class PathMap:
    """Which split's test block of each group forms each backtest path (AFML §12.4.1).

    ``splits[s]`` are the test groups of split ``s``; ``matrix[p, g]`` is the split whose
    test block on group ``g`` belongs to path ``p``. Every path covers every group exactly
    once, and every (split, test group) block sits on exactly one path.
    """

    n_groups: int
    splits: tuple[tuple[int, ...], ...]
    matrix: np.ndarray

    @property
    def n_paths(self) -> int:
        return int(self.matrix.shape[0])

    def path_of(self, split: int, group: int) -> int:
        """The path that split ``split``'s test block on ``group`` belongs to."""
        hits = np.flatnonzero(self.matrix[:, group] == split)
        if hits.size != 1:
            raise TorghutError(f"group {group} is not a test group of split {split}",
                               field="group")
        return int(hits[0])


def cpcv_paths(policy: CPCV) -> PathMap:
    """The path map: group ``g``'s ``j``-th test appearance (splits in lexicographic order)
    goes to path ``j``. Each group is tested in C(N − 1, k − 1) = φ splits, so each of the
    φ paths gets each group once — the numbering of AFML fig. 12.1."""
    splits = tuple(combinations(range(policy.n_groups), policy.k_test_groups))
    matrix = np.empty((policy.n_paths, policy.n_groups), dtype=np.int64)
    seen = np.zeros(policy.n_groups, dtype=np.int64)
    for s, combo in enumerate(splits):
        for g in combo:
            matrix[seen[g], g] = s
            seen[g] += 1
    matrix.setflags(write=False)
    return PathMap(n_groups=policy.n_groups, splits=splits, matrix=matrix)


def n_paths(policy: CPCV) -> int:
    """φ[N, k] = k/N · C(N, k): the number of CPCV backtest paths."""
    return policy.n_paths


def stitch_paths(test_values: Sequence[np.ndarray], n_bars: int, policy: CPCV, *,
                 warmup_bars: int = 0) -> np.ndarray:
    """Assemble per-split out-of-sample values into φ full backtest paths.

    ``test_values[s]`` holds one value (e.g. a return) per position of split ``s``'s test
    set, in position order. Returns a ``(φ, n_bars − warmup_bars)`` array whose row ``p``
    is path ``p`` over the whole sample, ready for per-path Sharpe ratios.
    """
    groups = cpcv_groups(n_bars, policy, warmup_bars=warmup_bars)
    path_map = cpcv_paths(policy)
    if len(test_values) != len(path_map.splits):
        raise TorghutError(f"has {len(test_values)} entries for {len(path_map.splits)} "
                           "CPCV splits", field="test_values")
    out = np.empty((path_map.n_paths, n_bars - warmup_bars))
    for s, combo in enumerate(path_map.splits):
        values = np.asarray(test_values[s], dtype=float)
        sizes = [groups[g][1] - groups[g][0] + 1 for g in combo]
        if values.shape != (sum(sizes),):
            raise TorghutError(f"split {s} has {values.size} values for {sum(sizes)} test "
                               "bars", field=f"test_values[{s}]")
        for g, chunk in zip(combo, np.split(values, np.cumsum(sizes)[:-1]), strict=True):
            first, last = (x - warmup_bars for x in groups[g])
            out[path_map.path_of(s, g), first:last + 1] = chunk
    return out


# --------------------------------------------------------------------------------------
# Grid selection


def select_on_train(train_scores: np.ndarray, *, maximize: bool = True) -> np.ndarray:
    """Per fold, the grid index with the best *train-window* score.

    ``train_scores`` is ``(n_folds, n_grid)``. Ties go to the lowest grid index (the first
    point in the grid's canonical order), so selection is deterministic. NaN scores (e.g.
    a point that never traded) are never chosen; a fold with only NaN scores is an error.
    The chosen point is then scored on that fold's test window only
    (:func:`selected_scores`), so no test bar informs a choice.
    """
    scores = _score_matrix(train_scores, "train_scores")
    valid = ~np.isnan(scores)
    if not valid.any(axis=1).all():
        fold = int(np.flatnonzero(~valid.any(axis=1))[0])
        raise TorghutError(f"fold {fold} has no non-NaN score", field="train_scores")
    ranked = np.where(valid, scores if maximize else -scores, -np.inf)
    best = ranked.max(axis=1, keepdims=True)
    # argmax of a boolean row is its first True: the lowest index among the tied best
    chosen: np.ndarray = np.argmax(valid & (ranked == best), axis=1)
    return chosen


def selected_scores(test_scores: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Each fold's test-window score of the grid point chosen on its train window."""
    scores = _score_matrix(test_scores, "test_scores")
    chosen = np.asarray(chosen)
    if chosen.shape != (scores.shape[0],) or not np.issubdtype(chosen.dtype, np.integer):
        raise TorghutError(f"needs one integer grid index per fold ({scores.shape[0]}), got "
                           f"shape {chosen.shape}", field="chosen")
    if chosen.size and (chosen.min() < 0 or chosen.max() >= scores.shape[1]):
        raise TorghutError(f"grid index out of range 0..{scores.shape[1] - 1}", field="chosen")
    picked: np.ndarray = scores[np.arange(scores.shape[0]), chosen]
    return picked


def _score_matrix(values: np.ndarray, field: str) -> np.ndarray:
    try:
        scores = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TorghutError("must be numeric", field=field) from None
    if scores.ndim != 2 or 0 in scores.shape:
        raise TorghutError(f"must be a non-empty (folds × grid points) matrix, got shape "
                           f"{scores.shape}", field=field)
    return scores
