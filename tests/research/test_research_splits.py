"""Walk-forward and CPCV splits: hand-worked examples, leakage properties, path map, errors."""

from __future__ import annotations

import math
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torghut.errors import TorghutError
from torghut.research.splits import (
    CPCV,
    ExpandingWalkForward,
    Fold,
    RollingWalkForward,
    contiguous_blocks,
    cpcv_groups,
    cpcv_paths,
    cpcv_splits,
    n_paths,
    parse_split_policy,
    split_folds,
    stitch_paths,
    walk_forward_folds,
)

FAST = settings(max_examples=150, deadline=None, derandomize=True)


def _positions(fold: Fold) -> tuple[list[int], list[int]]:
    return fold.train.tolist(), fold.test.tolist()


def _reference_train(n_bars: int, warmup: int, lo: int, hi: int, test: np.ndarray,
                     purge: int, embargo: int) -> list[int]:
    """Brute-force oracle: bars of [lo, hi) kept by the purge/embargo rule, bar by bar."""
    blocks = contiguous_blocks(test)
    in_test = set(test.tolist())
    keep = []
    for i in range(max(lo, warmup), min(hi, n_bars)):
        purged = any(a - purge <= i <= b for a, b in blocks)
        embargoed = any(b < i <= b + embargo for a, b in blocks)
        if i not in in_test and not purged and not embargoed:
            keep.append(i)
    return keep


def _assert_leak_free(fold: Fold, purge: int, embargo: int) -> None:
    train = fold.train
    for a, b in fold.test_blocks:
        assert not ((train >= a - purge) & (train <= b)).any(), "train bar in purge zone"
        assert not ((train > b) & (train <= b + embargo)).any(), "train bar in embargo zone"
    assert np.intersect1d(train, fold.test).size == 0


# --------------------------------------------------------------------------------------
# Hand-worked examples


def test_rolling_worked_example() -> None:
    # 20 bars, 3 folds × 3 test bars tile bars 11..19; 6 train bars before each, last purged.
    policy = RollingWalkForward(n_folds=3, train_bars=6, test_bars=3, purge_bars=1)
    folds = walk_forward_folds(20, policy)
    assert [_positions(f) for f in folds] == [
        ([5, 6, 7, 8, 9], [11, 12, 13]),
        ([8, 9, 10, 11, 12], [14, 15, 16]),
        ([11, 12, 13, 14, 15], [17, 18, 19]),
    ]
    assert [(f.n_purged, f.n_embargoed) for f in folds] == [(1, 0)] * 3
    assert [f.name for f in folds] == ["rolling-00", "rolling-01", "rolling-02"]


def test_expanding_worked_example_with_warmup() -> None:
    # warm-up 0..1; folds test 8..11, 12..15, 16..19; train from 2, last 2 bars purged.
    policy = ExpandingWalkForward(n_folds=3, min_train_bars=6, test_bars=4, purge_bars=2,
                                  embargo_bars=3)
    folds = walk_forward_folds(20, policy, warmup_bars=2)
    assert [_positions(f) for f in folds] == [
        (list(range(2, 6)), list(range(8, 12))),
        (list(range(2, 10)), list(range(12, 16))),
        (list(range(2, 14)), list(range(16, 20))),
    ]
    # Walk-forward trains before its test window: the embargo has nothing to drop.
    assert [(f.n_purged, f.n_embargoed) for f in folds] == [(2, 0)] * 3


