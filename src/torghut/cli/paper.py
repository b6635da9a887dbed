"""``torghut paper run``: a paper or shadow session over a replay window, with Gate 2/3
evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.errors import TorghutError
from torghut.ledger import open_ledger
from torghut.runtime.session import SessionRequest, run_session

app = typer.Typer(help="Paper and shadow sessions of the runtime (Gate 2 and 3 evidence).",
                  no_args_is_help=True)


def parse_window(text: str | None) -> tuple[datetime | None, datetime | None]:
    """``START..END`` (ISO dates or datetimes, either side may be empty; END exclusive)."""
    if text is None:
        return None, None
    start, sep, end = text.partition("..")
    if not sep:
        raise TorghutError("expected START..END, e.g. 2024-01-02..2024-03-01", field="--window")
    try:
        return (_when(start), _when(end))
    except ValueError as exc:
        raise TorghutError(f"not an ISO date or datetime: {exc}", field="--window") from None


def _when(text: str) -> datetime | None:
    if not text.strip():
        return None
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@app.command("run")
def run(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", help="Snapshot id, unique prefix or name "
                                "to replay.", show_default=False),
    window: str | None = typer.Option(None, "--window", help="START..END to replay (UTC when "
                                      "no offset; END exclusive). Default: all of it."),
    symbols: str | None = typer.Option(None, "--symbols", help="Comma-separated subset."),
    speed: float | None = typer.Option(None, "--speed", help="N × real time (default: as "
                                       "fast as possible)."),
    mode: str = typer.Option("paper", "--mode", help="paper (simulated broker) or shadow "
                             "(hypothetical fills, nothing sent)."),
    champion: str | None = typer.Option(None, "--champion", help="strategy_id whose results "
                                        "are the baseline for the others (Gate 2)."),
    execution_model: str = typer.Option("exec-v1", "--execution-model"),
    cost_model: str = typer.Option("costs-v1", "--cost-model"),
    actor: str = typer.Option(..., "--as", metavar="IDENTITY", show_default=False,
                              help="A validation or operations identity (signs the run)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Replay the window through the runtime; write orders, fills, TCA and evidence."""
    ws = workspace(ctx)
    start, end = parse_window(window)
    request = SessionRequest(
        dataset=dataset, as_identity=actor, mode=mode, start=start, end=end,
        symbols=[s.strip() for s in symbols.split(",") if s.strip()] if symbols else None,
        speed=speed, champion=champion, execution_model=execution_model,
        cost_model=cost_model)
    with open_ledger(ws) as ledger:
        result = run_session(ws, ledger, request)
    if json_out:
        emit_json(result.summary)
        return
    s = result.summary
    console.print(f"session [bold]{result.session_id}[/] ({s['mode']}): {s['steps']} steps, "
                  f"{s['events']} bar events, {s['submitted']} orders, {s['fills']} fills")
    table = Table("strategy", "net PnL", "orders", "fills", "slippage bps", "pnl div",
                  "intent agr")
    for sid, row in s["strategies"].items():
        slip = row["slippage_bps"]
        table.add_row(f"{sid} ({row['ref']})", f"{row['net_pnl']:,.2f}", str(row["orders"]),
                      str(row["fills"]), "-" if slip is None else f"{slip:.2f}",
                      f"{row['pnl_divergence']:.4f}", f"{row['intent_agreement']:.3f}")
    console.print(table)
    if s["rejects"]:
        console.print("risk rejects: " + ", ".join(f"{k}={v}" for k, v in s["rejects"].items()))
    if s["kill_switch_triggers"]:
        console.print("[red]kill switch engaged:[/] " + ", ".join(s["kill_switch_triggers"]))
    console.print(f"evidence: {result.folder}")
