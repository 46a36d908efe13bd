"""The phase transition: recall accuracy against d, beside the predicted and the measured minimum.

Random codes build at every d that can be assembled (``required_dimension``), and the proof only
speaks from ``proven_dimension`` on. :func:`transition` measures what happens in between: for
each d it builds the construction on every seed, runs recall (every query where the verification
policy's work limit allows, otherwise its seeded sample, labelled as such with its exact interval)
and reports the accuracy's mean, minimum and maximum over the seeds beside the predicted accuracy
(:mod:`~geoconstruct.analysis.theory.prediction`), ``R·log2 N`` and ``d / (R·log2 N)``.
:func:`transition_table` sweeps it over sizes on any :class:`concurrent.futures.Executor`, one
task per (N, R, d) and one per (N, R) for the measured minimum dimension
(:func:`~geoconstruct.analysis.measurement.dimension_search.measure_min_dimension`), which every row
carries with its basis (``every_fact`` or ``sampled``), the prediction, and the search's work and
time. Constructions run in float32, as a trained model would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.measurement.dimension_search import (
    DEFAULT_SEEDS,
    MinDimension,
    Search,
    measure_min_dimension,
)
from geoconstruct.analysis.measurement.sweeps import run_cells, size_cost
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.analysis.theory.prediction import has_prediction, predicted_accuracy
from geoconstruct.constructions.single_hop import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    construct_single_hop,
    proven_dimension,
    required_dimension,
)
from geoconstruct.verification.evaluation import ProgressCallback
from geoconstruct.verification.policy import (
    ACCURACY_WORK_LIMIT,
    EXACT_WORK_LIMIT,
    SAMPLE_SIZE,
    query_work,
    sample_for,
)

__all__ = [
    "DEFAULT_RATIOS",
    "TransitionRow",
    "transition",
    "transition_dims",
    "transition_table",
]

DEFAULT_RATIOS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
"""The d / (R·log2 N) at which :func:`transition_table` measures when no dims are given."""


@dataclass(frozen=True)
class TransitionRow:
    """Recall at one d, over seeds, beside the prediction and the measured and proved minimum.

    ``accuracy_*`` are over the seeds; ``accuracy_basis`` says whether every query of every seed
    went through the forward pass (``"every_fact"``) or a seeded sample of ``sampled_queries``
    did (``"sampled"``; ``sample_low``/``sample_high`` the widest 95 % interval over the seeds).
    ``predicted_accuracy`` is the estimate at d (None where it does not cover the layout and
    codebook). ``min_d`` is the smallest d at which every seed recalls every fact at every code
    length up to the upper bracket (:func:`~geoconstruct.analysis.measurement.dimension_search.
    measure_min_dimension`), with ``min_d_basis``, ``predicted_min_d``, and, for a sampled min d,
    the 95 % upper bounds on the failing share and the expected failing facts of a seed.
    ``multiply_adds`` and ``seconds`` are the row's own recall work; ``min_d_multiply_adds`` and
    ``min_d_seconds`` the search's.
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
        ("predicted accuracy", "predicted_accuracy", "{:.4f}"),
        ("all facts, seeds", "seeds_all_correct", "{}"),
        ("basis", "accuracy_basis", "{}"),
        ("sampled queries", "sampled_queries", "{:,}"),
        ("min d", "min_d", "{}"),
        ("min d basis", "min_d_basis", "{}"),
        ("predicted min d", "predicted_min_d", "{}"),
        ("min d / R·log2 N", "min_d_over_r_log2_n", "{:.2f}"),
        ("proven d", "proven_d", "{}"),
        ("proven d / R·log2 N", "proven_d_over_r_log2_n", "{:.2f}"),
        ("multiply-adds", "multiply_adds", "{:.2e}"),
        ("seconds", "seconds", "{:.1f}"),
        ("min d multiply-adds", "min_d_multiply_adds", "{:.2e}"),
        ("min d seconds", "min_d_seconds", "{:.1f}"),
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
    accuracy_basis: str
    sampled_queries: int | None
    sample_low: float | None
    sample_high: float | None
    predicted_accuracy: float | None
    multiply_adds: int
    seconds: float
    min_d: int | None = None
    min_d_basis: str | None = None
    predicted_min_d: int | None = None
    min_d_failing_fraction_upper: float | None = None
    min_d_failing_facts_upper: float | None = None
    min_d_multiply_adds: int | None = None
    min_d_seconds: float | None = None

    @property
    def sampled(self) -> bool:
        return self.accuracy_basis == "sampled"

    @property
    def min_d_over_r_log2_n(self) -> float | None:
        return self.min_d / self.r_log2_n if self.min_d is not None else None

    @property
    def proven_d_over_r_log2_n(self) -> float:
        return self.proven_d / self.r_log2_n

    def with_min_d(self, found: MinDimension | None) -> TransitionRow:
        """This row with the measured minimum of its (N, R) filled in.

        Parameters
        ----------
        found : MinDimension or None
            The search's result for this row's (N, R); None leaves the row's min d empty.
        """
        if found is None:
            return self
        sampled = found.basis == "sampled"
        return replace(
            self,
            min_d=found.d,
            min_d_basis=found.basis,
            predicted_min_d=found.predicted_d,
            min_d_failing_fraction_upper=found.failing_fraction_upper if sampled else None,
            min_d_failing_facts_upper=found.failing_facts_upper if sampled else None,
            min_d_multiply_adds=found.multiply_adds,
            min_d_seconds=found.seconds,
        )


