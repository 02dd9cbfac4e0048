"""Running the blocks of a scenario on several processes or a Dask cluster.

A point's simulated trials are split into independent tasks (``engine.tasks``): each has its
own random stream keyed by (variant, n_total, purpose, block), so any worker can run any task
in any order, and ``engine.combine`` sums the outputs in a canonical order. The summary is
therefore identical for one process, ``--workers K`` local processes, or a Dask distributed
cluster (``--scheduler tcp://host:8786``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Protocol

from simtrial.engines.base import StreamKeyed
from simtrial.errors import SimtrialError


class Executor(Protocol):
    """Runs ``fn(*args)`` for every argument tuple; yields (index, result) as they finish."""

    def run(
        self, fn: Callable[..., Any], items: list[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Local worker processes (``spawn``: no state is inherited from the parent)."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )

    def run(
        self, fn: Callable[..., Any], items: list[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        futures: dict[Future[Any], int] = {
            self._pool.submit(fn, *args): i for i, args in enumerate(items)
        }
        for future in as_completed(futures):
            yield futures[future], future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


CONNECT_TIMEOUT = 10.0
"""Seconds ``--scheduler`` waits for a Dask scheduler to answer (a port that accepts the
connection but is not a scheduler is given up on after this, plus a few seconds' grace)."""

_ADDRESS = re.compile(r"(?:(?:tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


def check_address(address: str) -> None:
    """Refuse a malformed ``--scheduler`` address (``tcp://HOST:PORT``) before connecting.

    Raises
    ------
    SimtrialError
        Saying what an address looks like.
    """
    match = _ADDRESS.fullmatch(address)
    if match is None or not 1 <= int(match.group(2)) <= 65535:
        raise SimtrialError(
            f"--scheduler {address!r}: expected tcp://HOST:PORT (or tls://, ws://, wss://) "
            "with a port from 1 to 65535, e.g. tcp://127.0.0.1:8786"
        )


class DaskExecutor:
    """An existing Dask distributed cluster (``dask scheduler`` + ``dask worker``)."""

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT) -> None:
        check_address(address)
        try:
            from distributed import Client
        except ImportError:
            raise SimtrialError(
                "--scheduler needs dask[distributed]; install simtrial[distributed]"
            ) from None
        outcome: dict[str, Any] = {}

        def connect() -> None:
            try:
                # not the default dask scheduler: a connection given up on must not
                # capture later dask work in this process
                outcome["client"] = Client(address, timeout=f"{timeout:g}s", set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - reported below as one message
                outcome["error"] = exc

        # Client's own timeout covers the TCP connection, not a peer that accepts it and
        # never answers: the thread bounds the whole handshake.
        thread = threading.Thread(target=connect, name="simtrial-dask-connect", daemon=True)
        thread.start()
        thread.join(timeout + 5.0)
        if "error" in outcome:
            exc = outcome["error"]
            raise SimtrialError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        if "client" not in outcome:
            raise SimtrialError(
                f"no Dask scheduler answered at {address} within {timeout:g} s "
                "(is that the scheduler's port?)"
            )
        self._client = outcome["client"]
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def run(
        self, fn: Callable[..., Any], items: list[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed as dask_completed

        with self._client.as_current():  # the client is not the process-wide default
            futures = [self._client.submit(fn, *args, pure=False) for args in items]
            index = {f.key: i for i, f in enumerate(futures)}
            for future in dask_completed(futures):
                yield index[future.key], future.result()

    def close(self) -> None:
        self._client.close()


def make_executor(workers: int = 1, scheduler: str | None = None) -> Executor | None:
    """``None`` (run in this process), local processes, or a Dask client."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers > 1:
        return LocalExecutor(min(workers, (os.cpu_count() or 1) * 4))
    return None


def chunked(items: Iterable[Any], size: int) -> list[list[Any]]:
    """Split a sequence into lists of at most ``size`` items."""
    out: list[list[Any]] = []
    for item in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(item)
    return out


def _run_task(
    engine_name: str,
    scenario: Any,
    variant: str,
    n_total: int,
    task: Any,
    seed: int,
    common_random_numbers: bool = False,
) -> Any:
    from simtrial.engines import get_engine

    engine: Any = get_engine(engine_name)
    engine.common_random_numbers = common_random_numbers
    return engine.run_task(scenario, variant, n_total, task, seed)


def _run_tasks(
    engine_name: str,
    scenario: Any,
    variant: str,
    n_total: int,
    tasks: list[Any],
    seed: int,
    common_random_numbers: bool = False,
) -> list[Any]:
    """Several tasks in one submission (fewer round trips; same outputs)."""
    return [
        _run_task(engine_name, scenario, variant, n_total, task, seed, common_random_numbers)
        for task in tasks
    ]


class DistributedEngine(StreamKeyed):
    """An engine whose points are split into tasks run by an :class:`Executor`.

    Wraps an engine with ``tasks``, ``run_task`` and ``combine`` (vectorized, des); results are
    identical to the wrapped engine's ``evaluate``.
    """

    def __init__(self, engine: Any, executor: Executor, workers: int = 2) -> None:
        self.engine = engine
        self.name = engine.name
        self.executor = executor
        self.workers = max(1, getattr(executor, "workers", workers))

    def check(self, scenario: Any) -> None:
        self.engine.check(scenario)

    def evaluate(
        self,
        scenario: Any,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Callable[[int], None] | None = None,
    ) -> Any:
        self.engine.check(scenario)
        tasks = self.engine.tasks(scenario, simulations)
        outputs = self._run(scenario, variant, n_total, tasks, seed, progress)
        return self.engine.combine(scenario, n_total, simulations, outputs)

    def evaluate_target(
        self,
        scenario: Any,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        target: str,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[float, float]:
        """Only the tasks of the target's purpose (see ``BlockEngine.evaluate_target``)."""
        from simtrial.engines.base import target_estimate, target_purposes

        self.engine.check(scenario)
        wanted = target_purposes(scenario, target)
        tasks = [t for t in self.engine.tasks(scenario, simulations) if t[0] in wanted]
        outputs = self._run(scenario, variant, n_total, tasks, seed, progress)
        return target_estimate(scenario, simulations, outputs, target)

    def _run(
        self,
        scenario: Any,
        variant: str,
        n_total: int,
        tasks: list[Any],
        seed: int,
        progress: Callable[[int], None] | None,
    ) -> list[Any]:
        # about four submissions per worker: few round trips, still balanced
        groups = chunked(tasks, max(1, -(-len(tasks) // (4 * self.workers))))
        crn = self.common_random_numbers
        items = [(self.name, scenario, variant, n_total, group, seed, crn) for group in groups]
        outputs = []
        for i, group_outputs in self.executor.run(_run_tasks, items):
            outputs.extend(group_outputs)
            if progress is not None:
                progress(sum(task[2] for task in groups[i]))
        return outputs
