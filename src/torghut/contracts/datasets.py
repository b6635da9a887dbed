"""Dataset snapshot manifest and its data-quality report (the evidence Gate 0 reads)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from torghut.contracts.base import SHA256_PATTERN, Contract
from torghut.contracts.features import Timeframe

# Column order of every snapshot's bars.parquet. bid/ask/spread are nullable.
BAR_COLUMNS: tuple[str, ...] = (
    "ts", "symbol", "open", "high", "low", "close", "volume", "bid", "ask", "spread",
)


class SourceKind(StrEnum):
    IMPORT = "import"
    SAMPLE = "sample"
    SYNTH = "synth"


class DatasetSource(Contract):
    """Provenance: where the bars came from and under which licence."""

    schema_version: Literal["1.0"] = "1.0"
    kind: SourceKind
    description: str
    file: str | None = Field(default=None, description="Imported file name, if any")
    file_sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    provider: str | None = Field(default=None, description="e.g. the package shipping the data")
    licence: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="Generator or importer parameters")


class DatasetManifest(Contract):
    """Describes one immutable, content-addressed snapshot under ``datasets/<id>/``.

    ``dataset_id`` is the sha256 of the canonical bar content plus the timeframe, so the
    same bars imported twice get the same id.
    """

    schema_version: Literal["1.0"] = "1.0"
    dataset_id: str = Field(pattern=SHA256_PATTERN)
    name: str = Field(min_length=1)
    timeframe: Timeframe
    calendar: str = Field(description="Trading calendar code, e.g. XNYS, 24x5, 24x7")
    symbols: tuple[str, ...] = Field(min_length=1)
    start: datetime
    end: datetime
    rows: int = Field(ge=1)
    columns: tuple[str, ...]
    has_quotes: bool = Field(description="True when bid/ask or spread came from the data")
    bar_stamp: Literal["interval_start"] = Field(
        default="interval_start",
        description="Bars are stamped at the start of their interval (daily: session date "
                    "00:00 UTC); a bar's close is known only after its interval ends")
    source: DatasetSource
    created_at: datetime
    bars_file: str = "bars.parquet"
    bars_sha256: str = Field(pattern=SHA256_PATTERN, description="sha256 of bars.parquet bytes")


class FindingSeverity(StrEnum):
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


class QualityFinding(Contract):
    """One data-quality observation with a stable code, e.g. ``NULL_RATE``."""

    schema_version: Literal["1.0"] = "1.0"
    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    severity: FindingSeverity
    message: str
    symbol: str | None = None
    field: str | None = None
    observed: float | str | None = None
    threshold: float | str | None = None


class QualityThresholds(Contract):
    """Gate 0 reference defaults (plan-details: null rate 0.01, staleness p95 120 s)."""

    schema_version: Literal["1.0"] = "1.0"
    max_null_rate: float = Field(default=0.01, ge=0, le=1)
    max_duplicate_ratio: float = Field(default=0.0, ge=0, le=1)
    max_staleness_seconds: float | None = Field(
        default=None, ge=0,
        description="Last bar vs as-of; None = one bar interval plus the calendar's closure")
    max_gap_ratio: float = Field(default=0.01, ge=0, le=1,
                                 description="Missing calendar sessions over expected")
    min_symbol_coverage: float = Field(default=1.0, ge=0, le=1)


class QualityReport(Contract):
    """Gate 0 evidence for one snapshot: computed by ``torghut.data.quality``."""

    schema_version: Literal["1.0"] = "1.0"
    dataset_id: str = Field(pattern=SHA256_PATTERN)
    as_of: datetime
    universe: tuple[str, ...]
    thresholds: QualityThresholds
    passed: bool
    metrics: dict[str, float]
    null_rate: dict[str, float] = Field(description="Per column, over all rows")
    findings: tuple[QualityFinding, ...]
    code_version: str
