"""The gate policy file: strict validation with file:line errors, canonical checksum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from torghut.contracts.gates import GatePolicy
from torghut.errors import TorghutError
from torghut.gates import (
    canonical_policy,
    default_policy,
    parse_policy,
    policy_checksum,
    read_policy,
    render_policy_yaml,
)
from torghut.yamlio import dump_yaml


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaf_fields(ann, f"{prefix}{name}.")
        elif name != "schema_version":
            out.append((prefix + name, info.description))
    return out


def test_default_policy_round_trips_through_its_documented_yaml(tmp_path: Path) -> None:
    text = render_policy_yaml()
    assert parse_policy(text, file="p.yaml") == default_policy()
    path = tmp_path / "gate-policy.yaml"
    path.write_text(text, encoding="utf-8")
    assert policy_checksum(read_policy(path)) == policy_checksum(default_policy())
    # Every threshold has a documented default, and the rendered file carries that comment.
    leaves = _leaf_fields(GatePolicy)
    assert len(leaves) > 30
    for dotted, description in leaves:
        assert description, dotted
        assert f"# {description}" in text, dotted


def test_reference_defaults_are_the_plan_numbers() -> None:
    p = default_policy()
    assert (p.gate0.max_null_rate, p.gate1.max_pbo, p.gate1.min_dsr) == (0.01, 0.20, 0.95)
    assert (p.gate1.max_cost_bps, p.gate1.max_reality_check_pvalue) == (35.0, 0.05)
    assert p.gate1.min_folds >= 4 and p.gate1.max_negative_fold_ratio == 0.5
    assert (p.gate3.max_slippage_bps, p.gate3.max_shortfall_bps, p.gate3.max_churn) == (
        25.0, 25.0, 0.75)
    assert (p.hard_stops.max_llm_error_ratio, p.hard_stops.max_llm_latency_p95_ms) == (
        0.10, 200.0)
    assert p.gate4.max_drill_age_hours == 72.0


def test_checksum_ignores_key_order_and_formatting_but_not_thresholds() -> None:
    data = default_policy().model_dump(mode="json")
    reordered = {k: data[k] for k in reversed(list(data))}
    reordered["gate1"] = {k: data["gate1"][k] for k in sorted(data["gate1"], reverse=True)}
    as_json = json.dumps(reordered, indent=3)  # JSON is YAML: flow style, other order
    base = policy_checksum(default_policy())
    assert policy_checksum(parse_policy(as_json, file="p.json")) == base
    assert policy_checksum(parse_policy(dump_yaml(data), file="p.yaml")) == base
    # 35 and 35.0 are the same threshold; the canonical form (RFC 8785) agrees.
    text = render_policy_yaml().replace("max_cost_bps: 35.0", "max_cost_bps: 35")
    assert policy_checksum(parse_policy(text, file="p.yaml")) == base
    tighter = render_policy_yaml().replace("max_pbo: 0.2", "max_pbo: 0.15")
    changed = parse_policy(tighter, file="p.yaml")
    assert changed.gate1.max_pbo == 0.15 and policy_checksum(changed) != base
    assert json.loads(canonical_policy(changed))["gate1"]["max_pbo"] == 0.15


@pytest.mark.parametrize(("old", "new", "line_of", "field", "message"), [
    ("  max_pbo: 0.2", "  max_pbo: 0.2\n  max_pbo_typo: 0.1", "max_pbo_typo",
     "gate1.max_pbo_typo", "Extra inputs are not permitted"),
    ("  min_folds: 4", "  min_folds: '4'", "min_folds", "gate1.min_folds", "valid integer"),
    ("  max_churn: 0.75", "  max_churn: true", "max_churn", "gate3.max_churn", "valid number"),
    ("  min_approvals: 1", "  min_approvals: 1.5", "min_approvals", "gate4.min_approvals",
     "valid integer"),
    ("  max_pbo: 0.2", "  max_pbo: 1.5", "max_pbo", "gate1.max_pbo", "less than or equal"),
    ("  required_stress:\n  - pessimistic_costs", "  required_stress: pessimistic_costs",
     "required_stress", "gate1.required_stress", "valid tuple"),
])
def test_bad_policy_names_file_line_and_field(old: str, new: str, line_of: str, field: str,
                                               message: str) -> None:
    text = render_policy_yaml()
    assert old in text
    bad = text.replace(old, new)
    line = next(i for i, row in enumerate(bad.splitlines(), 1)
                if row.strip().startswith(f"{line_of}:"))
    with pytest.raises(TorghutError) as info:
        parse_policy(bad, file="apps/torghut/gate-policy.yaml")
    err = info.value
    assert err.file == f"apps/torghut/gate-policy.yaml:{line}"
    assert err.field == field and message in err.message


def test_unreadable_policies_are_torghut_errors(tmp_path: Path) -> None:
    with pytest.raises(TorghutError, match="file not found"):
        read_policy(tmp_path / "absent.yaml")
    with pytest.raises(TorghutError, match=r"p\.yaml:3: malformed YAML"):
        parse_policy("gate1:\n  max_pbo: [0.2\n", file="p.yaml")
    with pytest.raises(TorghutError, match="must be a YAML mapping"):
        parse_policy("- 1\n- 2\n", file="p.yaml")
    with pytest.raises(TorghutError, match="must be a YAML mapping"):
        parse_policy("", file="p.yaml")
    with pytest.raises(TorghutError, match="policy_version"):
        parse_policy("policy_version: one\n", file="p.yaml")


def test_a_partial_policy_takes_the_documented_defaults_into_its_checksum() -> None:
    partial = parse_policy("gate1:\n  max_pbo: 0.1\n", file="p.yaml")
    full = render_policy_yaml().replace("max_pbo: 0.2", "max_pbo: 0.1")
    assert policy_checksum(partial) == policy_checksum(parse_policy(full, file="p.yaml"))
    assert json.loads(canonical_policy(partial))["gate3"]["max_churn"] == 0.75