def test_cpcv_worked_example() -> None:
    # 12 bars in 4 groups of 3: [0-2] [3-5] [6-8] [9-11]; k = 2, purge 1, embargo 1.
    policy = CPCV(n_groups=4, k_test_groups=2, purge_bars=1, embargo_bars=1)
    assert cpcv_groups(12, policy) == [(0, 2), (3, 5), (6, 8), (9, 11)]
    folds = cpcv_splits(12, policy)
    got = {f.test_groups: (f.train.tolist(), f.n_purged, f.n_embargoed) for f in folds}
    assert got == {
        (0, 1): ([7, 8, 9, 10, 11], 0, 1),   # embargo drops 6
        (0, 2): ([4, 10, 11], 1, 2),          # purge 5; embargo 3 and 9
        (0, 3): ([4, 5, 6, 7], 1, 1),         # purge 8; embargo 3
        (1, 2): ([0, 1, 10, 11], 1, 1),       # purge 2; embargo 9
        (1, 3): ([0, 1, 7], 2, 1),            # purge 2 and 8; embargo 6
        (2, 3): ([0, 1, 2, 3, 4], 1, 0),      # purge 5
    }
    assert folds[1].test_blocks == ((0, 2), (6, 8))
    assert folds[1].train_blocks == ((4, 4), (10, 11))


def test_cpcv_overlapping_zones_count_as_purged() -> None:
    # groups of 2: [0-1] [2-3] [4-5] [6-7] [8-9]; split (0, 2) tests 0-1 and 4-5. Bar 2 is
    # in both the embargo after 1 and the purge before 4: it counts once, as purged.
    policy = CPCV(n_groups=5, k_test_groups=2, purge_bars=2, embargo_bars=1)
    fold = cpcv_splits(10, policy)[1]
    assert fold.test_groups == (0, 2)
    assert (fold.train.tolist(), fold.n_purged, fold.n_embargoed) == ([7, 8, 9], 2, 1)


def test_cpcv_path_map_worked_example() -> None:
    policy = CPCV(n_groups=4, k_test_groups=2)
    path_map = cpcv_paths(policy)
    assert path_map.splits == ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    assert path_map.matrix.tolist() == [[0, 0, 1, 2], [1, 3, 3, 4], [2, 4, 5, 5]]
    assert path_map.path_of(4, 3) == 1
    with pytest.raises(TorghutError, match="not a test group"):
        path_map.path_of(0, 3)


