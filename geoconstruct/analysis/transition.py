"""The phase transition: recall accuracy against d, below and up to the proved dimension.

Random codes build at every d that can be assembled (``required_dimension``), and the proof only
speaks from ``proven_dimension`` on. :func:`transition` measures what happens in between: for
each d it builds the construction on every seed, runs recall (every query where that costs at most
:data:`~geoconstruct.analysis.dimension_search.EXACT_WORK_LIMIT`, otherwise a seeded sample with its
exact interval) and reports the accuracy's mean, minimum and maximum over the seeds, beside
``R·log2 N`` and the ratio ``d / (R·log2 N)``. :func:`transition_table` sweeps it over sizes on any
:class:`concurrent.futures.Executor`, one task per (N, R, d) and one per (N, R) for the measured
minimum dimension, which every row carries. Constructions run in float32, as a trained model would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.dimension_search import (
    DEFAULT_SEEDS,
    EXACT_WORK_LIMIT,
    Search,
    exact_work,
    measure_min_dimension,
)
from geoconstruct.analysis.sweeps import run_cells
from geoconstruct.analysis.tables import Columns
from geoconstruct.constructions.single_hop import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    construct_single_hop,
    proven_dimension,
    required_dimension,
)
from geoconstruct.verification.evaluation import ProgressCallback

__all__ = [
    "DEFAULT_RATIOS",
    "TRANSITION_SAMPLE",
    "TransitionRow",
    "transition",
    "transition_dims",
    "transition_table",
]

DEFAULT_RATIOS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
"""The d / (R·log2 N) at which :func:`transition_table` measures when no dims are given."""

TRANSITION_SAMPLE = 2_000
"""Queries a seed checks at one d where every query would exceed the work limit."""

MIN_D_SAMPLE = 4_000
"""Queries a sampled check of the minimum-dimension search draws (every one must be answered)."""

MIN_D_TOLERANCE = 0.02
"""The transition table's minimum d is bisected to within 2 % of its code length."""


