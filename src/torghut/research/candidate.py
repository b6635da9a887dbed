"""Load a candidate spec from YAML; every error names ``file:line`` and the field."""

from __future__ import annotations

from pathlib import Path

from torghut.contracts.candidates import CandidateSpec
from torghut.errors import TorghutError
from torghut.yamlio import read_yaml, validate_yaml_model


def load_candidate(path: Path) -> CandidateSpec:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise TorghutError("a candidate spec must be a YAML mapping", file=path)
    return validate_yaml_model(CandidateSpec, data, file=path)
