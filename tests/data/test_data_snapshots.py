"""Snapshot storage: content addressing, idempotence, lookup, integrity, crash safety."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.support import tree_snapshot
from torghut.contracts import DatasetSource, SourceKind
from torghut.data import snapshots
from torghut.data.bars import canonical_bars, content_id
from torghut.data.snapshots import (
    BARS_FILE,
    MANIFEST_FILE,
    list_snapshots,
    load_snapshot,
    write_snapshot,
)
from torghut.errors import NotFoundError, TorghutError
from torghut.workspace import Workspace

BarsFactory = Callable[..., pd.DataFrame]
SOURCE = DatasetSource(kind=SourceKind.IMPORT, description="test bars", file="bars.csv")


def _write(ws: Workspace, bars: pd.DataFrame, name: str = "test-bars",
           timeframe: str = "1d") -> tuple[str, bool]:
    manifest, created = write_snapshot(ws, bars, name=name, timeframe=timeframe,
                                       calendar="XNYS", source=SOURCE)
    return manifest.dataset_id, created


def test_round_trip_returns_the_canonical_bars(ws: Workspace, make_bars: BarsFactory) -> None:
    raw = make_bars()
    manifest, created = write_snapshot(ws, raw.iloc[::-1], name="rt", timeframe="1d",
                                       calendar="XNYS", source=SOURCE)
    assert created
    snap = load_snapshot(ws, manifest.dataset_id)
    bars = snap.bars()
    pd.testing.assert_frame_equal(bars, canonical_bars(raw))
    assert snap.path == ws.datasets_dir / manifest.dataset_id
    assert sorted(p.name for p in snap.path.iterdir()) == [BARS_FILE, MANIFEST_FILE]
    assert manifest.dataset_id == content_id(bars, "1d")
    assert manifest.symbols == ("AAA", "BBB")
    assert manifest.rows == len(raw)
    assert manifest.start == bars["ts"].iloc[0].to_pydatetime()
    assert manifest.end == bars["ts"].iloc[-1].to_pydatetime()
    assert manifest.has_quotes
    on_disk = json.loads((snap.path / MANIFEST_FILE).read_text())
    assert on_disk["dataset_id"] == manifest.dataset_id


def test_rewrite_of_same_content_is_a_no_op(ws: Workspace, make_bars: BarsFactory) -> None:
    first_id, created = _write(ws, make_bars())
    before = tree_snapshot(ws.datasets_dir)
    again_id, again = _write(ws, make_bars().sample(frac=1.0, random_state=1), name="other")
    assert (again_id, created, again) == (first_id, True, False)
    assert tree_snapshot(ws.datasets_dir) == before
    assert load_snapshot(ws, first_id).manifest.name == "test-bars"  # first name is kept


def test_timeframe_is_part_of_the_id(ws: Workspace, make_bars: BarsFactory) -> None:
    daily, _ = _write(ws, make_bars())
    hourly, created = _write(ws, make_bars(), timeframe="1h")
    assert created and daily != hourly


def test_lookup_by_name_prefix_and_errors(ws: Workspace, make_bars: BarsFactory) -> None:
    a, _ = _write(ws, make_bars(), name="alpha")
    b, _ = _write(ws, make_bars(symbols=("CCC",)), name="beta")
    assert load_snapshot(ws, "alpha").manifest.dataset_id == a
    assert load_snapshot(ws, b[:6]).manifest.dataset_id == b
    assert load_snapshot(ws, b.upper()[:10]).manifest.dataset_id == b
    assert [m.name for m in list_snapshots(ws)] == ["alpha", "beta"]
    with pytest.raises(NotFoundError, match="no dataset 'gamma'"):
        load_snapshot(ws, "gamma")
    with pytest.raises(NotFoundError):
        load_snapshot(ws, a[:5])  # prefixes need at least 6 characters
    _write(ws, make_bars(symbols=("DDD",)), name="alpha")
    with pytest.raises(NotFoundError, match="name 'alpha' is ambiguous"):
        load_snapshot(ws, "alpha")


def test_ambiguous_prefix_is_not_found(ws: Workspace, make_bars: BarsFactory) -> None:
    dataset_id, _ = _write(ws, make_bars())
    # A second snapshot folder whose id shares the first 10 hex digits.
    twin = dataset_id[:10] + ("0" if dataset_id[10] != "0" else "1") + dataset_id[11:]
    (ws.datasets_dir / twin).mkdir()
    manifest = json.loads((ws.datasets_dir / dataset_id / MANIFEST_FILE).read_text())
    (ws.datasets_dir / twin / MANIFEST_FILE).write_text(
        json.dumps({**manifest, "dataset_id": twin, "name": "twin"}))
    with pytest.raises(NotFoundError, match="ambiguous"):
        load_snapshot(ws, dataset_id[:10])
    assert load_snapshot(ws, dataset_id[:11]).manifest.dataset_id == dataset_id


def test_tampered_bars_are_detected(ws: Workspace, make_bars: BarsFactory) -> None:
    dataset_id, _ = _write(ws, make_bars())
    path = ws.datasets_dir / dataset_id / BARS_FILE
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TorghutError, match="hash differs") as err:
        load_snapshot(ws, dataset_id).bars()
    assert err.value.field == "bars_sha256"


def test_swapped_content_with_matching_hash_is_detected(ws: Workspace,
                                                        make_bars: BarsFactory) -> None:
    """A bars file replaced *and* re-hashed still has to hash to the dataset id."""
    a, _ = _write(ws, make_bars(), name="a")
    b, _ = _write(ws, make_bars(symbols=("ZZZ",)), name="b")
    target = ws.datasets_dir / a
    os.chmod(target / BARS_FILE, 0o644)
    os.chmod(target / MANIFEST_FILE, 0o644)
    (target / BARS_FILE).write_bytes((ws.datasets_dir / b / BARS_FILE).read_bytes())
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["bars_sha256"] = json.loads(
        (ws.datasets_dir / b / MANIFEST_FILE).read_text())["bars_sha256"]
    (target / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(TorghutError, match="does not hash to the dataset id"):
        load_snapshot(ws, a).bars()


def test_malformed_manifest_names_the_file(ws: Workspace, make_bars: BarsFactory) -> None:
    dataset_id, _ = _write(ws, make_bars())
    path = ws.datasets_dir / dataset_id / MANIFEST_FILE
    os.chmod(path, 0o644)
    path.write_text("{not json")
    with pytest.raises(TorghutError) as err:
        list_snapshots(ws)
    assert err.value.file == str(path)
    path.write_text(json.dumps({"dataset_id": dataset_id}))
    with pytest.raises(TorghutError) as err:
        load_snapshot(ws, dataset_id)
    assert err.value.file == str(path) and err.value.field


def test_snapshot_files_are_read_only(ws: Workspace, make_bars: BarsFactory) -> None:
    dataset_id, _ = _write(ws, make_bars())
    for name in (BARS_FILE, MANIFEST_FILE):
        assert (ws.datasets_dir / dataset_id / name).stat().st_mode & 0o222 == 0


def test_invalid_name_and_calendar_are_rejected(ws: Workspace, make_bars: BarsFactory) -> None:
    with pytest.raises(TorghutError) as err:
        write_snapshot(ws, make_bars(), name="bad name!", timeframe="1d", calendar="XNYS",
                       source=SOURCE)
    assert err.value.field == "name"
    with pytest.raises(TorghutError) as err:
        write_snapshot(ws, make_bars(), name="ok", timeframe="1d", calendar="MARS",
                       source=SOURCE)
    assert err.value.field == "calendar"
    assert list(ws.datasets_dir.iterdir()) == []


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), RuntimeError("boom")])
def test_crash_mid_write_leaves_nothing(ws: Workspace, make_bars: BarsFactory,
                                        monkeypatch: pytest.MonkeyPatch,
                                        exc: BaseException) -> None:
    real_write = snapshots.pq.write_table

    def half_write(table, where, **kwargs):  # writes a partial file, then fails
        real_write(table, where, **kwargs)
        Path(where).write_bytes(Path(where).read_bytes()[:100])
        raise exc

    monkeypatch.setattr(snapshots.pq, "write_table", half_write)
    expected = TorghutError if isinstance(exc, OSError) else RuntimeError
    with pytest.raises(expected):
        _write(ws, make_bars())
    assert list(ws.datasets_dir.iterdir()) == []  # no snapshot, no staging leftovers
    monkeypatch.undo()
    dataset_id, created = _write(ws, make_bars())
    assert created and load_snapshot(ws, dataset_id).bars().shape[0] == 42


def test_staging_folders_are_never_listed(ws: Workspace, make_bars: BarsFactory) -> None:
    (ws.datasets_dir / ".abc.staging").mkdir()
    _write(ws, make_bars())
    assert len(list_snapshots(ws)) == 1
