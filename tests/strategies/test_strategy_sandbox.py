"""The sandbox stops network, process and file-write side effects, and only inside it."""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.strategies.strategy_helpers import vector
from torghut.strategies import testing
from torghut.strategies.runner import PluginError, guarded_call
from torghut.strategies.sandbox import PluginSandboxViolation, active, sandboxed
from torghut.strategies.sdk import StrategyContext


def _blocked(action: Callable[[], object]) -> PluginSandboxViolation:
    with pytest.raises(PluginSandboxViolation) as info, sandboxed("probe@1.0.0"):
        action()
    return info.value


def test_network_is_refused() -> None:
    assert _blocked(socket.socket).event == "socket.__new__"
    assert _blocked(lambda: socket.getaddrinfo("localhost", 80)).event == "socket.getaddrinfo"


def test_processes_are_refused() -> None:
    assert _blocked(lambda: subprocess.run(["true"], check=False)).event == "subprocess.Popen"
    assert _blocked(lambda: os.system("true")).event == "os.system"


@pytest.mark.parametrize("how", ["open-w", "open-a", "open-x", "open-r+", "os.open",
                                 "mkdir", "remove", "rename", "copyfile", "rmtree"])
def test_file_writes_are_refused_before_they_happen(tmp_path: Path, how: str) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("keep")
    target = tmp_path / "new.txt"
    actions: dict[str, Callable[[], object]] = {
        "open-w": lambda: open(target, "w"),  # noqa: SIM115
        "open-a": lambda: open(existing, "a"),  # noqa: SIM115
        "open-x": lambda: open(target, "x"),  # noqa: SIM115
        "open-r+": lambda: open(existing, "r+"),  # noqa: SIM115
        "os.open": lambda: os.open(target, os.O_CREAT | os.O_WRONLY),
        "mkdir": lambda: os.mkdir(tmp_path / "d"),
        "remove": lambda: os.remove(existing),
        "rename": lambda: os.rename(existing, target),
        "copyfile": lambda: shutil.copyfile(existing, target),
        "rmtree": lambda: shutil.rmtree(tmp_path),
    }
    _blocked(actions[how])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.txt"]
    assert existing.read_text() == "keep"


def test_reads_and_fresh_lazy_imports_still_work(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazy_helper_mod.py").write_text("VALUE = 41 + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        with sandboxed("probe@1.0.0") as box:
            text = Path(__file__).read_text()
            module = importlib.import_module("lazy_helper_mod")
        assert "sandbox" in text and module.VALUE == 42
        assert box.violations == ()  # the refused bytecode cache is not the plugin's fault
        assert not (tmp_path / "__pycache__").exists()
    finally:
        sys.modules.pop("lazy_helper_mod", None)


def test_a_swallowed_violation_still_surfaces() -> None:
    def sneaky() -> None:
        with contextlib.suppress(OSError):
            socket.socket()

    assert _blocked(sneaky).event == "socket.__new__"


def test_only_the_sandboxed_context_is_affected(tmp_path: Path) -> None:
    outcome: list[bool] = []

    def other_thread() -> None:  # starts with a fresh context: not sandboxed
        outcome.append(active())
        (tmp_path / "thread.txt").write_text("ok")

    with sandboxed("probe@1.0.0"):
        assert active()
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert outcome == [False] and (tmp_path / "thread.txt").read_text() == "ok"
    assert not active()
    (tmp_path / "after.txt").write_text("outside the block writes are fine")


@pytest.mark.parametrize("cls", testing.MISBEHAVING, ids=lambda c: c.strategy_type)
def test_misbehaving_fixture_plugins_are_stopped(cls: type[testing._Misbehaving]) -> None:
    plugin = cls()
    ctx = StrategyContext(strategy_id="probe", params=plugin.Params())
    with pytest.raises(PluginError) as info:
        guarded_call("probe@0.0.1", "on_event", plugin.on_event, vector(0, price=1.0), ctx)
    assert isinstance(info.value.__cause__, PluginSandboxViolation)
    assert not testing.PROBE_FILE.exists()


def test_a_reused_sandbox_starts_each_entry_clean_and_still_refuses() -> None:
    box = sandboxed("probe@1.0.0")
    for _ in range(2):  # the runtime enters one sandbox per plugin call
        with pytest.raises(PluginSandboxViolation), box:
            socket.socket()
        assert len(box.violations) == 1
    with box:
        pass
    assert box.violations == ()


def test_bind_is_the_with_block_as_one_closure() -> None:
    box = sandboxed("probe@1.0.0")
    assert box.bind(lambda a, b: (active(), a + b))(1, 2) == (True, 3) and not active()

    def swallows(a: str, b: str) -> str:
        with contextlib.suppress(OSError):
            socket.socket()
        return a + b

    def raises(a: str, b: str) -> str:
        raise KeyError(a)

    swallowing, raising = box.bind(swallows), box.bind(raises)
    for _ in range(2):  # each call starts clean and still surfaces the swallowed violation
        with pytest.raises(PluginSandboxViolation) as info:
            swallowing("a", "b")
        assert info.value.event == "socket.__new__" and len(box.violations) == 1
        assert not active()
        with pytest.raises(KeyError):  # the plugin's own error, the sandbox left
            raising("a", "b")
        assert not active() and box.violations == ()
