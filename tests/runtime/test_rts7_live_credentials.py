"""RTS-7: paper and shadow never hold live credentials.

Live broker secrets sit in the environment (``TORGHUT_LIVE_*``) and in the workspace
(``keys/live-broker.json``) while real paper and shadow sessions run. Then: (a) the one
credentials reader refuses paper and shadow — and every live request too, until a live
adapter exists; (b) no object reachable from a running engine (adapter, firewall, risk chain,
strategies…) nor from the session's result holds a secret, and no file the sessions wrote
does; (c) no module of the paper/shadow path imports the credentials module, and no other
module names where live secrets live.
"""

# control: RTS-7

from __future__ import annotations

import ast
import gc
import importlib.util
import json
import os
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.runtime.test_runtime_session import SPEC, promote_on_main
from torghut.data.synth import build_synth
from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal
from torghut.ledger import open_ledger
from torghut.runtime import credentials
from torghut.runtime.config import ConfigReconciler
from torghut.runtime.credentials import LiveAuthority, LiveCredentialCode, live_credentials
from torghut.runtime.engine import Engine, EngineOptions
from torghut.runtime.feed import ReplayFeed
from torghut.runtime.session import SessionRequest, run_session
from torghut.workspace import Workspace, init_workspace

ENV_SECRET = "env-secret-9f3c1a77d2"
FILE_SECRET = "file-secret-41be08c6aa"
SECRETS = (ENV_SECRET, FILE_SECRET)
SRC = Path(__file__).resolve().parents[2] / "src" / "torghut"
PAPER_PATH = ("torghut.runtime.adapters.paper", "torghut.runtime.adapters.shadow",
              "torghut.runtime.engine", "torghut.runtime.session", "torghut.runtime.firewall",
              "torghut.api.host", "torghut.cli.paper")


@pytest.fixture(scope="module")
def live_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with promoted strategies, live secrets in keys/ and in the environment."""
    ws = init_workspace(tmp_path_factory.mktemp("rts7") / "ws")
    manifest, _ = build_synth(ws, SPEC, name="synth-paper")
    promote_on_main(ws, tuple(manifest.symbols))
    (ws.keys_dir / credentials.LIVE_KEYS_FILE).write_text(
        json.dumps({"api_secret": FILE_SECRET}), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORGHUT_LIVE_API_KEY", ENV_SECRET)
        yield ws


# ----------------------------------------------------------------------------- (a) refusals


def test_the_reader_finds_both_secrets_so_absence_below_means_something(
        live_ws: Workspace) -> None:
    found = credentials._read(live_ws, os.environ)
    assert {k: v.get_secret_value() for k, v in found.secrets.items()} == {
        "api_key": ENV_SECRET, "api_secret": FILE_SECRET}
    assert ENV_SECRET not in repr(found) and FILE_SECRET not in repr(found)


@pytest.mark.parametrize("mode", ["paper", "shadow"])
def test_paper_and_shadow_are_refused_even_with_gate4_and_approval(
        live_ws: Workspace, mode: str) -> None:
    with pytest.raises(Refusal) as err:
        live_credentials(live_ws, mode, LiveAuthority("decision-1", "alice"))
    assert err.value.code == LiveCredentialCode.NOT_LIVE_MODE
    assert err.value.exit_code == 1
    assert not any(s in str(err.value) for s in SECRETS)


@pytest.mark.parametrize("authority,code", [
    (None, LiveCredentialCode.GATE4_MISSING),
    (LiveAuthority(gate4_decision_id="decision-1"), LiveCredentialCode.APPROVAL_MISSING),
    (LiveAuthority("decision-1", "alice"), LiveCredentialCode.ADAPTER_MISSING),
])
def test_live_is_refused_with_the_first_missing_precondition(
        live_ws: Workspace, authority: LiveAuthority | None, code: str) -> None:
    with pytest.raises(Refusal) as err:
        live_credentials(live_ws, "live", authority)
    assert err.value.code == code


def test_a_malformed_keys_file_is_one_line_naming_it(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    path = ws.keys_dir / credentials.LIVE_KEYS_FILE
    path.write_text('{"api_secret": 5}', encoding="utf-8")
    with pytest.raises(TorghutError) as err:
        credentials._read(ws, {})
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


# ----------------------------------------------------------------------------- (b) reachability


def _strings(root: object) -> Iterator[str | bytes]:
    """Every str/bytes reachable from ``root`` through instance state, containers, closures
    and object arrays — not through modules, classes or function globals (process-wide
    state every Python object can name, ``os.environ`` included)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is os.environ:
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes | bytearray):
            yield bytes(obj) if isinstance(obj, bytearray) else obj
        elif isinstance(obj, types.FunctionType):
            stack.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
            stack.extend((obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()))
        elif isinstance(obj, np.ndarray) and obj.dtype == object:
            stack.extend(obj.ravel().tolist())
        elif not isinstance(obj, types.ModuleType | type | types.CodeType
                            | types.BuiltinFunctionType):
            stack.extend(gc.get_referents(obj))


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _holds_secret(root: object) -> bool:
    for text in _strings(root):
        plain = text if isinstance(text, str) else text.decode("utf-8", "replace")
        if any(s in plain for s in SECRETS):
            return True
    return False