def test_afml_example_six_groups_two_test_groups() -> None:
    # AFML §12.4.1 / fig. 12.1: N = 6, k = 2 → 15 splits and 5 backtest paths.
    policy = CPCV(n_groups=6, k_test_groups=2)
    assert policy.n_splits == 15 and policy.n_paths == 5 == n_paths(policy)
    assert len(cpcv_splits(60, policy)) == 15
    path_map = cpcv_paths(policy)
    assert path_map.n_paths == 5
    # Group 0 is tested in splits (0,1)…(0,5) = 0..4: one per path, in order.
    assert path_map.matrix[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_uneven_groups_put_the_extra_bars_first() -> None:
    assert cpcv_groups(13, CPCV(n_groups=3, k_test_groups=1), warmup_bars=2) == [
        (2, 5), (6, 9), (10, 12)]


def test_timestamps_fill_windows_and_summary() -> None:
    ts = pd.date_range("2024-01-01", periods=20, freq="D", tz="UTC")
    policy = RollingWalkForward(n_folds=2, train_bars=5, test_bars=5, purge_bars=2)
    fold = walk_forward_folds(20, policy, timestamps=ts)[1]
    assert fold.test_window.first_ts == ts[15] and fold.test_window.last_ts == ts[19]
    assert fold.train_window.first == 10 and fold.train_window.last == 12
    summary = fold.summary()
    assert summary["train"] == {"first": 10, "last": 12, "first_ts": ts[10].isoformat(),
                                "last_ts": ts[12].isoformat(), "n_bars": 3}
    assert summary["test"]["n_bars"] == 5 and summary["n_purged"] == 2


def test_fold_arrays_are_read_only() -> None:
    fold = walk_forward_folds(10, RollingWalkForward(n_folds=1, train_bars=5, test_bars=5))[0]
    with pytest.raises(ValueError):
        fold.train[0] = 99


def test_split_folds_dispatches_on_kind() -> None:
    assert len(split_folds(30, CPCV(n_groups=5, k_test_groups=2))) == 10
    wf = split_folds(30, ExpandingWalkForward(n_folds=4, min_train_bars=10, test_bars=5))
    assert [f.test.min() for f in wf] == [10, 15, 20, 25]


# --------------------------------------------------------------------------------------
# Policies as data


@pytest.mark.parametrize("policy", [
    RollingWalkForward(n_folds=6, train_bars=500, test_bars=100, purge_bars=5, embargo_bars=2),
    ExpandingWalkForward(n_folds=4, min_train_bars=250, test_bars=63),
    CPCV(n_groups=6, k_test_groups=2, purge_bars=3, embargo_bars=10),
])
def test_policy_round_trips_through_plain_data(policy) -> None:
    assert parse_split_policy(policy.model_dump(mode="json")) == policy


@pytest.mark.parametrize(("data", "field", "needle"), [
    ({"kind": "cpcv", "n_groups": 4, "k_test_groups": 4}, "split.cpcv.k_test_groups",
     "must be < n_groups"),
    ({"kind": "rolling", "n_folds": 3, "train_bars": 10, "test_bars": 0},
     "split.rolling.test_bars", "greater than or equal to 1"),
    ({"kind": "rolling", "n_folds": 3, "min_train_bars": 10, "test_bars": 5},
     "split.rolling.train_bars", "Field required"),
    ({"kind": "expanding", "n_folds": 3, "min_train_bars": 10, "test_bars": 5, "gap": 1},
     "split.expanding.gap", "Extra inputs"),
    ({"kind": "kfold", "n_folds": 3}, "split", "does not match"),
    ({"kind": "cpcv", "n_groups": 6, "k_test_groups": 2, "purge_bars": -1},
     "split.cpcv.purge_bars", "greater than or equal to 0"),
])
def test_bad_policy_data_names_the_field(data, field, needle) -> None:
    with pytest.raises(TorghutError) as info:
        parse_split_policy(data, file="cand.yaml")
    assert info.value.field == field and info.value.file == "cand.yaml"
    assert needle in info.value.message


# --------------------------------------------------------------------------------------
# Properties


@st.composite
def walk_forward_cases(draw):
    kind = draw(st.sampled_from(["rolling", "expanding"]))
    train = draw(st.integers(1, 40))
    common = {"n_folds": draw(st.integers(1, 6)), "test_bars": draw(st.integers(1, 20)),
              "purge_bars": draw(st.integers(0, train - 1)),
              "embargo_bars": draw(st.integers(0, 10))}
    policy = (RollingWalkForward(train_bars=train, **common) if kind == "rolling"
              else ExpandingWalkForward(min_train_bars=train, **common))
    warmup = draw(st.integers(0, 10))
    n_bars = warmup + train + policy.n_folds * policy.test_bars + draw(st.integers(0, 30))
    return policy, n_bars, warmup


@FAST
@given(walk_forward_cases())
def test_walk_forward_properties(case) -> None:
    policy, n_bars, warmup = case
    folds = walk_forward_folds(n_bars, policy, warmup_bars=warmup)
    assert len(folds) == policy.n_folds
    for j, fold in enumerate(folds):
        _assert_leak_free(fold, policy.purge_bars, policy.embargo_bars)
        assert fold.train.max() < fold.test.min(), "walk-forward must not look ahead"
        assert fold.train.min() >= warmup and fold.test.max() < n_bars
        assert fold.test.tolist() == list(range(fold.test[0], fold.test[0] + policy.test_bars))
        lo = policy.train_start(int(fold.test[0]), warmup)
        assert fold.train.tolist() == _reference_train(
            n_bars, warmup, lo, int(fold.test[0]), fold.test, policy.purge_bars,
            policy.embargo_bars)
        assert fold.n_purged == policy.purge_bars and fold.n_embargoed == 0
        assert fold.index == j
    assert folds[-1].test[-1] == n_bars - 1, "the most recent bars are tested"
    tests = [f.test for f in folds]
    for earlier, later in pairwise(tests):
        assert earlier.max() < later.min(), "test windows disjoint and in time order"
    sizes = [f.train.size for f in folds]
    if policy.kind == "rolling":
        assert set(sizes) == {policy.train_bars - policy.purge_bars}
    else:
        assert all(b - a == policy.test_bars for a, b in pairwise(sizes))
        assert sizes[0] >= policy.min_train_bars - policy.purge_bars


@st.composite
def cpcv_cases(draw, always_trainable: bool = True):
    n_groups = draw(st.integers(2, 7))
    policy = CPCV(n_groups=n_groups, k_test_groups=draw(st.integers(1, n_groups - 1)),
                  purge_bars=draw(st.integers(0, 6)), embargo_bars=draw(st.integers(0, 6)))
    warmup = draw(st.integers(0, 5))
    zones = policy.purge_bars + policy.embargo_bars
    # groups longer than purge + embargo always leave some training bars; shorter ones
    # make purge and embargo zones overlap, or empty a train set
    per_group = (zones + 1 + draw(st.integers(0, 4)) if always_trainable
                 else draw(st.integers(1, zones + 3)))
    n_bars = warmup + n_groups * per_group + draw(st.integers(0, n_groups - 1))
    return policy, n_bars, warmup


@FAST
@given(cpcv_cases(always_trainable=False))
def test_cpcv_properties(case) -> None:
    policy, n_bars, warmup = case
    groups = cpcv_groups(n_bars, policy, warmup_bars=warmup)
    combos = list(combinations(range(policy.n_groups), policy.k_test_groups))
    tests = [np.array([i for g in c for i in range(groups[g][0], groups[g][1] + 1)])
             for c in combos]
    oracle = [_reference_train(n_bars, warmup, warmup, n_bars, t, policy.purge_bars,
                               policy.embargo_bars) for t in tests]
    if not all(oracle):
        first_empty = next(s for s, train in enumerate(oracle) if not train)
        with pytest.raises(TorghutError, match=f"no training bars in fold cpcv-{first_empty:02d}"):
            cpcv_splits(n_bars, policy, warmup_bars=warmup)
        return
    folds = cpcv_splits(n_bars, policy, warmup_bars=warmup)
    assert len(folds) == math.comb(policy.n_groups, policy.k_test_groups)
    assert [f.test_groups for f in folds] == combos
    for fold, test, train in zip(folds, tests, oracle, strict=True):
        _assert_leak_free(fold, policy.purge_bars, policy.embargo_bars)
        assert fold.test.tolist() == test.tolist()
        assert fold.train.tolist() == train
        purge_zone = {i for a, _ in fold.test_blocks for i in range(a - policy.purge_bars, a)}
        purged = purge_zone.intersection(range(warmup, n_bars)) - set(test.tolist())
        assert fold.n_purged == len(purged), "a bar in both zones counts as purged"
        # every usable bar is exactly one of: train, test, purged, embargoed
        assert (fold.train.size + fold.test.size + fold.n_purged + fold.n_embargoed
                == n_bars - warmup)
    # each group is tested in exactly C(N-1, k-1) = φ splits
    counts = np.bincount([g for f in folds for g in f.test_groups], minlength=policy.n_groups)
    assert set(counts.tolist()) == {policy.n_paths}


@FAST
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))))
def test_path_map_covers_every_group_once_per_path(nk) -> None:
    n, k = nk
    policy = CPCV(n_groups=n, k_test_groups=k)
    path_map = cpcv_paths(policy)
    assert path_map.n_paths == policy.n_paths
    assert path_map.n_paths * n == k * math.comb(n, k), "φ = k/N · C(N, k)"
    assert path_map.matrix.shape == (path_map.n_paths, n)
    blocks = set()
    for p in range(path_map.n_paths):
        for g in range(n):
            s = int(path_map.matrix[p, g])
            assert g in path_map.splits[s], "a path segment must come from a test block"
            blocks.add((s, g))
    assert blocks == {(s, g) for s, combo in enumerate(path_map.splits) for g in combo}
    assert len(blocks) == path_map.n_paths * n, "every test block on exactly one path"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(cpcv_cases())
