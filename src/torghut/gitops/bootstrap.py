"""Create the workspace's GitOps repository on ``main``, or add what an older one lacks.

A new repository gets, in one commit on ``main``: the strategy catalog ConfigMap, the
kustomization, the gate policy, the runtime config, the demo identities (whose private keys go
to the workspace's ``keys/``) and a CI workflow that runs ``torghut config validate``. A git
pre-commit hook runs the same validation on what is being committed. An existing repository
is never rewritten: ``init --force`` adds only the files missing from ``main``, in one commit,
and installs the hook if there is none.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torghut import __version__
from torghut.contracts import StrategyCatalog
from torghut.contracts.governance import Identity, IdentityFile, IdentityKind, Role
from torghut.errors import TorghutError, WorkspaceError
from torghut.fsutil import atomic_write_text
from torghut.gates.policy import POLICY_PATH, render_policy_yaml
from torghut.gitops.manifests import (
    APP_DIR,
    CATALOG_PATH,
    KUSTOMIZATION_PATH,
    default_catalog,
    embedded_catalog,
    render_catalog_configmap,
    render_kustomization,
)
from torghut.gitops.repo import (
    MAIN,
    commit_files,
    git,
    rev_parse,
    show,
    sync_checkout,
    update_ref,
)
from torghut.gitops.runtime_config import (
    RUNTIME_CONFIG_PATH,
    default_runtime_config,
    render_runtime_config_yaml,
)
from torghut.governance.identities import IDENTITIES_PATH, render_identities
from torghut.governance.keys import generate_key, key_path, load_key, public_key_b64
from torghut.yamlio import load_yaml_text, validate_yaml_model

WORKFLOW_PATH = ".github/workflows/torghut-config.yaml"
HOOK_MARKER = "# torghut: pre-commit config validation"

# name, kind, roles — the demo set DESIGN.md's lanes need: three agents and two people.
DEMO_IDENTITIES: tuple[tuple[str, IdentityKind, tuple[Role, ...]], ...] = (
    ("research-agent", IdentityKind.AGENT, (Role.RESEARCH,)),
    ("validation-agent", IdentityKind.AGENT, (Role.VALIDATION,)),
    ("promotion-agent", IdentityKind.AGENT, (Role.PROMOTION,)),
    ("alice", IdentityKind.HUMAN, (Role.APPROVER,)),
    ("oscar", IdentityKind.HUMAN, (Role.OPERATIONS,)),
)


@dataclass(frozen=True)
class Bootstrap:
    """What :func:`ensure_gitops_repo` did."""

    created: bool  # a new repository was initialised
    added: tuple[str, ...]  # files committed on main (empty: nothing was missing)
    commit: str | None  # the commit that added them
    hook_installed: bool  # a pre-commit hook was written now


def ensure_gitops_repo(path: Path, keys_dir: Path) -> Bootstrap:
    """Initialise the repo if absent; otherwise add only what ``main`` lacks."""
    created = not (path / ".git").exists()
    if created:
        if path.exists() and any(path.iterdir()):
            raise WorkspaceError("exists, is not empty and is not a git repository", file=path)
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "--quiet", "--initial-branch=main")
    main = rev_parse(path, MAIN)
    if main is None and not created:
        raise WorkspaceError("the GitOps repository has no 'main' branch", file=path)
    missing = [rel for rel in _RENDERERS if main is None or show(path, rel, MAIN) is None]
    commit = _add_files(path, main, missing, keys_dir) if missing else None
    hook = install_pre_commit_hook(path)
    return Bootstrap(created=created, added=tuple(missing), commit=commit, hook_installed=hook)


def _add_files(repo: Path, main: str | None, missing: list[str], keys_dir: Path) -> str:
    new_keys: list[Path] = []
    try:
        files = {rel: _RENDERERS[rel](repo, main, keys_dir, new_keys) for rel in missing}
        if main is None:
            return _first_commit(repo, files)
        message = "torghut: add missing bootstrap files\n\n" + "".join(
            f"- {rel}\n" for rel in missing)
        new = commit_files(repo, parent=main, files=files, message=message)
        update_ref(repo, MAIN, new, main)
        sync_checkout(repo, main, new)
        return new
    except BaseException:
        for created_key in new_keys:  # keys for identities that were never committed
            created_key.unlink(missing_ok=True)
        raise


def _first_commit(repo: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(repo, "add", "--", *files)
    # --no-verify: the bootstrap is not validated by a user's global hooks (it is by tests).
    git(repo, "commit", "--quiet", "--no-verify", "-m", "torghut: bootstrap GitOps repository")
    sha = rev_parse(repo, MAIN)
    assert sha is not None
    return sha


# ----------------------------------------------------------------------------- renderers

_Renderer = Callable[[Path, str | None, Path, list[Path]], str]


def _catalog_on_main(repo: Path, main: str | None) -> StrategyCatalog:
    """The catalog already on main (``--force``), else the default one."""
    text = show(repo, CATALOG_PATH, MAIN) if main is not None else None
    if text is None:
        return default_catalog()
    try:
        doc = load_yaml_text(text, file=CATALOG_PATH)
        data, offset = embedded_catalog(doc, Path(CATALOG_PATH))
        return validate_yaml_model(StrategyCatalog, data, file=CATALOG_PATH,
                                   line_offset=offset)
    except TorghutError:
        return StrategyCatalog()  # invalid on main: validation will say so; no guessed limits


def _runtime_config(repo: Path, main: str | None, _keys: Path, _new: list[Path]) -> str:
    """Example RTS-8 limits for *disabled* entries only: limits for an enabled strategy are
    a decision someone must review, never a bootstrap default."""
    catalog = _catalog_on_main(repo, main)
    disabled = StrategyCatalog(strategies=tuple(s for s in catalog.strategies if not s.enabled))
    return render_runtime_config_yaml(default_runtime_config(disabled))


def _identities(_repo: Path, _main: str | None, keys_dir: Path, new_keys: list[Path]) -> str:
    """The demo identities; an existing key in ``keys/`` is reused, never replaced."""
    entries = []
    for name, kind, roles in DEMO_IDENTITIES:
        path = key_path(keys_dir, name)
        if path.exists():
            key = load_key(keys_dir, name)
        else:
            key = generate_key(keys_dir, name)
            new_keys.append(path)
        entries.append(Identity(name=name, kind=kind, roles=roles,
                                public_key=public_key_b64(key)))
    return render_identities(IdentityFile(identities=tuple(entries)))


def render_ci_workflow(version: str = __version__) -> str:
    """A GitHub Actions workflow running ``torghut config validate`` on pushes and PRs."""
    return f"""\
