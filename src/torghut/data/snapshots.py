"""Immutable, content-addressed dataset snapshots under ``datasets/<id>/``.

A snapshot is a folder holding ``bars.parquet`` (the canonical bar frame, see
:mod:`torghut.data.bars`) and ``manifest.json`` (a :class:`DatasetManifest`). The id is the
hash of the bar *content* plus the timeframe, not of the Parquet bytes, so it does not depend
on the Parquet writer's version. A snapshot is assembled in a staging folder and renamed into
place in one step, and never modified afterwards; importing the same content again returns
the existing snapshot (its name, calendar and provenance are those of the first import).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from torghut.contracts import BAR_COLUMNS, DatasetManifest, DatasetSource
from torghut.data.bars import NUMERIC_COLUMNS, QUOTE_COLUMNS, canonical_bars, content_id
from torghut.data.calendars import check_calendar, check_timeframe
from torghut.errors import NotFoundError, TorghutError, from_validation_error
from torghut.fsutil import file_sha256, staging_dir
from torghut.workspace import Workspace

MANIFEST_FILE = "manifest.json"
BARS_FILE = "bars.parquet"
MIN_PREFIX = 6
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
_ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_PARQUET_SCHEMA = pa.schema([
    pa.field("ts", pa.timestamp("ns", tz="UTC"), nullable=False),
    pa.field("symbol", pa.string(), nullable=False),
    *[pa.field(c, pa.float64()) for c in NUMERIC_COLUMNS],
])


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot: its manifest and its folder."""

    manifest: DatasetManifest
    path: Path

    @property
    def bars_path(self) -> Path:
        return self.path / self.manifest.bars_file

    def bars(self) -> pd.DataFrame:
        """The canonical bars, after checking the file hash and the content id."""
        path = self.bars_path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TorghutError(f"cannot read bars: {exc.strerror or exc}", file=path) from None
        if hashlib.sha256(data).hexdigest() != self.manifest.bars_sha256:
            raise TorghutError("file hash differs from the manifest: the snapshot was "
                               "modified or is corrupt", file=path, field="bars_sha256")
        try:
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:
            raise TorghutError(f"unreadable Parquet: {exc}", file=path) from None
        if table.schema.names != list(BAR_COLUMNS):
            raise TorghutError(f"columns {table.schema.names} are not {list(BAR_COLUMNS)}",
                               file=path, field="columns")
        frame = table.to_pandas()
        if content_id(frame, self.manifest.timeframe) != self.manifest.dataset_id:
            raise TorghutError("bar content does not hash to the dataset id", file=path,
                               field="dataset_id")
        return frame


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise TorghutError(f"invalid dataset name {name!r}: use letters, digits, '.', '_' "
                           "or '-', starting with a letter or digit", field="name")
    return name


def write_snapshot(ws: Workspace, bars: pd.DataFrame, *, name: str, timeframe: str,
                   calendar: str, source: DatasetSource) -> tuple[DatasetManifest, bool]:
    """Canonicalise + validate, compute id, write atomically; (manifest, created)."""
    check_name(name)
    check_timeframe(timeframe)
    calendar = check_calendar(calendar)
    frame = canonical_bars(bars, file=source.file or name)
    dataset_id = content_id(frame, timeframe)
    final = ws.datasets_dir / dataset_id
    if final.exists():
        return read_manifest(final), False
    try:
        with staging_dir(final) as tmp:
            pq.write_table(_to_arrow(frame), tmp / BARS_FILE, compression="zstd")
            manifest = _manifest(frame, dataset_id=dataset_id, name=name, timeframe=timeframe,
                                 calendar=calendar, source=source,
                                 bars_sha256=file_sha256(tmp / BARS_FILE))
            (tmp / MANIFEST_FILE).write_text(manifest_json(manifest), encoding="utf-8")
            for written in (tmp / BARS_FILE, tmp / MANIFEST_FILE):
                written.chmod(0o444)  # snapshots are never modified after creation
    except OSError as exc:
        if (final / MANIFEST_FILE).is_file():  # a concurrent writer landed the same content
            return read_manifest(final), False
        raise TorghutError(f"cannot write snapshot: {exc.strerror or exc}", file=final) from None
    return manifest, True


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    arrays = [pa.Array.from_pandas(frame["ts"], type=pa.timestamp("ns", tz="UTC")),
              pa.array(frame["symbol"].to_numpy(dtype=object), type=pa.string()),
              *[pa.array(frame[c].to_numpy(), type=pa.float64(), from_pandas=True)
                for c in NUMERIC_COLUMNS]]
    return pa.Table.from_arrays(arrays, schema=_PARQUET_SCHEMA)


