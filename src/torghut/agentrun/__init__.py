"""ImplementationSpecs and AgentRuns: governed, bounded, recorded lane runs for agents.

The public API (used by ``torghut agentrun`` and the demo):

* :func:`load_run` — parse ``RUN.yaml`` into an :class:`~torghut.contracts.agentrun.AgentRun`
  (a problem raises a ``TorghutError`` naming the file and field);
* :func:`validate_run` — every :class:`Violation` of a run (empty: valid);
* :func:`execute_run` — run it as an identity; returns a :class:`RunResult` (status, bundle
  folder, outputs, failure class);
* :func:`load_catalog` / :func:`get_spec` — the shipped ImplementationSpecs.
"""

from torghut.agentrun.catalog import get_spec, load_catalog
from torghut.agentrun.execute import RunResult, RunViolations, execute_run
from torghut.agentrun.validate import Violation, load_run, validate_run

__all__ = ["RunResult", "RunViolations", "Violation", "execute_run", "get_spec", "load_catalog",
           "load_run", "validate_run"]
