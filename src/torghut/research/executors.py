"""Where trials run: in-process (tests), a local process pool (default) or Ray.

Every executor maps the same task function, :func:`torghut.research.trials.run_chunk`, over
chunks of params and returns the rows in trial order whatever the completion order, so the
three give bit-identical return matrices. Chunks amortise pickling; the shared
:class:`~torghut.research.trials.TrialContext` is shipped once per worker (pool
initializer) or once per cluster (``ray.put``), never once per task.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal, Protocol

import numpy as np

from torghut.errors import TorghutError
from torghut.research.trials import TrialContext, run_chunk

ExecutorName = Literal["serial", "local", "ray"]
EXECUTORS: tuple[ExecutorName, ...] = ("serial", "local", "ray")
Params = dict[str, Any]
Progress = Callable[[int], None]  # called with the number of trials just finished
CHUNKS_PER_WORKER = 4  # enough to balance load, few enough to amortise pickling


class Executor(Protocol):
    name: str
    workers: int

    def map_trials(self, context: TrialContext, params: Sequence[Params],
                   progress: Progress | None = None) -> np.ndarray:
        """Return series of every params dict, one row each, in input order."""


def chunked(n: int, workers: int) -> list[range]:
    size = max(1, math.ceil(n / (workers * CHUNKS_PER_WORKER)))
    return [range(a, min(a + size, n)) for a in range(0, n, size)]


def _assemble(n: int, parts: dict[int, np.ndarray], chunks: list[range]) -> np.ndarray:
    return np.concatenate([parts[i] for i in range(len(chunks))]) if n else np.empty((0, 0))


class SerialExecutor:
    """In this process, one trial after the other (tests, debugging)."""

    name = "serial"
    workers = 1

    def map_trials(self, context: TrialContext, params: Sequence[Params],
                   progress: Progress | None = None) -> np.ndarray:
        rows = []
        for p in params:
            rows.append(run_chunk(context, [p]))
            if progress:
                progress(1)
        return np.concatenate(rows)


_WORKER_CONTEXT: TrialContext | None = None


def _init_worker(context: TrialContext) -> None:
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context


def _pool_task(chunk: list[Params]) -> np.ndarray:
    assert _WORKER_CONTEXT is not None, "worker not initialised"
    return run_chunk(_WORKER_CONTEXT, chunk)


class LocalExecutor:
    """A :class:`ProcessPoolExecutor` with ``workers`` processes on this machine."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map_trials(self, context: TrialContext, params: Sequence[Params],
                   progress: Progress | None = None) -> np.ndarray:
        chunks = chunked(len(params), self.workers)
        # fork: workers inherit imports and compiled kernels instead of re-importing
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        parts: dict[int, np.ndarray] = {}
        with ProcessPoolExecutor(max_workers=self.workers, initializer=_init_worker,
                                 initargs=(context,),
                                 mp_context=multiprocessing.get_context(method)) as pool:
            futures = {pool.submit(_pool_task, [params[i] for i in chunk]): k
                       for k, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                parts[futures[future]] = future.result()
                if progress:
                    progress(len(chunks[futures[future]]))
        return _assemble(len(params), parts, chunks)


class RayExecutor:
    """Ray tasks running :func:`run_chunk`: a local instance (``num_cpus=workers``) unless
    ``RAY_ADDRESS`` names a cluster to join."""

    name = "ray"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map_trials(self, context: TrialContext, params: Sequence[Params],
                   progress: Progress | None = None) -> np.ndarray:
        try:
            import ray
        except ImportError:
            raise TorghutError("Ray is not installed; install torghut[ray]",
                               field="--executor") from None
        started = not ray.is_initialized()
        if started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}
            if not os.environ.get("RAY_ADDRESS"):
                kwargs["num_cpus"] = self.workers
            ray.init(**kwargs)
        try:
            chunks = chunked(len(params), self.workers)
            shared = ray.put(context)
            task = ray.remote(run_chunk)
            refs = [task.remote(shared, [params[i] for i in chunk]) for chunk in chunks]
            index = {ref: k for k, ref in enumerate(refs)}
            parts: dict[int, np.ndarray] = {}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                k = index[done[0]]
                parts[k] = ray.get(done[0])
                if progress:
                    progress(len(chunks[k]))
            return _assemble(len(params), parts, chunks)
        finally:
            if started:
                ray.shutdown()


def get_executor(name: str, workers: int) -> Executor:
    if workers < 1:
        raise TorghutError(f"must be at least 1, got {workers}", field="--workers")
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers)
    raise TorghutError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}",
                       field="--executor")
