"""Run the cells of a sweep as tasks of any :class:`concurrent.futures.Executor`, in order.

:func:`process_pool` is the default executor: one process per core, each running BLAS on one
thread. (Two processes whose BLAS each spins two threads on two cores run several times slower
than one process alone.)"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from threadpoolctl import threadpool_limits

from geoconstruct.verification.evaluation import ProgressCallback

__all__ = ["ProgressCallback", "process_pool", "run_cells", "size_cost"]


def process_pool(max_workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool (one worker per core by default) whose workers run BLAS on one thread.

    Parameters
    ----------
    max_workers : int, optional
        Worker processes; None gives one per core.
    """
    return ProcessPoolExecutor(max_workers, initializer=_one_blas_thread)


def size_cost(n_subjects: int, n_relations: int) -> float:
    """How much work a cell of one (N, R) is, for ordering: ``(N·R)²``, as the unembedding's
    product over every query grows (queries N·R, vocabulary about 2N, d about R·log N).

    """
    return float(n_subjects * n_relations) ** 2


def _one_blas_thread() -> None:
    threadpool_limits(limits=1)


def run_cells(
    cell: Callable[..., Any],
    cells: list[tuple[Any, ...]],
    executor: Executor | None,
    progress: ProgressCallback | None,
    cost: Callable[..., float] | None = None,
) -> list[Any]:
    """Run ``cell(*arguments)`` for every cell as tasks of ``executor`` (a process pool if None),
    calling ``progress(1)`` as each finishes, and return the results in the order of ``cells``.

    With ``cost`` (called with a cell's arguments), the cells are submitted most costly first,
    so that the longest starts at once instead of last.

    Parameters
    ----------
    cell : callable
        The work of one cell: ``cell(*arguments)``, picklable for a process pool.
    cells : list of tuple
        One tuple of arguments per cell.
    cost : callable, optional
        A cell's relative cost from its arguments; the costliest cells are submitted first.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     run_cells(pow, [(2, 3), (3, 2)], pool, None)
    [8, 9]
    """
    owned = executor is None
    pool = process_pool() if executor is None else executor
    try:
        order = list(range(len(cells)))
        if cost is not None:
            order.sort(key=lambda index: -cost(*cells[index]))
        futures = {index: pool.submit(cell, *cells[index]) for index in order}
        for index in order:
            futures[index].result()
            if progress is not None:
                progress(1)
        return [futures[index].result() for index in range(len(cells))]
    finally:
        if owned:
            pool.shutdown()