@dataclass(frozen=True)
class TransitionRow:
    """Recall at one d, over seeds: the share of facts recalled, beside the measured and the proved
    minimum dimension.

    ``accuracy_*`` are over the seeds. ``sampled_queries`` is the sample each seed checked (None:
    every query), and ``sample_low``/``sample_high`` the widest 95 % interval over the seeds.
    ``min_d`` is the smallest d at which every seed recalls every fact
    (:func:`~geoconstruct.analysis.dimension_search.measure_min_dimension`; None until measured).
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("d", "d", "{}"),
        ("k", "code_length", "{}"),
        ("d / R·log2 N", "d_over_r_log2_n", "{:.2f}"),
        ("accuracy mean", "accuracy_mean", "{:.4f}"),
        ("min", "accuracy_min", "{:.4f}"),
        ("max", "accuracy_max", "{:.4f}"),
        ("all facts, seeds", "seeds_all_correct", "{}"),
        ("sampled queries", "sampled_queries", "{:,}"),
        ("min d", "min_d", "{}"),
        ("min d / R·log2 N", "min_d_over_r_log2_n", "{:.2f}"),
        ("proven d", "proven_d", "{}"),
        ("proven d / R·log2 N", "proven_d_over_r_log2_n", "{:.2f}"),
        ("seconds", "seconds", "{:.1f}"),
    )

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    d: int
    code_length: int
    r_log2_n: float
    d_over_r_log2_n: float
    proven_d: int
    seeds: tuple[int, ...]
    accuracy_mean: float
    accuracy_min: float
    accuracy_max: float
    seeds_all_correct: int
    sampled_queries: int | None
    sample_low: float | None
    sample_high: float | None
    seconds: float
    min_d: int | None = None

    @property
    def sampled(self) -> bool:
        return self.sampled_queries is not None

    @property
    def min_d_over_r_log2_n(self) -> float | None:
        return self.min_d / self.r_log2_n if self.min_d is not None else None

    @property
    def proven_d_over_r_log2_n(self) -> float:
        return self.proven_d / self.r_log2_n


def transition(
    n_subjects: int,
    n_relations: int,
    dims: Iterable[int],
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    sample: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[TransitionRow]:
    """Accuracy against d for one (N, R): one row per d in ``dims`` (each at least
    ``required_dimension``), over ``seeds``.

    ``sample`` queries per seed are checked (a seeded uniform sample); by default every query,
    unless that exceeds the work limit, where :data:`TRANSITION_SAMPLE` are.

    Examples
    --------
    >>> rows = transition(256, 2, [3, 20, 400], seeds=(0, 1))
    >>> [(row.d, row.accuracy_min < 1.0, row.seeds_all_correct) for row in rows]
    [(3, True, 0), (20, True, 0), (400, False, 2)]
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    seeds = tuple(require_int("seed", seed, minimum=0) for seed in seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    low = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    proven = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    r_log2_n = n_relations * math.log2(n_subjects)
    rows = []
    for d in dims:
        d = require_int("d", d, minimum=low)
        start = time.perf_counter()
        reports = []
        for seed in seeds:
            construction = construct_single_hop(
                n_subjects,
                n_relations,
                d,
                layout=layout,
                codebook=codebook,
                seed=seed,
                dtype="float32",
                memory_budget=memory_budget,
            )
            exact = exact_work(construction) <= EXACT_WORK_LIMIT
            size = sample if sample is not None or exact else TRANSITION_SAMPLE
            reports.append(construction.recall(sample=size, seed=seed, memory_budget=memory_budget))
        accuracies = [report.accuracy for report in reports]
        sampled = any(report.sampled for report in reports)
        intervals = [report.accuracy_interval for report in reports]
        rows.append(
            TransitionRow(
                n_subjects=n_subjects,
                n_relations=n_relations,
                layout=construction.metadata.layout.name,
                codebook=construction.codebook.family,
                d=d,
                code_length=construction.codebook.code_length,
                r_log2_n=r_log2_n,
                d_over_r_log2_n=d / r_log2_n,
                proven_d=proven,
                seeds=seeds,
                accuracy_mean=sum(accuracies) / len(accuracies),
                accuracy_min=min(accuracies),
                accuracy_max=max(accuracies),
                seeds_all_correct=sum(report.all_correct for report in reports),
                sampled_queries=reports[0].n_queries if sampled else None,
                sample_low=min(lower for lower, _ in intervals) if sampled else None,
                sample_high=max(upper for _, upper in intervals) if sampled else None,
                seconds=time.perf_counter() - start,
            )
        )
    return rows


def transition_dims(
    n_subjects: int,
    n_relations: int,
    ratios: Iterable[float] = DEFAULT_RATIOS,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
) -> list[int]:
    """The d nearest to each ``ratio · R·log2 N`` that can be assembled, without repeats.

    Examples
    --------
    >>> transition_dims(4096, 4, (1, 2, 4))
    [48, 96, 192]
    """
    low = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    r_log2_n = n_relations * math.log2(n_subjects)
    return sorted({max(low, round(ratio * r_log2_n)) for ratio in ratios})


def transition_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    dims: Iterable[int] | None = None,
    *,
    ratios: Iterable[float] = DEFAULT_RATIOS,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    sample: int | None = None,
    measure_min_d: bool = True,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[TransitionRow]:
    """:func:`transition` for every (N, R), at every d in ``dims`` that the construction accepts
    (by default at :func:`transition_dims` of ``ratios``), one task per cell (a process pool by
    default), with each (N, R)'s measured minimum dimension in its rows: the smallest d found to
    recall every fact on every seed, bisected to within :data:`MIN_D_TOLERANCE` of its code length
    (exactly minimal in :func:`~geoconstruct.analysis.capacity.dimension_table`).
    """
    sizes = [(n, r) for n in subjects for r in relations]
    given = None if dims is None else list(dims)
    cells = [
        (n, r, [d], layout, codebook, tuple(seeds), sample, memory_budget)
        for n, r in sizes
        for d in (
            transition_dims(n, r, ratios, layout=layout, codebook=codebook)
            if given is None
            else given
        )
        if d >= required_dimension(n, r, layout=layout, codebook=codebook)
    ]
    search = Search(
        layout=layout,
        codebook=codebook,
        seeds=tuple(seeds),
        memory_budget=memory_budget,
        sample_size=MIN_D_SAMPLE,
        tolerance=MIN_D_TOLERANCE,
    )
    searches = [(n, r, search) for n, r in sizes] if measure_min_d else []
    tasks: list[tuple[Any, ...]] = [(_min_d_cell, *cell) for cell in searches]
    tasks += [(_transition_cell, *cell) for cell in cells]
    results = run_cells(_call, tasks, executor, progress)
    min_ds = dict(zip(sizes, results[: len(searches)], strict=False))
    rows = [row for nested in results[len(searches) :] for row in nested]
    return [replace(row, min_d=min_ds.get((row.n_subjects, row.n_relations))) for row in rows]


def _call(function: Callable[..., Any], *arguments: Any) -> Any:
    """Run one task (module level: tasks are pickled)."""
    return function(*arguments)


def _min_d_cell(n_subjects: int, n_relations: int, search: Search) -> int:
    """The measured minimum dimension of one (N, R)."""
    return measure_min_dimension(n_subjects, n_relations, **search.options()).d


def _transition_cell(
    n_subjects: int,
    n_relations: int,
    dims: list[int],
    layout: str,
    codebook: str,
    seeds: tuple[int, ...],
    sample: int | None,
    memory_budget: int,
) -> list[TransitionRow]:
    """The rows of one (N, R, d)."""
    return transition(
        n_subjects,
        n_relations,
        dims,
        layout=layout,
        codebook=codebook,
        seeds=seeds,
        sample=sample,
        memory_budget=memory_budget,
    )