# Validates the Torghut manifests on every push to main and every pull request
# (written by `torghut init`). CI installs Torghut from the repository variable
# TORGHUT_PIP_SPEC when set (e.g. "git+https://github.com/ORG/torghut@v{version}"),
# else "torghut=={version}" from the configured package index.
name: torghut-config
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install Torghut
        env:
          TORGHUT_PIP_SPEC: ${{{{ vars.TORGHUT_PIP_SPEC || 'torghut=={version}' }}}}
        run: python -m pip install "$TORGHUT_PIP_SPEC"
      - name: torghut config validate
        run: torghut config validate {APP_DIR}
"""


_RENDERERS: dict[str, _Renderer] = {
    CATALOG_PATH: lambda *_: render_catalog_configmap(default_catalog()),
    KUSTOMIZATION_PATH: lambda *_: render_kustomization(),
    POLICY_PATH: lambda *_: render_policy_yaml(),
    RUNTIME_CONFIG_PATH: _runtime_config,
    IDENTITIES_PATH: _identities,
    WORKFLOW_PATH: lambda *_: render_ci_workflow(),
}


# ----------------------------------------------------------------------------- hook


def render_pre_commit_hook(python: str = sys.executable) -> str:
    """A POSIX sh hook validating the *staged* ``apps/torghut`` (not the working tree).

    The index is exported to a temporary folder with ``git checkout-index``, so what is
    validated is exactly what would be committed; the interpreter is the absolute path of
    the one that ran ``torghut init``.
    """
    return f"""\
#!/bin/sh
{HOOK_MARKER} (installed by `torghut init`).
# Validates the staged {APP_DIR} with `torghut config validate`; a failure blocks the commit.
tmp=$(mktemp -d "${{TMPDIR:-/tmp}}/torghut-pre-commit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
git checkout-index --all --prefix="$tmp/" || exit 1
[ -d "$tmp/{APP_DIR}" ] || exit 0
cd "$tmp" || exit 1
{shlex.quote(python)} -m torghut.cli.main config validate {APP_DIR}
"""


def hooks_dir(repo: Path) -> Path:
    return repo / git(repo, "rev-parse", "--git-path", "hooks").strip()


def install_pre_commit_hook(repo: Path, python: str = sys.executable) -> bool:
    """Write the pre-commit hook unless one exists (someone else's hook is left alone)."""
    hook = hooks_dir(repo) / "pre-commit"
    if hook.exists():
        return False
    atomic_write_text(hook, render_pre_commit_hook(python))
    hook.chmod(0o755)
    return True
