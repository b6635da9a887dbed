"""``torghut identity``: list the identities on GitOps ``main``; propose a new one."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from torghut.cli.common import JSON_OPTION, console, emit_json, workspace
from torghut.contracts.governance import IdentityKind, Role
from torghut.errors import TorghutError
from torghut.governance import guard
from torghut.governance.identities import IDENTITIES_PATH, load_identities
from torghut.governance.keys import key_path
from torghut.governance.proposals import propose_identity
from torghut.governance.rights import Action
from torghut.lanes.promotion import register_pull_request
from torghut.ledger import open_ledger

app = typer.Typer(help="Identities (GitOps identities.yaml) and their signing keys.",
                  no_args_is_help=True)


def parse_roles(text: str) -> tuple[Role, ...]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise TorghutError("at least one role is required", field="--roles")
    known = ", ".join(r.value for r in Role)
    roles: list[Role] = []
    for name in names:
        try:
            roles.append(Role(name))
        except ValueError:
            raise TorghutError(f"unknown role {name!r} (known: {known})",
                               field="--roles") from None
    return tuple(roles)


def parse_kind(text: str) -> IdentityKind:
    try:
        return IdentityKind(text)
    except ValueError:
        raise TorghutError(f"unknown kind {text!r} (human or agent)", field="--kind") from None


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Identity name (a lower-case slug).",
                               show_default=False),
    kind: str = typer.Option(..., "--kind", metavar="human|agent", show_default=False),
    roles: str = typer.Option(..., "--roles", metavar="R,...", show_default=False,
                              help="research, validation, promotion, operations, approver"),
    as_identity: str | None = typer.Option(
        None, "--as", metavar="IDENTITY", help="Sign and audit the proposal as IDENTITY "
        "(operations or approver role)."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Make a key pair in keys/ and propose the identities.yaml change on a new branch."""
    ws = workspace(ctx)
    parsed_kind, parsed_roles = parse_kind(kind), parse_roles(roles)
    signed = None
    # Opened up front only to sign; otherwise after the proposal, so bad input leaves the
    # workspace exactly as it was (not even a new ledger file).
    ledger = open_ledger(ws) if as_identity is not None else None
    try:
        if ledger is not None and as_identity is not None:
            request = {"name": name, "kind": parsed_kind.value,
                       "roles": [r.value for r in parsed_roles]}
            signed = guard.check(ws, ledger, as_identity, Action.IDENTITY_PROPOSE,
                                 f"identity:{name}", request)
        change = propose_identity(ws, name, parsed_kind, parsed_roles, proposer=as_identity)
        ledger = ledger or open_ledger(ws)
        with ledger.write() as session:
            pr = register_pull_request(
                session, ledger, kind="identity", branch=change.branch,
                head_sha=change.commit_sha, title=f"Add identity {name}",
                body=f"Adds {parsed_kind.value} identity `{name}` with roles "
                     f"{', '.join(r.value for r in parsed_roles)}.\n",
                proposer=as_identity or "unsigned", repo=ws.gitops_dir)
            if signed is not None:
                guard.record(session, signed, outcome=change._asdict())
            pr_id = pr.id
    finally:
        if ledger is not None:
            ledger.close()
    info: dict[str, Any] = {"name": name, "branch": change.branch, "commit": change.commit_sha,
                            "key": str(key_path(ws.keys_dir, name)), "file": IDENTITIES_PATH,
                            "pull_request": pr_id}
    if json_out:
        emit_json(info)
        return
    typer.echo(f"Proposed identity {name} on branch {change.branch}")
    typer.echo(f"  commit: {change.commit_sha}")
    typer.echo(f"  private key: {info['key']} (mode 0600)")
    typer.echo(f"  pull request {pr_id}: it can act once approved and merged "
               f"(torghut promote approve {pr_id} / promote merge {pr_id})")


@app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """The identities merged on main, with roles, key fingerprint and local key presence."""
    ws = workspace(ctx)
    rows: list[dict[str, Any]] = [
        {"name": i.name, "kind": i.kind.value, "roles": [r.value for r in i.roles],
         "public_key_sha256": i.fingerprint, "local_key": key_path(ws.keys_dir, i.name).is_file()}
        for i in load_identities(ws.gitops_dir).identities]
    if json_out:
        emit_json(rows)
        return
    table = Table("name", "kind", "roles", "key sha256", "key here")
    for row in rows:
        table.add_row(row["name"], row["kind"], ", ".join(row["roles"]),
                      row["public_key_sha256"][:16] + "…", "yes" if row["local_key"] else "no")
    console.print(table)
