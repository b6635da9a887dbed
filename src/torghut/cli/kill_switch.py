"""``torghut ops kill-switch engage | release | status`` (FIA-1, FIA-3, RTS-12).

Exit codes: 0 done, 1 refused (a governance refusal, audited), 2 bad input.
"""

from __future__ import annotations

import typer

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.errors import TorghutError
from torghut.ledger import open_ledger
from torghut.ops import kill_switch
from torghut.risk.kill_switch import KillTransition

app = typer.Typer(help="The kill switch: engage, release (operations identity, reason, "
                  "incident id), status.", no_args_is_help=True)

AS_OPTION = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                         help="The operations identity acting (signs with keys/IDENTITY.key).")
SCOPE_HELP = "firm, strategy:STRATEGY_ID or symbol:SYMBOL."


def _required(value: str | None, option: str) -> str:
    if value is None or not value.strip():
        raise TorghutError(f"{option} is required")
    return value


def _transition_json(done: KillTransition | None, scope: str) -> dict[str, object]:
    if done is None:
        return {"scope": scope, "changed": False}
    return {"changed": True, **done.model_dump(mode="json")}


@app.command("engage")
def engage(ctx: typer.Context,
           scope: str = typer.Option("firm", "--scope", help=SCOPE_HELP),
           state: str = typer.Option("halted", "--state", help="halted (only cancels pass) "
                                     "or reducing (only exposure-reducing orders pass)."),
           reason: str | None = typer.Option(None, "--reason", help="Why (required)."),
           incident: str | None = typer.Option(None, "--incident", metavar="ID",
                                               help="Incident id, if one is open."),
           as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Engage the kill switch for a scope: new orders stop, open orders are cancelled."""
    why = _required(reason, "--reason")
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        done = kill_switch.engage(ws, ledger, scope=scope, state=state.lower(), reason=why,
                                  as_identity=as_identity, incident_id=incident)
    if json_out:
        emit_json(_transition_json(done, scope))
    elif done is None:
        console.print(f"{scope} is already {state.lower()}; nothing changed", markup=False)
    else:
        console.print(f"kill switch engaged: {done.scope} {done.previous.value} → "
                      f"{done.state.value} by {done.actor}", markup=False)


@app.command("release")
def release(ctx: typer.Context,
            scope: str | None = typer.Option(None, "--scope", help=SCOPE_HELP + " Required."),
            reason: str | None = typer.Option(None, "--reason", help="Why (required)."),
            incident: str | None = typer.Option(None, "--incident", metavar="ID",
                                                help="Incident id (required)."),
            as_identity: str = AS_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Release a scope back to active (a human operations identity, reason, incident id)."""
    target = _required(scope, "--scope")
    why, incident_id = _required(reason, "--reason"), _required(incident, "--incident")
    ws = workspace(ctx)
    with open_ledger(ws) as ledger:
        done = kill_switch.release(ws, ledger, scope=target, reason=why,
                                   incident_id=incident_id, as_identity=as_identity)
    if json_out:
        emit_json(_transition_json(done, target))
    else:
        console.print(f"kill switch released: {done.scope} {done.previous.value} → active "
                      f"by {done.actor} (incident {done.incident_id})", markup=False)


@app.command("status")
def status(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Every scope's latched state (firm always listed)."""
    ws = workspace(ctx)
    with open_ledger(ws) as ledger, ledger.read() as session:
        rows = kill_switch.status(session)
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        line = f"{r['scope']:<24} {r['state']:<9}"
        if r["event_id"] is not None:
            line += (f" since {r['since']} by {r['actor']} ({r['trigger']}): {r['reason']}"
                     + (f" [incident {r['incident_id']}]" if r["incident_id"] else ""))
        console.print(line, markup=False, soft_wrap=True)
