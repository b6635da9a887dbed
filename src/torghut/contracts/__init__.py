"""The shared language: frozen pydantic models imported by every other package."""

from torghut.contracts.base import Contract, canonical_json, sha256_text
from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.datasets import (
    BAR_COLUMNS,
    DatasetManifest,
    DatasetSource,
    FindingSeverity,
    QualityFinding,
    QualityReport,
    QualityThresholds,
    SourceKind,
)
from torghut.contracts.features import (
    FEATURE_FIELDS,
    FEATURE_SCHEMA_VERSION,
    TIMEFRAME_SECONDS,
    FeatureVector,
    SignalQuality,
    Timeframe,
)
from torghut.contracts.research import MetricsBundle
from torghut.contracts.simulation import BacktestMetrics, CostModel, ExecutionModel
from torghut.contracts.splits import (
    CPCV,
    AnyPolicy,
    ExpandingWalkForward,
    RollingWalkForward,
    SplitPolicy,
    WalkForward,
)
from torghut.contracts.strategies import (
    ExecutionProfile,
    Mode,
    RiskProfile,
    StrategyCatalog,
    StrategyDefinition,
    StrategyIntent,
)

# Every model exported as a JSON Schema under schemas/ (checked current by a test).
SCHEMA_MODELS: tuple[type[Contract], ...] = (
    FeatureVector,
    DatasetManifest,
    QualityReport,
    StrategyDefinition,
    StrategyCatalog,
    StrategyIntent,
    CandidateSpec,
    RollingWalkForward,
    ExpandingWalkForward,
    CPCV,
    ExecutionModel,
    CostModel,
    BacktestMetrics,
    MetricsBundle,
)

__all__ = [
    "BAR_COLUMNS",
    "CPCV",
    "FEATURE_FIELDS",
    "FEATURE_SCHEMA_VERSION",
    "SCHEMA_MODELS",
    "TIMEFRAME_SECONDS",
    "AnyPolicy",
    "BacktestMetrics",
    "CandidateSpec",
    "Contract",
    "CostModel",
    "DatasetManifest",
    "DatasetSource",
    "ExecutionModel",
    "ExecutionProfile",
    "ExpandingWalkForward",
    "FeatureVector",
    "FindingSeverity",
    "MetricsBundle",
    "Mode",
    "QualityFinding",
    "QualityReport",
    "QualityThresholds",
    "RiskProfile",
    "RollingWalkForward",
    "SignalQuality",
    "SourceKind",
    "SplitPolicy",
    "StrategyCatalog",
    "StrategyDefinition",
    "StrategyIntent",
    "Timeframe",
    "WalkForward",
    "canonical_json",
    "sha256_text",
]
