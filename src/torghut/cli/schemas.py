"""``torghut schemas export``: JSON Schemas of every contract under ``schemas/``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from torghut.contracts import SCHEMA_MODELS
from torghut.fsutil import atomic_write_text

app = typer.Typer(help="JSON Schemas of the contracts.", no_args_is_help=True)


def render_schemas() -> dict[str, str]:
    """File name → JSON Schema text, for every exported contract."""
    out: dict[str, str] = {}
    for model in SCHEMA_MODELS:
        schema = model.model_json_schema(mode="validation")
        out[f"{model.__name__}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


@app.command("export")
def export(out_dir: Path = typer.Option(Path("schemas"), "--out", help="Target directory.")
           ) -> None:
    """Write one ``<Model>.schema.json`` per contract."""
    for name, text in render_schemas().items():
        atomic_write_text(out_dir / name, text)
        typer.echo(str(out_dir / name))
