"""The phase transition: recall accuracy against d, below and up to the proved dimension.

Random codes build at every d that can be assembled (``required_dimension``), and the proof only
speaks from ``proven_dimension`` on. :func:`transition` measures what happens in between: for
each d it builds the construction on every seed, runs recall (every query, or a seeded sample
with its exact interval) and reports the accuracy's mean, minimum and maximum over the seeds,
beside ``R·log2 N`` and the ratio ``d / (R·log2 N)``. :func:`transition_table` sweeps it over
sizes on any :class:`concurrent.futures.Executor`, one cell per (N, R, d).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.capacity import run_cells
from geoconstruct.analysis.tables import Columns
from geoconstruct.constructions.single_hop import (
    construct_single_hop,
    proven_dimension,
    required_dimension,
)
from geoconstruct.verification.evaluation import ProgressCallback

__all__ = ["TransitionRow", "transition", "transition_table"]


@dataclass(frozen=True)
class TransitionRow:
    """Recall at one d, over seeds: the share of facts recalled, and whether the proof holds.

    ``accuracy_*`` are over the seeds; with ``sample`` each seed checks that many seeded queries
    and ``sample_low``/``sample_high`` are the widest 95 % interval over the seeds (None when
    every query was checked).
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("d", "d", "{}"),
        ("k", "code_length", "{}"),
        ("R·log2 N", "r_log2_n", "{:.1f}"),
        ("d / R·log2 N", "d_over_r_log2_n", "{:.2f}"),
        ("proven d", "proven_d", "{}"),
        ("accuracy mean", "accuracy_mean", "{:.4f}"),
        ("min", "accuracy_min", "{:.4f}"),
        ("max", "accuracy_max", "{:.4f}"),
        ("all facts, seeds", "seeds_all_correct", "{}"),
        ("seconds", "seconds", "{:.2f}"),
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
    sampled: bool
    sample_low: float | None
    sample_high: float | None
    seconds: float


def transition(
    n_subjects: int,
    n_relations: int,
    dims: Iterable[int],
    *,
    layout: str = "superposed",
    codebook: str = "gaussian",
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    sample: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[TransitionRow]:
    """Accuracy against d for one (N, R): one row per d in ``dims`` (each at least
    ``required_dimension``), over ``seeds``.

    Examples
    --------
    >>> rows = transition(256, 2, [6, 40, 400], seeds=(0, 1))
    >>> [(row.d, row.accuracy_min < 1.0, row.seeds_all_correct) for row in rows]
    [(6, True, 0), (40, True, 0), (400, False, 2)]
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
                memory_budget=memory_budget,
            )
            reports.append(
                construction.recall(sample=sample, seed=seed, memory_budget=memory_budget)
            )
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
                sampled=sampled,
                sample_low=min(lower for lower, _ in intervals) if sampled else None,
                sample_high=max(upper for _, upper in intervals) if sampled else None,
                seconds=time.perf_counter() - start,
            )
        )
    return rows


def transition_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    dims: Iterable[int],
    *,
    layout: str = "superposed",
    codebook: str = "gaussian",
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    sample: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[TransitionRow]:
    """:func:`transition` for every (N, R) and every d in ``dims`` that the construction accepts
    for that (N, R), one task per cell (a process pool by default)."""
    cells = [
        (n, r, [d], layout, codebook, tuple(seeds), sample, memory_budget)
        for n in subjects
        for r in relations
        for d in dims
        if d >= required_dimension(n, r, layout=layout, codebook=codebook)
    ]
    nested = run_cells(_transition_cell, cells, executor, progress)
    return [row for rows in nested for row in rows]


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
    """One cell of :func:`transition_table` (module level: it is pickled)."""
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
