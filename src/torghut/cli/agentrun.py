"""``torghut agentrun specs | install | validate | exec | render | resume | status``."""

from __future__ import annotations

from pathlib import Path

import typer

from torghut.agentrun import execute_run, load_catalog, load_run, validate_run
from torghut.agentrun.execute import RunViolations
from torghut.agentrun.install import install_specs
from torghut.agentrun.pause import lane_states, resume
from torghut.agentrun.render import DEFAULT_IMAGE, render_manifests, render_text, write_manifests
from torghut.agentrun.validate import Violation, parse_run
from torghut.cli.common import JSON_OPTION, console, emit_json, err_console, workspace
from torghut.ledger import open_ledger

app = typer.Typer(help="ImplementationSpecs and AgentRuns: governed, bounded lane runs.",
                  no_args_is_help=True)

RUN_ARG = typer.Argument(..., metavar="RUN.yaml", help="An AgentRun manifest.", dir_okay=False)
AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The identity the run acts as (signs with keys/IDENTITY.key).")


def _fail_with(file: Path, violations: list[Violation]) -> None:
    """Exit 2: the count first, then one line per violation (stderr)."""
    err_console.print(f"error: {file}: {len(violations)} violation(s)", markup=False,
                      soft_wrap=True)
    for v in violations:
        err_console.print(f"  {v.line(file)}", markup=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command("specs")
def specs(json_out: bool = JSON_OPTION) -> None:
    """List the shipped ImplementationSpecs (lane, right, bounds, required keys)."""
    catalog = load_catalog()
    if json_out:
        emit_json([s.model_dump(mode="json", by_alias=True) for s in catalog.values()])
        return
    for spec in catalog.values():
        body = spec.spec
        keys = ", ".join(f"{k.name}:{k.type}" for k in body.contract.required_keys)
        console.print(f"{spec.name}  lane={body.lane}  right={body.identity_action}  "
                      f"vcs={body.vcs_mode}  keys: {keys}", markup=False, soft_wrap=True)


@app.command("install")
def install(ctx: typer.Context, as_identity: str = AS_OPTION,
            head: str | None = typer.Option(None, "--head", help="New codex/ branch."),
            json_out: bool = JSON_OPTION) -> None:
    """Open a GitOps PR installing the shipped specs under apps/agents/implementation-specs."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        done = install_specs(ws, ledger, as_identity=as_identity, head=head)
    if json_out:
        emit_json({"pr_id": done.pr_id, "branch": done.branch, "head_sha": done.head_sha,
                   "files": list(done.files)})
    elif done.pr_id is None:
        console.print("main already holds every shipped spec; nothing to install")
    else:
        console.print(f"PR #{done.pr_id} on {done.branch}: {len(done.files)} spec(s)",
                      markup=False)


@app.command("validate")
def validate(ctx: typer.Context, run_file: Path = RUN_ARG, json_out: bool = JSON_OPTION) -> None:
    """Check a run against its spec, the GitOps repo and the ledger; exit 2 lists every
    violation."""
    run, problems = parse_run(run_file)
    if run is not None:
        ws = workspace(ctx)
        with open_ledger(ws) as ledger:
            problems = validate_run(ws, ledger, run)
    if json_out:
        emit_json({"file": str(run_file), "valid": not problems,
                   "violations": [{"field": v.field, "message": v.message} for v in problems]})
        if problems:
            raise typer.Exit(2)
        return
    if problems:
        _fail_with(run_file, problems)
    console.print(f"{run_file}: valid", markup=False)


@app.command("exec")
def exec_cmd(ctx: typer.Context, run_file: Path = RUN_ARG, as_identity: str = AS_OPTION,
             bundle_root: Path | None = typer.Option(
                 None, "--bundle-root", file_okay=False,
                 help="Where bundles go (default: <workspace>/agentruns)."),
             json_out: bool = JSON_OPTION) -> None:
    """Run the lane the run's spec maps to, bounded, as IDENTITY; write the bundle."""
    run = load_run(run_file)
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        try:
            result = execute_run(ws, ledger, run, as_identity=as_identity,
                                 bundle_root=bundle_root, file=run_file)
        except RunViolations as exc:
            _fail_with(run_file, exc.violations)
    if json_out:
        emit_json(result.to_json())
    else:
        console.print(f"{result.run} ({result.lane}): {result.status} after {result.attempts} "
                      f"attempt(s); bundle {result.bundle_dir}", markup=False, soft_wrap=True)
    if result.status != "succeeded":
        paused = " (lane paused)" if result.paused else ""
        err_console.print(f"error: {run_file}: {result.failure_class} failure: "
                          f"{result.failure}{paused}", markup=False, soft_wrap=True)
        raise typer.Exit(2 if result.failure_class == "contract" else 1)


@app.command("render")
def render(run_file: Path = RUN_ARG, as_identity: str = AS_OPTION,
           out: Path | None = typer.Option(None, "--out", file_okay=False,
                                           help="Folder for the manifests (else stdout)."),
           image: str = typer.Option(DEFAULT_IMAGE, "--image", help="Container image."),
           namespace: str | None = typer.Option(None, "--namespace",
                                                help="Namespace (default: agents).")) -> None:
    """Write the Kubernetes manifests that run it in a cluster (spec, run, ConfigMap, Job)."""
    docs = render_manifests(load_run(run_file), as_identity=as_identity, image=image,
                            namespace=namespace)
    if out is None:
        typer.echo(render_text(docs), nl=False)
        return
    for path in write_manifests(docs, out):
        typer.echo(str(path))


@app.command("resume")
def resume_cmd(ctx: typer.Context, lane: str = typer.Argument(..., metavar="LANE"),
               reason: str = typer.Option(..., "--reason", help="Why it is safe to resume."),
               as_identity: str = AS_OPTION) -> None:
    """Resume a lane paused by repeated failures (an operations identity)."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        seq = resume(ws, ledger, lane, reason=reason, as_identity=as_identity)
    console.print(f"lane {lane} resumed (audit seq {seq})", markup=False)


@app.command("status")
def status(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Each lane: active or paused, and failures per class since the last reset."""
    ws = workspace(ctx)
    lanes = sorted({s.spec.lane for s in load_catalog().values()})
    with open_ledger(ws) as ledger:
        states = lane_states(ledger, lanes)
    if json_out:
        emit_json(states)
        return
    for lane, st in states.items():
        extra = f" — {st['paused_reason']}" if st["paused_reason"] else ""
        console.print(f"{lane}: {st['state']} {st['failures'] or ''}{extra}", markup=False)
