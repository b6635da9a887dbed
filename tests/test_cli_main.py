"""The root command loads each subcommand only when it is used, and every one loads."""

from __future__ import annotations

import subprocess
import sys

from torghut.cli.main import SUBCOMMANDS, load_subcommand


def test_every_subcommand_loads_under_its_name() -> None:
    for name in SUBCOMMANDS:
        assert load_subcommand(name).name == name


def test_one_sub_app_stays_a_group_and_nesting_survives() -> None:
    assert "export" in load_subcommand("schemas").commands  # `torghut schemas export`
    assert "kill-switch" in load_subcommand("ops").commands


def test_starting_the_cli_imports_no_lane() -> None:
    probe = ("import sys, torghut.cli.main; "
             "print(','.join(m for m in ('numba', 'pandas', 'fastapi', 'torghut.lanes') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
