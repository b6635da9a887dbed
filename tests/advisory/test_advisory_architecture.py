"""AI-M1: the advisory path holds no handle that can submit orders, approve, or touch the
kill switch — proved statically (its import closure, from the source files) and at runtime
(a fresh interpreter importing every advisory module loads none of them, and no module
global of the package refers to one)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import torghut

SRC = Path(torghut.__file__).parent.parent
ADVISORY = SRC / "torghut" / "advisory"
# control: AI-M1
FORBIDDEN = (
    "torghut.runtime",  # adapters, the order firewall, the engine: order submission
    "torghut.risk",  # risk chain tokens, the kill-switch state machine
    "torghut.ops.kill_switch",  # engaging / releasing the kill switch
    "torghut.ops.rollback",  # reverting main
    "torghut.lanes.promotion",  # approvals, merges
    "torghut.lanes.validation",  # signs off / records decisions through the guard
    "torghut.governance.signing",  # signing actions
    "torghut.governance.keys",  # private-key loading
    "torghut.governance.guard",  # sign + authorize + audit as an identity
    "torghut.gitops.merge",  # moving main
    "torghut.gitops.pulls",  # opening pull requests
)


def advisory_modules() -> list[str]:
    return sorted(f"torghut.advisory.{p.stem}" if p.stem != "__init__" else "torghut.advisory"
                  for p in ADVISORY.glob("*.py"))


def _file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _executed(tree: ast.Module) -> Iterator[ast.AST]:
    """Nodes run at import time: module level, minus ``if TYPE_CHECKING:`` bodies and
    function/class bodies (class bodies do run, so they are walked)."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in ast.walk(child))
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from ast.walk(node)


def imports_of(module: str, *, everywhere: bool) -> set[str]:
    """Torghut modules ``module`` imports (and their parent packages)."""
    path = _file(module)
    if path is None:
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in (ast.walk(tree) if everywhere else _executed(tree)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names |= {base, *(f"{base}.{a.name}" for a in node.names)}
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix.startswith("torghut") and _file(prefix) is not None:
                found.add(prefix)
    return found


def closure(roots: list[str]) -> dict[str, str | None]:
    """Every module reachable from ``roots`` → the module that imported it first.

    Advisory modules count every import they write (even inside functions); the modules
    they reach count what runs when they are imported."""
    parent: dict[str, str | None] = dict.fromkeys(roots)
    stack = list(roots)
    while stack:
        module = stack.pop()
        for name in imports_of(module, everywhere=module.startswith("torghut.advisory")):
            if name not in parent:
                parent[name] = module
                stack.append(name)
    return parent


def _chain(parent: dict[str, str | None], module: str) -> str:
    out = [module]
    while (up := parent[out[-1]]) is not None:
        out.append(up)
    return " <- ".join(out)


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_the_walker_sees_what_it_must() -> None:
    """The analysis is not vacuous: the kill-switch CLI does reach the kill switch."""
    reach = closure(["torghut.cli.kill_switch"])
    assert "torghut.ops.kill_switch" in reach and "torghut.governance.keys" in reach
    assert "torghut.advisory.advisor" in closure(["torghut.cli.advisory"])
    assert len(advisory_modules()) >= 10


def test_no_advisory_module_reaches_an_acting_module_statically() -> None:
    reach = closure(advisory_modules())
    bad = sorted(m for m in reach if _forbidden(m))
    assert bad == [], "\n".join(_chain(reach, m) for m in bad)


_PROBE = """
import importlib, json, sys, types
mods = json.loads(sys.argv[1]); forbidden = tuple(json.loads(sys.argv[2]))
def bad(name):
    return any(name == f or name.startswith(f + ".") for f in forbidden)
loaded = [importlib.import_module(m) for m in mods]
refs = []
for mod in loaded:
    for key, value in vars(mod).items():
        owner = value.__name__ if isinstance(value, types.ModuleType) else getattr(
            value, "__module__", None)
        if isinstance(owner, str) and bad(owner):
            refs.append(f"{mod.__name__}.{key} -> {owner}")
print(json.dumps({"sys_modules": sorted(m for m in sys.modules if bad(m)), "refs": refs}))
"""


def test_importing_the_advisory_path_loads_no_acting_module() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(advisory_modules()),
                           json.dumps(FORBIDDEN)], capture_output=True, text=True, timeout=120,
                          check=True)
    seen = json.loads(proc.stdout)
    assert seen == {"sys_modules": [], "refs": []}


@pytest.mark.parametrize("name", ["torghut.risk.kill_switch", "torghut.runtime.firewall",
                                  "torghut.governance.keys"])
def test_probe_would_catch_a_leak(name: str) -> None:
    """The runtime probe is not vacuous: a module that is imported shows up."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps([name]),
                           json.dumps(FORBIDDEN)], capture_output=True, text=True, timeout=120,
                          check=True)
    assert name in json.loads(proc.stdout)["sys_modules"]
