"""Where simulations run: in this process, in a pool of processes, or on a Dask cluster.

Every executor maps a module-level (picklable) task function over a list of tasks and yields the
results as they finish, in completion order; callers that need an order sort by an index the
task carries. Results never depend on the executor or the number of workers, because each task
depends only on its own inputs. Use an executor as a context manager: leaving the ``with`` block,
normally or on an exception (a task's, the caller's or KeyboardInterrupt), cancels work not yet
started and shuts the workers down.

    with executor("process", workers=4) as ex:
        for result in ex.map_unordered(task_fn, tasks):
            ...
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing.context
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from types import TracebackType
from typing import Any, TypeVar

from ..config import UserError

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("serial", "process", "dask")


class Executor:
    """Runs ``fn(task)`` for each task and yields the results as they finish."""

    name = "serial"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Yield ``fn(task)`` for every task, in completion order; a task's exception is raised
        here, as itself."""
        for task in tasks:
            yield fn(task)

    def close(self) -> None:
        """Cancel work not yet started and release the workers (no-op when nothing was started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs tasks one after another in this process."""


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While a worker process is being started, hide where this process's ``__main__`` came from.

    A ``spawn``ed child runs the parent's main script again (as ``__mp_main__``) before its first
    task: :func:`multiprocessing.spawn.get_preparation_data` sends the script's path (``__file__``)
    or its module name (``__spec__``, for ``python -m``), and the child's ``prepare`` runs it. A
    script that calls :func:`hospsim.run` at its top level, without an ``if __name__ ==
    "__main__":`` guard, would then start a run inside every worker, which crashes the pool.
    hospsim's workers only need hospsim's own module-level task functions, so they are started as
    from an interactive session (which has neither attribute): the child imports nothing of the
    caller's. The attributes are back as soon as the child has its start-up data."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class _SpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker process that does not run the caller's main script (see :func:`_main_hidden`)."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        with _main_hidden():
            return multiprocessing.context.SpawnProcess._Popen(process_obj)


def keep_freed_memory() -> None:
    """From now on this process keeps freed memory for its next run rather than handing it back
    to the system (glibc's malloc otherwise unmaps every large array when it is freed, and
    touching fresh pages again cost ~15% of a compiled replication). Memory stays flat at the size
    of the largest run. Set in sweep workers and in the ``hospsim`` command's own process, never
    by the library in a caller's process; elsewhere than glibc it does nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # glibc's mallopt parameters
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)
    libc.mallopt(m_top_pad, 256 << 20)


def _worker_setup() -> None:
    """Each worker process, as it starts."""
    keep_freed_memory()


class _SpawnContext(multiprocessing.context.SpawnContext):
    """The ``spawn`` start method, with workers that leave the caller's ``__main__`` alone."""

    Process = _SpawnProcess


class ProcessExecutor(Executor):
    """A pool of worker processes, started on first use with the ``spawn`` method: workers start
    clean of this process's threads (the progress bar) and behave the same on every platform.
    They never import the caller's main script, so a plain script (no ``__main__`` guard), a
    notebook and the REPL can all use the pool (see :func:`_main_hidden`)."""

    name = "process"

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: ProcessPoolExecutor | None = None
        self._futures: set[Future[Any]] = set()  # submitted and not yet handed back

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Submit every task to the pool, then yield results as they finish."""
        if len(tasks) <= 1:
            # Not worth starting processes for: a single task runs here.
            yield from super().map_unordered(fn, tasks)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(tasks)), mp_context=_SpawnContext(), initializer=_worker_setup
            )
        self._futures = {self._pool.submit(fn, task) for task in tasks}
        for fut in as_completed(self._futures):
            # A future holds its result: one kept after it is handed back would keep every run's
            # tables in memory until the sweep ends.
            self._futures.discard(fut)
            yield fut.result()
        self._futures = set()

    def close(self) -> None:
        """Cancel queued tasks, wait for running ones, stop the worker processes."""
        for fut in self._futures:
            fut.cancel()
        self._futures = set()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """A ``dask.distributed`` client: on a local cluster of ``workers`` single-threaded processes,
    or on the cluster behind ``scheduler`` (an address such as ``tcp://host:8786``)."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        super().__init__(workers)
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self._futures: list[Any] = []

    def _connect(self) -> Any:
        from dask.distributed import Client, LocalCluster

        if self._client is None:
            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
                self._client = Client(self._cluster)
        return self._client

    def map_unordered(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Submit every task to the cluster, then yield results as they finish."""
        if not tasks:
            return
        from dask.distributed import as_completed as dask_completed

        client = self._connect()
        # pure=False: equal tasks are still separate runs, never deduplicated by Dask.
        self._futures = [client.submit(fn, task, pure=False) for task in tasks]
        for fut in dask_completed(self._futures):
            result = fut.result()
            fut.release()  # the result is the caller's now: free the worker's copy
            yield result
        self._futures = []

    def close(self) -> None:
        """Cancel outstanding tasks and close the client and any local cluster."""
        if self._client is not None and self._futures:
            self._client.cancel(self._futures)
        self._futures = []
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def background_process() -> Iterator[ProcessPoolExecutor]:
    """One spawned process (like the workers: clean, never running the caller's main script) for
    a long job of C code beside this process's Python work, where a thread would wait for the
    GIL at every step; shut down on leaving the block (waiting for its job)."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=_SpawnContext())
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def check_backend(backend: str, scheduler: str | None = None) -> None:
    """Refuse, in one line, a backend that is unknown or unavailable, or a scheduler without Dask;
    call it before anything is written."""
    if backend not in BACKENDS:
        raise UserError(f"--backend: unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if scheduler and backend != "dask":
        raise UserError("--scheduler: only with --backend dask")
    if backend == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise UserError("--backend dask: dask.distributed is not installed (pip install 'hospsim[dask]')") from None


def executor(backend: str = "process", workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``backend``: ``serial``; ``process`` (serial when ``workers`` is 1); or
    ``dask`` (a local cluster of ``workers`` processes, or the cluster at ``scheduler``)."""
    check_backend(backend, scheduler)
    if backend == "dask":
        return DaskExecutor(workers, scheduler)
    if backend == "serial" or workers <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
