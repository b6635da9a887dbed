"""The control catalogue (``../shared/CONTROLS.md``, shipped as ``controls.yaml``) and the
compliance mapping an audit pack prints: which pack files demonstrate which control.

The mapping is computed from the pack's own files — never written by hand — so the offline
verifier recomputes it and refuses a pack whose ``controls.json`` claims more than its files
hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from torghut.ops.pack_layout import table_file
from torghut.yamlio import load_yaml_text

RISK_FILE = table_file("risk_decisions")
_MD_ROW = re.compile(r"^\|\s*([A-Za-z0-9][A-Za-z0-9-]*)\s*\|")
_TAG = re.compile(r"control:\s*([A-Za-z0-9-]+)")


@dataclass(frozen=True)
class Control:
    id: str
    source: str
    behaviour: str
    evidence: tuple[str, ...]  # pack path prefixes that demonstrate it
    risk_control: bool  # risk_decisions rows tagged with this id count as evidence


@cache
def catalogue() -> tuple[Control, ...]:
    """Every control, in CONTROLS.md order."""
    text = (files("torghut.ops") / "controls.yaml").read_text(encoding="utf-8")
    doc = load_yaml_text(text, file="torghut/ops/controls.yaml")
    return tuple(Control(id=str(c["id"]), source=str(c["source"]),
                         behaviour=str(c["behaviour"]), evidence=tuple(c.get("evidence") or ()),
                         risk_control=bool(c.get("risk_control", False)))
                 for c in doc["controls"])


def controls_md_ids(text: str) -> list[str]:
    """The ids in the first column of CONTROLS.md's tables (header rows excluded)."""
    ids = [m.group(1) for line in text.splitlines() if (m := _MD_ROW.match(line))]
    return [i for i in ids if i != "id"]


def tagged_ids(roots: Iterable[Path]) -> set[str]:
    """Ids tagged ``control: <ID>`` in any ``.py`` file under ``roots``."""
    known = {c.id for c in catalogue()}
    found: set[str] = set()
    for root in roots:
        for path in root.rglob("*.py"):
            found |= set(_TAG.findall(path.read_text(encoding="utf-8"))) & known
    return found


def record_count(path: Path) -> int:
    """How many records a pack file holds: list length, JSON lines, or 1 for other files."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    if path.suffix == ".json":
        value = json.loads(text)
        return len(value) if isinstance(value, list | dict) else 1
    return 1 if text else 0


def risk_counts(risk_rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in risk_rows:
        if row.get("control"):
            out[str(row["control"])] = out.get(str(row["control"]), 0) + 1
    return out


def mapping(counts: Mapping[str, int], risk: Mapping[str, int]) -> dict[str, Any]:
    """``{control id: {source, behaviour, evidence: [{path, records}], status}}``.

    ``counts`` is each pack file's record count; a control is ``evidenced`` when a file it
    names holds at least one record (for risk controls: a risk decision tagged with its id).
    """
    out: dict[str, Any] = {}
    for c in catalogue():
        evidence = []
        for path in sorted(counts):
            if path == RISK_FILE and c.risk_control:
                n = risk.get(c.id, 0)
            elif any(path.startswith(prefix) for prefix in c.evidence):
                n = counts[path]
            else:
                continue
            if n:
                evidence.append({"path": path, "records": n})
        out[c.id] = {"source": c.source, "behaviour": c.behaviour, "evidence": evidence,
                     "status": "evidenced" if evidence else "not_evidenced_in_pack"}
    return out