def test_stitched_paths_take_each_group_from_its_split(case) -> None:
    policy, n_bars, warmup = case
    folds = cpcv_splits(n_bars, policy, warmup_bars=warmup)
    # value = position + 1000 × split index, so each path bar reveals its origin
    values = [f.test + 1000.0 * f.index for f in folds]
    paths = stitch_paths(values, n_bars, policy, warmup_bars=warmup)
    path_map = cpcv_paths(policy)
    groups = cpcv_groups(n_bars, policy, warmup_bars=warmup)
    assert paths.shape == (policy.n_paths, n_bars - warmup)
    for p in range(policy.n_paths):
        for g, (a, b) in enumerate(groups):
            expected = np.arange(a, b + 1) + 1000.0 * path_map.matrix[p, g]
            np.testing.assert_array_equal(paths[p, a - warmup:b - warmup + 1], expected)


def test_stitch_paths_rejects_misaligned_values() -> None:
    policy = CPCV(n_groups=3, k_test_groups=1)
    folds = cpcv_splits(9, policy)
    with pytest.raises(TorghutError, match="2 entries for 3 CPCV splits"):
        stitch_paths([f.test for f in folds[:2]], 9, policy)
    bad = [f.test.astype(float) for f in folds]
    bad[1] = bad[1][:-1]
    with pytest.raises(TorghutError, match="split 1 has 2 values for 3 test bars"):
        stitch_paths(bad, 9, policy)