def transition(
    n_subjects: int,
    n_relations: int,
    dims: Iterable[int],
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    sample: int | None = None,
    accuracy_work_limit: int = ACCURACY_WORK_LIMIT,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    backend: str = "numpy",
    device: str = "cpu",
) -> list[TransitionRow]:
    """Accuracy against d for one (N, R): one row per d in ``dims`` (each at least
    ``required_dimension``), over ``seeds``.

    ``sample`` queries per seed are checked (a seeded uniform sample); by default every query,
    unless that exceeds ``accuracy_work_limit`` multiply-adds, where the policy's
    :data:`~geoconstruct.verification.policy.SAMPLE_SIZE` are (the row says ``sampled``).

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    dims : iterable of int
        The d's measured, each at least ``required_dimension``.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.
    seeds : sequence of int
        The seeds measured; each one's construction is checked.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    accuracy_work_limit : int
        Multiply-adds up to which an accuracy row covers every query; beyond it, a labelled sample.
    memory_budget : int
        Bytes the work may take at its peak; a larger request raises MemoryBudgetError first.
    backend : str
        Where the forward pass runs: ``"numpy"`` or ``"torch"``.
    device : str
        The torch device (``"cpu"``, ``"cuda"``); ``"cpu"`` with numpy.

    Examples
    --------
    >>> rows = transition(256, 2, [3, 20, 400], seeds=(0, 1))
    >>> [(row.d, row.accuracy_min < 1.0, row.seeds_all_correct, row.accuracy_basis) for row in rows]
    [(3, True, 0, 'every_fact'), (20, True, 0, 'every_fact'), (400, False, 2, 'every_fact')]
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    seeds = tuple(require_int("seed", seed, minimum=0) for seed in seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    low = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    proven = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    r_log2_n = n_relations * math.log2(n_subjects)
    predicted = has_prediction(layout, codebook)
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
            size = sample
            if size is None:
                size = sample_for(construction, exact_work_limit=accuracy_work_limit)
            reports.append(
                construction.recall(
                    sample=size,
                    seed=seed,
                    memory_budget=memory_budget,
                    backend=backend,
                    device=device,
                )
            )
        accuracies = [report.accuracy for report in reports]
        sampled = any(report.sampled for report in reports)
        intervals = [report.accuracy_interval for report in reports]
        config = construction.config
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
                accuracy_basis="sampled" if sampled else "every_fact",
                sampled_queries=reports[0].n_queries if sampled else None,
                sample_low=min(lower for lower, _ in intervals) if sampled else None,
                sample_high=max(upper for _, upper in intervals) if sampled else None,
                predicted_accuracy=(
                    predicted_accuracy(n_subjects, n_relations, d, layout=layout, codebook=codebook)
                    if predicted
                    else None
                ),
                multiply_adds=query_work(config, sum(report.n_queries for report in reports)),
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

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    ratios : iterable of float
        The d's as multiples of R·log2 N.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.

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
    exact_work_limit: int = EXACT_WORK_LIMIT,
    accuracy_work_limit: int = ACCURACY_WORK_LIMIT,
    backend: str = "numpy",
    device: str = "cpu",
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[TransitionRow]:
    """:func:`transition` for every (N, R), at every d in ``dims`` that the construction accepts
    (by default at :func:`transition_dims` of ``ratios``), one task per cell (a process pool by
    default), with each (N, R)'s measured minimum dimension in its rows
    (:func:`~geoconstruct.analysis.measurement.dimension_search.measure_min_dimension`: every fact
    up to ``exact_work_limit`` multiply-adds a check, beyond it the policy's sample, labelled; the
    accuracy rows cover every query up to ``accuracy_work_limit``). The cells are submitted
    largest first, so that the longest search starts at once; the rows come back in order.

    Parameters
    ----------
    subjects : iterable of int
        The N's, one row (or cell) each.
    relations : iterable of int
        The R's, one row (or cell) each.
    dims : iterable of int, optional
        The d's measured; None takes them from ``ratios``.
    ratios : iterable of float
        The d's as multiples of R·log2 N.
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.
    codebook : str or CodebookFamily
        The attribute codes' family by name (``"gaussian"``, ``"rademacher"``, ``"grid"``,
        ``"bch"``, ``"mub"``) or as a configured family.
    seeds : sequence of int
        The seeds measured; each one's construction is checked.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    measure_min_d : bool
        Also search each (N, R)'s smallest d that recalls every fact on every seed (False: the
        accuracy rows only).
    exact_work_limit : int
        Multiply-adds up to which a check runs every query; beyond it, a labelled sample.
    accuracy_work_limit : int
        Multiply-adds up to which an accuracy row covers every query; beyond it, a labelled sample.
    backend : str
        Where the forward pass runs: ``"numpy"`` or ``"torch"``.
    device : str
        The torch device (``"cpu"``, ``"cuda"``); ``"cpu"`` with numpy.
    executor : concurrent.futures.Executor, optional
        Runs the cells as tasks (a process pool if None; a dask.distributed client's
        ``get_executor()``).
    progress : callable, optional
        Called with 1 as each cell (a min-d search or a d's accuracy) finishes.
    memory_budget : int
        Bytes the work may take at its peak; a larger request raises MemoryBudgetError first.
    """
    sizes = [(n, r) for n in subjects for r in relations]
    given = None if dims is None else list(dims)
    options = (tuple(seeds), sample, accuracy_work_limit, memory_budget, backend, device)
    cells = [
        (n, r, [d], layout, codebook, *options)
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
        sample_size=SAMPLE_SIZE,
        exact_work_limit=exact_work_limit,
        backend=backend,
        device=device,
    )
    searches = [(n, r, search) for n, r in sizes] if measure_min_d else []
    tasks: list[tuple[Any, ...]] = [(_min_d_cell, *cell) for cell in searches]
    tasks += [(_transition_cell, *cell) for cell in cells]
    results = run_cells(_call, tasks, executor, progress, cost=_cost)
    min_ds = dict(zip(sizes, results[: len(searches)], strict=False))
    rows = [row for nested in results[len(searches) :] for row in nested]
    return [row.with_min_d(min_ds.get((row.n_subjects, row.n_relations))) for row in rows]


def _cost(function: Callable[..., Any], n_subjects: int, n_relations: int, *rest: Any) -> float:
    """The order in which cells start: the largest first; a search (many checks) counts twice."""
    return (2.0 if function is _min_d_cell else 1.0) * size_cost(n_subjects, n_relations)


def _call(function: Callable[..., Any], *arguments: Any) -> Any:
    """Run one task (module level: tasks are pickled)."""
    return function(*arguments)


def _min_d_cell(n_subjects: int, n_relations: int, search: Search) -> MinDimension:
    """The measured minimum dimension of one (N, R)."""
    return measure_min_dimension(n_subjects, n_relations, **search.options())


def _transition_cell(
    n_subjects: int,
    n_relations: int,
    dims: list[int],
    layout: str,
    codebook: str,
    seeds: tuple[int, ...],
    sample: int | None,
    accuracy_work_limit: int,
    memory_budget: int,
    backend: str,
    device: str,
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
        accuracy_work_limit=accuracy_work_limit,
        memory_budget=memory_budget,
        backend=backend,
        device=device,
    )
