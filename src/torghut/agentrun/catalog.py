"""The ImplementationSpec catalog shipped in the package (``agentrun/specs/*.yaml``).

One spec per lane or gate, named ``torghut-v3-<lane>-v<major>``. Loading checks more than
the schema: the name matches the lane, every key's validator exists, the governance action
is a real one, and no key is declared twice — a broken spec is a packaging bug, reported as
file and field like any bad input.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

from torghut.agentrun.keys import VALIDATORS
from torghut.contracts.agentrun import SPEC_NAME_PATTERN, ImplementationSpec
from torghut.errors import NotFoundError, TorghutError
from torghut.governance.rights import as_action
from torghut.yamlio import load_yaml_text, validate_yaml_model

SPEC_DIR = "specs"


def parse_spec(text: str, *, file: str | Path) -> ImplementationSpec:
    """Parse and check one ImplementationSpec manifest (see the module docstring)."""
    spec = validate_yaml_model(ImplementationSpec, load_yaml_text(text, file=file), file=file)
    name = spec.metadata.name
    if not re.match(SPEC_NAME_PATTERN, name) or not name.startswith(
            f"torghut-v3-{spec.spec.lane}-v"):
        raise TorghutError(f"must be torghut-v3-{spec.spec.lane}-v<major>, not {name!r}",
                           file=file, field="metadata.name")
    as_action(spec.spec.identity_action)
    seen: set[str] = set()
    for key in spec.contract_keys():
        if key.validator not in VALIDATORS:
            raise TorghutError(f"unknown validator {key.validator!r}", file=file,
                               field=f"spec.contract.{key.name}.validator")
        if key.name in seen:
            raise TorghutError("declared twice", file=file, field=f"spec.contract.{key.name}")
        seen.add(key.name)
    return spec


@cache
def load_catalog() -> dict[str, ImplementationSpec]:
    """Every shipped spec by name (sorted), parsed once per process."""
    folder = resources.files("torghut.agentrun").joinpath(SPEC_DIR)
    specs = [parse_spec(f.read_text(encoding="utf-8"), file=f"torghut/agentrun/specs/{f.name}")
             for f in folder.iterdir() if f.name.endswith(".yaml")]
    return {s.name: s for s in sorted(specs, key=lambda s: s.name)}


def get_spec(name: str) -> ImplementationSpec:
    catalog = load_catalog()
    if name not in catalog:
        raise NotFoundError(f"no ImplementationSpec {name!r} (known: {', '.join(catalog)})",
                            field="spec.implementationSpecRef.name")
    return catalog[name]


def spec_for_lane(lane: str) -> ImplementationSpec:
    """The newest major version of ``lane``'s spec."""
    matches = [s for s in load_catalog().values() if s.spec.lane == lane]
    if not matches:
        raise NotFoundError(f"no ImplementationSpec for lane {lane!r}", field="lane")
    return max(matches, key=lambda s: int(s.name.rsplit("-v", 1)[1]))


def spec_text(name: str) -> str:
    """The shipped YAML of ``name`` byte for byte (what ``install`` commits)."""
    get_spec(name)
    return resources.files("torghut.agentrun").joinpath(SPEC_DIR, f"{name}.yaml").read_text(
        encoding="utf-8")
