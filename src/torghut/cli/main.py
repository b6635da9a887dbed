"""Entry point: ``torghut [--workspace DIR] COMMAND ...``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from torghut import __version__
from torghut.cli import advisory as advisory_cli
from torghut.cli import agentrun as agentrun_cli
from torghut.cli import audit as audit_cli
from torghut.cli import config as config_cli
from torghut.cli import data as data_cli
from torghut.cli import gates as gates_cli
from torghut.cli import identity as identity_cli
from torghut.cli import incident as incident_cli
from torghut.cli import kill_switch as kill_switch_cli
from torghut.cli import ledger as ledger_cli
from torghut.cli import ops as ops_cli
from torghut.cli import paper as paper_cli
from torghut.cli import promote as promote_cli
from torghut.cli import research as research_cli
from torghut.cli import schemas as schemas_cli
from torghut.cli import strategy as strategy_cli
from torghut.cli.backtest import backtest
from torghut.cli.common import JSON_OPTION, State, emit_json, err_console
from torghut.cli.demo import demo
from torghut.cli.serve import serve
from torghut.errors import TorghutError
from torghut.workspace import init_workspace

app = typer.Typer(
    name="torghut",
    help="Governed autonomous quant development: evidence → gates → approval → GitOps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_cli.app, name="data")
app.add_typer(strategy_cli.app, name="strategy")
app.add_typer(schemas_cli.app, name="schemas")
app.add_typer(research_cli.app, name="research")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(config_cli.app, name="config")
app.add_typer(identity_cli.app, name="identity")
app.add_typer(gates_cli.app, name="gates")
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(promote_cli.validate_app, name="validate")
app.add_typer(promote_cli.app, name="promote")
ops_cli.app.add_typer(kill_switch_cli.app, name="kill-switch")
app.add_typer(ops_cli.app, name="ops")
app.add_typer(incident_cli.app, name="incident")
app.add_typer(paper_cli.app, name="paper")
app.add_typer(agentrun_cli.app, name="agentrun")
app.add_typer(advisory_cli.app, name="advisory")
app.command("serve")(serve)
app.command("signals")(strategy_cli.signals)
app.command("backtest")(backtest)
app.command("demo")(demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"torghut {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="Workspace directory (else $TORGHUT_WORKSPACE, "
        "else the current directory or a parent).", file_okay=False),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    state = State()
    state.workspace_path = workspace
    ctx.obj = state


@app.command("init")
def init(
    directory: Path = typer.Argument(..., help="Where to create the workspace."),
    force: bool = typer.Option(False, "--force",
                               help="Add missing parts to an existing workspace; "
                               "never deletes or overwrites data."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Create a workspace: settings, ledger path, artifacts, datasets, keys, GitOps repo."""
    ws = init_workspace(directory, force=force)
    info = {"workspace": str(ws.root), "gitops": str(ws.gitops_dir),
            "datasets": str(ws.datasets_dir), "ledger": str(ws.ledger_path)}
    if json_out:
        emit_json(info)
        return
    typer.echo(f"Initialised workspace at {ws.root}")
    typer.echo(f"  GitOps repo: {ws.gitops_dir} (branch main)")
    typer.echo(f"  Next: torghut -w {ws.root} data sample")


def run() -> None:
    """Console-script entry: user errors become one line on stderr and exit code 2."""
    try:
        app()
    except TorghutError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    run()