@pytest.mark.parametrize("mode", ["paper", "shadow"])
def test_no_object_reachable_from_a_running_engine_holds_a_live_secret(
        live_ws: Workspace, mode: str) -> None:
    applied = ConfigReconciler(live_ws).reconcile()
    feed = ReplayFeed.from_snapshot(live_ws, "synth-paper")
    engine = Engine(applied, feed, EngineOptions(session_id=f"rts7-{mode}",
                                                 operator="validation-agent", mode=mode))
    stats = engine.run()
    assert stats.submitted > 0 and engine.firewall.name == mode  # it really traded
    assert not _holds_secret(engine)
    # The walk does reach deep state: a secret planted inside a strategy slot is found.
    engine.strategies.slots[0].__dict__["canary"] = {"k": [("x", ENV_SECRET)]}
    assert _holds_secret(engine)


@pytest.mark.parametrize("mode", ["paper", "shadow"])
def test_a_session_runs_with_secrets_around_and_records_none_of_them(
        live_ws: Workspace, mode: str) -> None:
    ledger = open_ledger(live_ws)
    try:
        result = run_session(live_ws, ledger, SessionRequest(
            dataset="synth-paper", as_identity="validation-agent", mode=mode))
    finally:
        ledger.close()
    assert result.summary["mode"] == mode and result.summary["submitted"] > 0
    assert not _holds_secret(result)
    keys_file = live_ws.keys_dir / credentials.LIVE_KEYS_FILE
    for path in live_ws.root.rglob("*"):
        if path.is_file() and path != keys_file and ".git" not in path.parts:
            data = path.read_bytes()
            assert not any(s.encode() in data for s in SECRETS), path


# ----------------------------------------------------------------------------- (c) imports


def _imports(module: str) -> set[str]:
    """The torghut modules ``module``'s source imports (absolute and relative)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                               package) if node.level else node.module or ""
            out.add(base)
            if base.startswith("torghut") and _is_package(base):
                out.update(f"{base}.{a.name}" for a in node.names
                           if importlib.util.find_spec(f"{base}.{a.name}") is not None)
    return {m for m in out if m == "torghut" or m.startswith("torghut.")}


def _is_package(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _closure(roots: tuple[str, ...]) -> set[str]:
    """Every torghut module importing ``roots`` loads, parent packages included."""
    todo = [*roots]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_imports(name))
    return seen


def test_the_paper_and_shadow_path_never_imports_the_credentials_module() -> None:
    reached = _closure(PAPER_PATH)
    assert {"torghut.runtime.adapters.paper", "torghut.risk.chain",
            "torghut.workspace"} <= reached  # the walk follows real imports
    assert "torghut.runtime.credentials" not in reached
    assert "torghut.runtime.credentials" in _closure(("torghut.runtime.credentials",))


def test_only_the_credentials_module_names_where_live_secrets_live() -> None:
    owner = SRC / "runtime" / "credentials.py"
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path != owner:
            assert credentials.LIVE_ENV_PREFIX not in text, path
            assert credentials.LIVE_KEYS_FILE not in text, path
