"""The control catalogue shipped with Torghut equals ../shared/CONTROLS.md, and every control
is tagged ``control: <ID>`` in code or tests — except the ones listed here as not yet
implemented (reported, never faked with a tag)."""

from __future__ import annotations

from pathlib import Path

from torghut.ops.controls import catalogue, controls_md_ids, mapping, tagged_ids

REPO = Path(__file__).resolve().parents[2]
CONTROLS_MD = REPO.parent / "shared" / "CONTROLS.md"
# Controls with no `control:` tag anywhere in src/ or tests/ when this was written. A new tag
# may shrink this set at any time; a control that loses its tag fails the test.
KNOWN_UNTAGGED: frozenset[str] = frozenset()


def test_catalogue_ids_equal_controls_md() -> None:
    assert [c.id for c in catalogue()] == controls_md_ids(CONTROLS_MD.read_text())


def test_controls_md_parser_reads_table_ids_only() -> None:
    text = "| id | source |\n|---|---|\n| SEC-1 | x |\n| plan | y |\ntext | no |\n"
    assert controls_md_ids(text) == ["SEC-1", "plan"]


def test_every_control_is_tagged_or_known_untagged() -> None:
    untagged = {c.id for c in catalogue()} - tagged_ids([REPO / "src", REPO / "tests"])
    assert untagged <= KNOWN_UNTAGGED, sorted(untagged - KNOWN_UNTAGGED)


def test_mapping_counts_only_records_a_control_names() -> None:
    counts = {"ledger/risk_decisions.json": 5, "ledger/approvals.json": 1,
              "gitops/pr-3.diff": 1, "ledger/kill_switch_events.json": 0}
    out = mapping(counts, {"SEC-2": 2})
    assert out["SEC-2"]["evidence"] == [{"path": "ledger/risk_decisions.json", "records": 2}]
    assert out["SEC-1"]["status"] == "not_evidenced_in_pack"  # risk rows, none tagged SEC-1
    assert {e["path"] for e in out["SEC-9"]["evidence"]} == {"gitops/pr-3.diff"}
    assert out["FIA-1"]["status"] == "not_evidenced_in_pack"  # an empty file evidences nothing
    assert {e["path"] for e in out["RTS-5"]["evidence"]} == {"ledger/approvals.json"}
