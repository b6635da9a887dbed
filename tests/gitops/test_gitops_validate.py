"""`torghut config validate`: schema, types and cross-references, every error located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import CliRunner
from torghut.gitops.manifests import APP_DIR, CATALOG_PATH
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH
from torghut.gitops.validate import Kind, validate_paths
from torghut.governance.identities import IDENTITIES_PATH
from torghut.workspace import Workspace


def _line(path: Path, needle: str, start: int = 1) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, ln in enumerate(lines, 1) if i >= start and needle in ln)


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, (old, path)
    path.write_text(text.replace(old, new, count))


def _app(ws: Workspace) -> Path:
    return ws.gitops_dir / APP_DIR


def _errors(*paths: Path) -> list[str]:
    return [str(e) for e in validate_paths(list(paths)).errors]


def test_bootstrap_repo_is_valid_and_every_kind_recognised(ws: Workspace,
                                                           torghut: CliRunner) -> None:
    result = validate_paths([_app(ws)])
    assert result.ok, result.errors
    assert {k for _, k in result.files} == set(Kind)
    proc = torghut("config", "validate", str(_app(ws)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK:") and proc.stderr == ""


def test_type_mismatched_catalog_entry_is_exit_2_with_file_line(ws: Workspace,
                                                                 torghut: CliRunner) -> None:
    catalog = ws.gitops_dir / CATALOG_PATH
    _edit(catalog, "priority: 110", "priority: high")
    _edit(ws.gitops_dir / RUNTIME_CONFIG_PATH, "max_open_orders: 200", "max_open_orders: []")
    proc = torghut("config", "validate", APP_DIR, cwd=ws.gitops_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    runtime_line = _line(ws.gitops_dir / RUNTIME_CONFIG_PATH, "max_open_orders")
    assert lines == [
        f"error: {RUNTIME_CONFIG_PATH}:{runtime_line}: firm_limits.max_open_orders: "
        "Input should be a valid integer",
        f"error: {CATALOG_PATH}:{_line(catalog, 'priority: high')}: strategies[1].priority: "
        "Input should be a valid integer, unable to parse string as an integer",
    ]


def test_enabled_strategy_needs_rts8_limits(ws: Workspace) -> None:  # control: RTS-8
    catalog, runtime = ws.gitops_dir / CATALOG_PATH, ws.gitops_dir / RUNTIME_CONFIG_PATH
    tsmom = _line(catalog, "strategy_id: tsmom")
    enabled = _line(catalog, "enabled: false", start=tsmom)
    lines = catalog.read_text().splitlines(keepends=True)
    lines[enabled - 1] = lines[enabled - 1].replace("false", "true")
    catalog.write_text("".join(lines))
    assert _errors(_app(ws)) == []  # enabled, and its limits are declared: valid
    _edit(runtime, "  tsmom:\n", "  tsmom-old:\n")
    assert _errors(_app(ws)) == [
        f"{runtime}:{_line(runtime, 'tsmom-old:')}: limits.tsmom-old: no strategy "
        "'tsmom-old' in strategy-catalog.yaml",
        f"{catalog}:{enabled}: strategies[1].enabled: RTS-8: enabled strategy 'tsmom' has no "
        "limits in runtime-config.yaml (limits.tsmom: instruments, max_order_value, "
        "max_orders_per_day, max_position_notional, venues)",
    ]
    # The catalog alone still finds the runtime config beside it; without one it fails closed.
    assert len(_errors(catalog)) == 2
    runtime.unlink()
    (error,) = _errors(catalog)
    assert error.endswith("RTS-8: enabled strategy 'tsmom' has no declared limits: no "
                          "runtime-config.yaml beside the catalog")


def test_strategy_limits_have_no_defaults(ws: Workspace) -> None:
    runtime = ws.gitops_dir / RUNTIME_CONFIG_PATH
    text = runtime.read_text()
    start = text.index("  tsmom:\n")
    venues = text.index("    venues: [paper]\n", start)
    runtime.write_text(text[:venues] + text[venues + len("    venues: [paper]\n"):])
    assert _errors(runtime) == [
        f"{runtime}:{_line(runtime, '  tsmom:')}: limits.tsmom.venues: Field required"]


def test_restricted_list_is_effective_dated(tmp_path: Path) -> None:
    path = tmp_path / "runtime-config.yaml"
    path.write_text("restricted_list:\n"
                    "- {symbol: ACME, effective_from: 2025-01-02, effective_until: null,"
                    " reason: MNPI}\n"
                    "- symbol: BETA\n  effective_from: 2025-02-01T00:00:00Z\n"
                    "  effective_until: 2025-01-01T00:00:00Z\n  reason: legal\n")
    assert _errors(path) == [f"{path}:3: restricted_list[1]: Value error, effective_until "
                             "must be after effective_from"]


def test_every_error_in_every_kind_is_reported(tmp_path: Path, ws: Workspace) -> None:
    app = tmp_path / "app"
    shutil.copytree(_app(ws), app)
    _edit(app / "identities.yaml", "- name: oscar\n  kind: human",
          "- name: alice\n  kind: human")
    _edit(app / "gate-policy.yaml", "min_folds: ", "min_folds: many #")
    _edit(app / "kustomization.yaml", "- strategy-catalog.yaml", "- missing.yaml")
    (app / "notes.yaml").write_text("hello: world\n")  # not a manifest: skipped in a folder
    errors = _errors(app)
    assert any("identities.yaml" in e and "duplicate identity name 'alice'" in e
               for e in errors)
    assert any(f"gate-policy.yaml:{_line(app / 'gate-policy.yaml', 'min_folds')}: "
               "gate1.min_folds: Input should be a valid integer" in e for e in errors)
    assert any(f"kustomization.yaml:{_line(app / 'kustomization.yaml', 'missing.yaml')}: "
               "resources[0]: 'missing.yaml' not found" in e for e in errors)
    assert len(errors) == 3
    # Named explicitly, an unrecognised file is an error; a missing path too.
    assert _errors(app / "notes.yaml") == [
        f"{app / 'notes.yaml'}: not a Torghut manifest (expected a strategy catalog, runtime "
        "config, gate policy, identities file or kustomization)"]
    assert _errors(app / "nope.yaml") == [f"{app / 'nope.yaml'}: no such file or directory"]


@pytest.mark.parametrize("content,needle", [
    ("identities: [\n", "malformed YAML"),
    ("", "empty file"),
])
def test_malformed_files_are_located(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "identities.yaml"
    path.write_text(content)
    (error,) = _errors(path)
    assert needle in error and str(path) in error


def test_a_folder_without_manifests_fails_closed(tmp_path: Path) -> None:
    assert _errors(tmp_path) == [f"{tmp_path}: no Torghut manifests found"]


def test_identity_keys_are_validated_with_their_line(ws: Workspace) -> None:
    path = ws.gitops_dir / IDENTITIES_PATH
    line = _line(path, "  public_key:")
    text = path.read_text().splitlines(keepends=True)
    text[line - 1] = "  public_key: bm90IGEga2V5\n"
    path.write_text("".join(text))
    (error,) = _errors(path)
    assert error.startswith(f"{path}:{line}: identities[0].public_key: String should have at "
                            "least 44 characters")