# --------------------------------------------------------------------------------------
# Errors on short data and impossible policies


def test_too_short_for_walk_forward_says_need_and_have() -> None:
    policy = RollingWalkForward(n_folds=6, train_bars=500, test_bars=100)
    with pytest.raises(TorghutError) as info:
        walk_forward_folds(1000, policy, warmup_bars=50)
    assert info.value.field == "split"
    assert "needs 1150 bars (warm-up 50 + train 500 + 6 folds × 100 test)" in str(info.value)
    assert "has 1000" in str(info.value)
    assert len(walk_forward_folds(1150, policy, warmup_bars=50)) == 6


def test_purge_that_empties_the_train_window_is_an_error() -> None:
    policy = ExpandingWalkForward(n_folds=2, min_train_bars=10, test_bars=5, purge_bars=10)
    with pytest.raises(TorghutError, match=r"purge_bars=10 empties .* needs at least 11") as info:
        walk_forward_folds(100, policy)
    assert info.value.field == "split.purge_bars"


def test_cpcv_too_short_and_over_purged() -> None:
    with pytest.raises(TorghutError, match=r"needs at least 8 bars .* has 7"):
        cpcv_splits(7, CPCV(n_groups=6, k_test_groups=2), warmup_bars=2)
    # groups of 2 bars; k = 2 of 3 groups leaves one group, fully purged and embargoed
    with pytest.raises(TorghutError, match="leave no training bars in fold cpcv-01") as info:
        cpcv_splits(6, CPCV(n_groups=3, k_test_groups=2, purge_bars=1, embargo_bars=1))
    assert info.value.field == "split.purge_bars"


@pytest.mark.parametrize(("kwargs", "field", "needle"), [
    ({"timestamps": pd.date_range("2024-01-01", periods=19)}, "timestamps",
     "19 entries for 20 bars"),
    ({"timestamps": pd.DatetimeIndex(["2024-01-02", "2024-01-01"] * 10)}, "timestamps",
     "strictly increasing"),
    ({"timestamps": ["not a date"] * 20}, "timestamps", "not datetimes"),
    ({"warmup_bars": -1}, "warmup_bars", "non-negative integer"),
])
def test_bad_inputs_name_the_field(kwargs, field, needle) -> None:
    policy = RollingWalkForward(n_folds=2, train_bars=5, test_bars=5)
    with pytest.raises(TorghutError, match=needle) as info:
        walk_forward_folds(20, policy, **kwargs)
    assert info.value.field == field


def test_walk_forward_rejects_a_cpcv_policy() -> None:
    with pytest.raises(TorghutError, match="expected a walk-forward policy") as info:
        walk_forward_folds(100, CPCV(n_groups=4, k_test_groups=1))  # type: ignore[arg-type]
    assert info.value.field == "split.kind"
