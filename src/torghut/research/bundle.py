"""Write a research run's output directory (bundle.json, report) atomically.

The directory is assembled in a staging sibling and renamed into place, so it is either
complete or absent. An existing directory is refused unless ``force``; then the new one is
staged first and swapped in, so a failed run never destroys the previous result.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from torghut.contracts.candidates import CandidateSpec
from torghut.contracts.research import MetricsBundle
from torghut.errors import TorghutError
from torghut.fsutil import staging_dir
from torghut.research.run import ResearchRun
from torghut.workspace import Workspace

BUNDLE_FILE = "bundle.json"


def bundle_json(bundle: MetricsBundle) -> str:
    """Deterministic, readable JSON (sorted keys, fixed indent, no NaN)."""
    return json.dumps(bundle.model_dump(mode="json"), indent=2, sort_keys=True,
                      ensure_ascii=False, allow_nan=False) + "\n"


def default_output(ws: Workspace, spec: CandidateSpec) -> Path:
    """``<workspace>/artifacts/research/<candidate hash[:12]>``."""
    return ws.artifacts_dir / "research" / spec.content_hash()[:12]


def check_output(out: Path, *, force: bool) -> None:
    """Refuse an existing output directory unless ``force`` (before any work is done)."""
    if out.exists() and not force:
        raise TorghutError("already exists; pass --force to replace it", file=out,
                           field="--out")
    if out.exists() and not out.is_dir():
        raise TorghutError("exists and is not a directory", file=out, field="--out")


def write_run(run: ResearchRun, out: Path, *, force: bool = False, report: bool = True) -> Path:
    """Write ``bundle.json`` (and the report) to ``out``; returns the bundle's path."""
    check_output(out, force=force)
    staged = out.with_name(f".{out.name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    try:
        with staging_dir(staged) as tmp:
            (tmp / BUNDLE_FILE).write_text(bundle_json(run.bundle), encoding="utf-8")
            if report:
                from torghut.research.report import write_report  # matplotlib when asked

                write_report(run, tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(staged, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staged, out)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise TorghutError(f"cannot write: {exc.strerror or exc}", file=out,
                           field="--out") from None
    return out / BUNDLE_FILE
