"""The catalog ConfigMap round-trips, and errors point at the right file line."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut.errors import TorghutError
from torghut.gitops.manifests import default_catalog, load_catalog, render_catalog_configmap


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_configmap_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(render_catalog_configmap(default_catalog()))
    assert load_catalog(path) == default_catalog()


def test_error_in_configmap_names_the_file_line(tmp_path: Path) -> None:
    text = render_catalog_configmap(default_catalog())
    bad = text.replace("      priority: 110", "      priority: high", 1)
    path = tmp_path / "catalog.yaml"
    path.write_text(bad)
    with pytest.raises(TorghutError) as info:
        load_catalog(path)
    err = info.value
    assert err.file == f"{path}:{_line_of(bad, 'priority: high')}"
    assert err.field == "strategies[1].priority"


def test_error_in_bare_catalog_names_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("strategies:\n  - strategy_id: a\n    strategy_type: tsmom\n"
                    "    version: 1.0.0\n    mode: sideways\n")
    with pytest.raises(TorghutError) as info:
        load_catalog(path)
    assert info.value.file == f"{path}:5"
    assert info.value.field == "strategies[0].mode"


@pytest.mark.parametrize("content,needle", [
    ("strategies: [\n", "malformed YAML"),
    ("", "empty file"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_malformed_catalog_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(content)
    with pytest.raises(TorghutError, match=needle):
        load_catalog(path)


def test_syntax_error_inside_configmap_names_the_file_line(tmp_path: Path) -> None:
    text = render_catalog_configmap(default_catalog())
    bad = text.replace("      priority: 110", "      priority: [110", 1)
    path = tmp_path / "catalog.yaml"
    path.write_text(bad)
    with pytest.raises(TorghutError, match="malformed YAML") as info:
        load_catalog(path)
    reported = int(str(info.value.file).rsplit(":", 1)[1])
    # The parser notices the unclosed flow sequence on the line after it opens.
    assert reported in (_line_of(bad, "priority: [110"), _line_of(bad, "priority: [110") + 1)