def _manifest(frame: pd.DataFrame, *, dataset_id: str, name: str, timeframe: str,
              calendar: str, source: DatasetSource, bars_sha256: str) -> DatasetManifest:
    has_quotes = bool(frame[list(QUOTE_COLUMNS)].notna().to_numpy().any())
    return DatasetManifest(
        dataset_id=dataset_id, name=name, timeframe=timeframe, calendar=calendar,
        symbols=tuple(sorted(frame["symbol"].unique())),
        start=frame["ts"].iloc[0].to_pydatetime(), end=frame["ts"].iloc[-1].to_pydatetime(),
        rows=len(frame), columns=BAR_COLUMNS, has_quotes=has_quotes, source=source,
        created_at=datetime.now(UTC).replace(microsecond=0), bars_file=BARS_FILE,
        bars_sha256=bars_sha256)


def manifest_json(manifest: DatasetManifest) -> str:
    return json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def read_manifest(folder: Path) -> DatasetManifest:
    """The manifest of the snapshot in ``folder``; raises naming the file when invalid."""
    path = folder / MANIFEST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TorghutError("not a snapshot (no manifest)", file=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TorghutError(f"unreadable manifest: {exc}", file=path) from None
    try:
        manifest = DatasetManifest.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, file=path) from None
    if manifest.dataset_id != folder.name:
        raise TorghutError(f"dataset_id {manifest.dataset_id} does not match its folder",
                           file=path, field="dataset_id")
    return manifest


def _snapshot_dirs(ws: Workspace) -> list[Path]:
    if not ws.datasets_dir.is_dir():
        return []
    # Staging folders start with '.', so half-written snapshots are never listed.
    return sorted(p for p in ws.datasets_dir.iterdir()
                  if p.is_dir() and _ID_PATTERN.match(p.name))


def list_snapshots(ws: Workspace) -> list[DatasetManifest]:
    """Every snapshot's manifest, by name then creation time."""
    manifests = [read_manifest(p) for p in _snapshot_dirs(ws)]
    return sorted(manifests, key=lambda m: (m.name, m.created_at, m.dataset_id))


def load_snapshot(ws: Workspace, ref: str) -> Snapshot:
    """Resolve ``ref`` — a full id, a dataset name, or a unique id prefix of ≥ 6 hex chars."""
    folders = {p.name: p for p in _snapshot_dirs(ws)}
    if ref in folders:
        return Snapshot(read_manifest(folders[ref]), folders[ref])
    named = [m for m in list_snapshots(ws) if m.name == ref]
    if len(named) > 1:
        ids = ", ".join(m.dataset_id[:12] for m in named)
        raise NotFoundError(f"name {ref!r} is ambiguous ({ids}); use an id",
                            field="dataset")
    if named:
        return Snapshot(named[0], folders[named[0].dataset_id])
    prefix = ref.lower()
    if len(prefix) >= MIN_PREFIX and re.fullmatch(r"[0-9a-f]+", prefix):
        hits = [i for i in folders if i.startswith(prefix)]
        if len(hits) > 1:
            raise NotFoundError(f"id prefix {ref!r} is ambiguous ({len(hits)} snapshots)",
                                field="dataset")
        if hits:
            return Snapshot(read_manifest(folders[hits[0]]), folders[hits[0]])
    raise NotFoundError(f"no dataset {ref!r} (give a name, an id, or an id prefix of at "
                        f"least {MIN_PREFIX} hex characters)", file=ws.datasets_dir,
                        field="dataset")
