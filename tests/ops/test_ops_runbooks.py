"""Runbooks: every gate and incident class has one, each has all five parts, and every
command in it parses with Torghut's own CLI parser (a renamed command or option, a missing
required option or a bad choice breaks this test, not an operator at 3 a.m.)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import ValidationError

from tests.support import assert_one_line_error, run_torghut
from torghut.cli.main import app
from torghut.ops.runbook import Runbook, RunbookCommand, load_all, load_runbook, to_markdown

PARTS = ("trigger_conditions", "execution_commands", "expected_artifacts",
         "rollback_commands", "escalation_path")
REQUIRED = {"gate0", "gate1", "gate2", "gate3", "gate4", "incident-a", "incident-b",
            "incident-c", "incident-d"}


def parse(argv: list[str]) -> list[str]:
    """Walk ``torghut ARGV`` through the real Click tree the way invoking it would, without
    running anything; returns the command path. Raises on any usage error."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("torghut", list(argv))
    path: list[str] = []
    while hasattr(command, "commands"):
        # Typer's vendored Click keeps the subcommand name in ``_protected_args``.
        rest = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        if not rest:
            assert command.invoke_without_command, f"{' '.join(path)} needs a subcommand"
            break
        name, command, rest = command.resolve_command(ctx, rest)
        assert command is not None, f"no command {name!r} under {' '.join(path) or 'torghut'}"
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    if not hasattr(command, "commands"):
        assert not ctx.args, f"unexpected arguments {ctx.args}"
    return path


def test_every_gate_and_incident_class_has_a_runbook_with_five_parts() -> None:
    runbooks = {r.name: r for r in load_all()}
    assert set(runbooks) >= REQUIRED
    for runbook in runbooks.values():
        for part in PARTS:
            items = getattr(runbook, part)
            assert items and all(items), (runbook.name, part)
        page = to_markdown(runbook)
        for heading in ("## Trigger conditions", "## Execution commands",
                        "## Expected artifacts", "## Rollback commands",
                        "## Escalation path"):
            assert heading in page, (runbook.name, heading)
        assert all(c.run in page for c in runbook.commands())


def concrete(argv: list[str]) -> list[str]:
    """Each ``<placeholder>`` value as ``1``: a valid int, float, string and (in the test's
    working directory) an existing file, so only the command's shape is under test."""
    return ["1" if "<" in arg else arg for arg in argv]


@pytest.mark.parametrize("name", sorted(r.name for r in load_all()))
def test_every_command_parses_with_the_cli(name: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "1").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for command in load_runbook(name).commands():
        try:
            path = parse(concrete(command.argv()))
        except (typer.Exit, Exception) as exc:  # click's UsageError and friends
            pytest.fail(f"{name}: `{command.run}` does not parse: {exc}")
        assert path, command.run


def test_the_parser_catches_what_it_should() -> None:
    assert parse(["ops", "kill-switch", "status", "--json"]) == ["ops", "kill-switch",
                                                                  "status"]
    for broken in (["ops", "kill-swich", "status"], ["incident", "open", "--class", "B"],
                   ["ops", "health", "--no-such-option"], ["gates", "evaluate", "--candidate",
                                                            "x", "--target", "moon", "--as",
                                                            "v"]):
        with pytest.raises(Exception):  # noqa: B017 - any usage error will do
            parse(broken)


def test_a_missing_part_or_a_foreign_command_is_rejected() -> None:
    good = load_runbook("gate0").model_dump()
    with pytest.raises(ValidationError):
        Runbook.model_validate({**good, "rollback_commands": []})
    with pytest.raises(ValidationError):
        Runbook.model_validate({k: v for k, v in good.items() if k != "escalation_path"})
    with pytest.raises(ValidationError):
        RunbookCommand(run="kubectl delete pod torghut", why="not ours")


def test_cli_lists_and_prints() -> None:
    listed = run_torghut("ops", "runbook", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in json.loads(listed.stdout)} >= REQUIRED
    page = run_torghut("ops", "runbook", "gate1")
    assert page.returncode == 0 and page.stdout == to_markdown(load_runbook("gate1"))
    assert_one_line_error(run_torghut("ops", "runbook", "gate9"), "no runbook 'gate9'")
