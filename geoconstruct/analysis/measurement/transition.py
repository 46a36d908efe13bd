"""The phase transition: recall against d, and P(every fact) against d with its d_50 and d_95.

Random codes build at every d that can be assembled (``required_dimension``), and the proof only
speaks from ``proven_dimension`` on. :func:`transition` measures what happens in between: for
each d it builds the construction on every seed, runs recall (every query where the verification
policy's work limit allows, otherwise its seeded sample, labelled as such with its exact interval)
and reports the accuracy's mean, minimum and maximum over the seeds, and the share of seeds that
recall every fact, ``P(every fact)``, with its exact binomial interval, beside the prediction's
accuracy and ``P(every fact)`` (:mod:`~geoconstruct.analysis.theory.prediction`).
:func:`transition_table` sweeps it over sizes on any :class:`concurrent.futures.Executor`, one
task per (N, R, d), and fits each (N, R)'s law (:mod:`~geoconstruct.analysis.measurement.
success_law`): ``d_50`` and ``d_95``, the d at which half and 95 % of the draws recall every fact,
with 95 % intervals, beside the prediction's own. By default it measures at
:func:`law_dims`, around the transition. Constructions run in float32, as a trained model would.

``memory`` chooses what is measured: ``"geometric"`` (the paper's construction, with ``layout``
and ``codebook``), an associative memory at any d with random keys (``"outer_product"``,
``"key_value"``: :func:`~geoconstruct.constructions.baselines.construct_baseline` with ``d``), or
the superposed multi-hop construction (``"multi_hop"``, ``hops`` in ``steps`` passes; a row's
every fact is every chain), through the same verification policy, law and labels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.measurement.dimension_search import DEFAULT_SEEDS
from geoconstruct.analysis.measurement.success_law import (
    SuccessLaw,
    fit_success_law,
    success_interval,
)
from geoconstruct.analysis.measurement.sweeps import run_cells, size_cost
from geoconstruct.analysis.measurement.transition_dims import (
    PASSES,
    smallest_dimension,
    table_cells,
)
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.analysis.theory.prediction import (
    has_prediction,
    predicted_accuracy,
    predicted_success,
    predicted_success_dimension,
)
from geoconstruct.constructions.baselines import (
    MEMORY_LAYOUTS,
    construct_baseline,
)
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.multi_hop import construct_multi_hop
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    proven_dimension,
)
from geoconstruct.verification.evaluation import ProgressCallback
from geoconstruct.verification.policy import (
    ACCURACY_WORK_LIMIT,
    combined_basis,
    measure_recall,
    query_work,
)

__all__ = ["TransitionRow", "transition", "transition_table"]


@dataclass(frozen=True)
class TransitionRow:
    """Recall at one d, over seeds, beside the prediction, and its (N, R)'s fitted law.

    ``accuracy_*`` are over the seeds; ``accuracy_basis`` says whether every query of every seed
    went through the forward pass (``"every_fact"``), was proved by the certificate or went
    through it (``"certified"``), or a seeded sample of ``sampled_queries`` did (``"sampled"``;
    ``sample_low``/``sample_high`` the widest 95 % interval over the seeds).
    ``p_every_fact`` is the share of seeds that recalled every fact (``seeds_all_correct`` of
    the seeds), ``p_low``/``p_high`` its exact 95 % binomial interval; ``predicted_accuracy`` and
    ``predicted_p_every_fact`` are the estimate at d (None where it does not cover the layout and
    codebook). ``d50``, ``d95`` and their ``_low``/``_high`` bounds are the (N, R)'s fitted law
    over every d of the table (:func:`~geoconstruct.analysis.measurement.success_law.
    fit_success_law`; ``law_note`` says why one is missing or extrapolated), beside the
    estimate's ``predicted_d50`` and ``predicted_d95``. ``multiply_adds`` and ``seconds`` are the
    row's own recall work; ``law_multiply_adds`` and ``law_seconds`` those of every row of its
    (N, R).
    """

    COLUMNS: ClassVar[Columns] = (
        ("memory", "memory", "{}"),
        ("H / L", "hops_steps", "{}"),
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("d", "d", "{}"),
        ("d / R·log2 N", "d_over_r_log2_n", "{:.2f}"),
        ("accuracy mean", "accuracy_mean", "{:.4f}"),
        ("min", "accuracy_min", "{:.4f}"),
        ("predicted accuracy", "predicted_accuracy", "{:.4f}"),
        ("all facts, seeds", "seeds_all_correct", "{}"),
        ("P(every fact)", "p_every_fact", "{:.2f}"),
        ("95 % interval", "p_interval", "{}"),
        ("predicted P", "predicted_p_every_fact", "{:.2f}"),
        ("basis", "accuracy_basis", "{}"),
        ("d_50 [95 %]", "d50_text", "{}"),
        ("predicted d_50", "predicted_d50", "{}"),
        ("d_95 [95 %]", "d95_text", "{}"),
        ("predicted d_95", "predicted_d95", "{}"),
        ("proven d", "proven_d", "{}"),
        ("parameters", "parameters", "{:,}"),
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
    proven_d: int | None
    seeds: tuple[int, ...]
    accuracy_mean: float
    accuracy_min: float
    accuracy_max: float
    seeds_all_correct: int
    p_every_fact: float
    p_low: float
    p_high: float
    accuracy_basis: str
    sampled_queries: int | None
    sample_low: float | None
    sample_high: float | None
    predicted_accuracy: float | None
    predicted_p_every_fact: float | None
    multiply_adds: int
    seconds: float
    d50: float | None = None
    d50_low: float | None = None
    d50_high: float | None = None
    d95: float | None = None
    d95_low: float | None = None
    d95_high: float | None = None
    predicted_d50: int | None = None
    predicted_d95: int | None = None
    law_note: str | None = None
    law_multiply_adds: int | None = None
    law_seconds: float | None = None
    memory: str = "geometric"
    parameters: int | None = None
    fact_dependent_parameters: int | None = None
    hops: int = 1
    steps: int = 1

    @property
    def hops_steps(self) -> str:
        return f"{self.hops} / {self.steps}"

    @property
    def sampled(self) -> bool:
        return self.accuracy_basis == "sampled"

    @property
    def proven_d_over_r_log2_n(self) -> float | None:
        return None if self.proven_d is None else self.proven_d / self.r_log2_n

    @property
    def p_interval(self) -> str:
        return f"{self.p_low:.2f}-{self.p_high:.2f}"

    @property
    def d50_text(self) -> str | None:
        return _quantile_text(self.d50, self.d50_low, self.d50_high)

    @property
    def d95_text(self) -> str | None:
        return _quantile_text(self.d95, self.d95_low, self.d95_high)

    def with_law(self, law: SuccessLaw, rows: Sequence[TransitionRow]) -> TransitionRow:
        """This row with its (N, R)'s fitted law, the prediction's d_50 and d_95, and the work
        of ``rows`` (every row of the (N, R)).

        Parameters
        ----------
        law : SuccessLaw
            The law fitted to ``rows``.
        rows : sequence of TransitionRow
            Every row of this row's (N, R).
        """
        predicted50 = predicted95 = None
        if self.predicted_accuracy is not None:
            predicted50, predicted95 = (
                predicted_success_dimension(
                    self.n_subjects,
                    self.n_relations,
                    q,
                    layout=self.layout,
                    codebook=self.codebook,
                    memory=self.memory,
                    hops=self.hops,
                    steps=self.steps,
                )
                for q in (0.5, 0.95)
            )
        return replace(
            self,
            d50=law.d50,
            d50_low=law.d50_low,
            d50_high=law.d50_high,
            d95=law.d95,
            d95_low=law.d95_low,
            d95_high=law.d95_high,
            law_note=law.note,
            law_multiply_adds=sum(row.multiply_adds for row in rows),
            law_seconds=sum(row.seconds for row in rows),
            predicted_d50=predicted50,
            predicted_d95=predicted95,
        )


def _quantile_text(value: float | None, low: float | None, high: float | None) -> str | None:
    """``"214 [210, 219]"``, an open end shown as ``?``."""
    if value is None:
        return None
    ends = ["?" if end is None else f"{end:.0f}" for end in (low, high)]
    return f"{value:.0f} [{ends[0]}, {ends[1]}]"


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
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> list[TransitionRow]:
    """Accuracy against d for one (N, R): one row per d in ``dims`` (each at least
    ``required_dimension``), over ``seeds``.

    ``sample`` queries per seed are checked (a seeded uniform sample); by default every query,
    unless that exceeds ``accuracy_work_limit`` multiply-adds, where the policy's
    :data:`~geoconstruct.verification.policy.SAMPLE_SIZE` are (the row says ``sampled``).

    Parameters
    ----------
    dims : iterable of int
        The d's measured, each at least ``required_dimension``.
    seeds : sequence of int
        The seeds measured; each one's construction is checked.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    accuracy_work_limit : int
        Multiply-adds up to which an accuracy row covers every query; beyond it, a labelled sample.

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
    low = smallest_dimension(n_subjects, n_relations, layout, codebook, memory, hops, steps)
    proven = (
        proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
        if memory == "geometric"
        else None
    )
    r_log2_n = n_relations * math.log2(n_subjects)
    predicted = has_prediction(layout, codebook, memory)
    chains = {"hops": hops, "steps": steps}

    def estimate(at: Callable[..., float], d: int) -> float | None:
        if not predicted:
            return None
        return at(
            n_subjects, n_relations, d, layout=layout, codebook=codebook, memory=memory, **chains
        )

    rows = []
    for d in dims:
        d = require_int("d", d, minimum=low)
        start = time.perf_counter()
        reports = []
        for seed in seeds:
            construction = _build(
                memory, n_subjects, n_relations, d, layout, codebook, seed, memory_budget, **chains
            )
            reports.append(
                measure_recall(
                    construction,
                    seed=seed,
                    work_limit=accuracy_work_limit,
                    sample=sample,
                    memory_budget=memory_budget,
                    backend=backend,
                    device=device,
                )
            )
        accuracies = [report.accuracy for report in reports]
        passing = sum(report.all_correct for report in reports)
        p_low, p_high = success_interval(passing, len(seeds))
        sampled = any(report.sampled for report in reports)
        intervals = [report.accuracy_interval for report in reports]
        config = construction.config
        rows.append(
            TransitionRow(
                memory=memory,
                hops=hops,
                steps=steps,
                parameters=construction.parameter_count.total,
                fact_dependent_parameters=construction.parameter_count.fact_dependent,
                n_subjects=n_subjects,
                n_relations=n_relations,
                layout=(
                    construction.metadata.layout.name
                    if memory == "geometric"
                    else MEMORY_LAYOUTS.get(memory, "superposed")
                ),
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
                seeds_all_correct=passing,
                p_every_fact=passing / len(seeds),
                p_low=p_low,
                p_high=p_high,
                accuracy_basis=combined_basis(report.basis for report in reports),
                sampled_queries=reports[0].n_queries if sampled else None,
                sample_low=min(lower for lower, _ in intervals) if sampled else None,
                sample_high=max(upper for _, upper in intervals) if sampled else None,
                predicted_accuracy=estimate(predicted_accuracy, d),
                predicted_p_every_fact=estimate(predicted_success, d),
                multiply_adds=query_work(config, sum(report.n_queries for report in reports)),
                seconds=time.perf_counter() - start,
            )
        )
    return rows


def _build(
    memory: str,
    n_subjects: int,
    n_relations: int,
    d: int,
    layout: str,
    codebook: str,
    seed: int,
    memory_budget: int,
    hops: int = 1,
    steps: int = 1,
) -> Construction:
    """One float32 construction of ``memory`` at ``d``."""
    if memory == "geometric":
        return construct_single_hop(
            n_subjects,
            n_relations,
            d,
            layout=layout,
            codebook=codebook,
            seed=seed,
            dtype="float32",
            memory_budget=memory_budget,
        )
    if memory == "multi_hop":
        return construct_multi_hop(
            n_subjects,
            n_relations,
            hops,
            steps,
            d,
            layout="superposed",
            codebook=codebook,
            seed=seed,
            dtype="float32",
            memory_budget=memory_budget,
        )
    return construct_baseline(
        n_subjects,
        n_relations,
        memory,
        d,
        codebook=codebook,
        seed=seed,
        dtype="float32",
        memory_budget=memory_budget,
    )


def transition_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    dims: Iterable[int] | None = None,
    *,
    ratios: Iterable[float] | None = None,
    layout: str = DEFAULT_LAYOUT,
    codebook: str = DEFAULT_CODEBOOK,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    sample: int | None = None,
    accuracy_work_limit: int = ACCURACY_WORK_LIMIT,
    backend: str = "numpy",
    device: str = "cpu",
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    memories: Sequence[str] = ("geometric",),
    hops: Sequence[int] = (2,),
    passes: Sequence[str] = PASSES,
) -> list[TransitionRow]:
    """:func:`transition` for every memory and (N, R), at every d in ``dims`` that it accepts
    (by default at :func:`law_dims`, or at :func:`transition_dims` of ``ratios``), one task per
    cell (a process pool by default), with each (N, R)'s fitted law of ``P(every fact)`` in its
    rows (``d50``, ``d95`` and their intervals, beside the prediction's). The cells are submitted
    largest first; the rows come back in order.

    Parameters
    ----------
    subjects : iterable of int
        The N's, one row (or cell) each.
    relations : iterable of int
        The R's, one row (or cell) each.
    dims : iterable of int, optional
        The d's measured; None takes them from ``ratios``, or from :func:`law_dims`.
    ratios : iterable of float, optional
        The d's as multiples of R·log2 N.
    seeds : sequence of int
        The seeds measured; each one's construction is checked.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    accuracy_work_limit : int
        Multiply-adds up to which a row covers every query; beyond it, a labelled sample.
    memories : sequence of str
        The memories measured (:data:`~geoconstruct.analysis.theory.prediction.MEMORIES`).
    hops : sequence of int
        The H's of ``"multi_hop"``.
    passes : sequence of {"chain", "single"}
        How ``"multi_hop"`` answers each H: by chain of thought (L = H), in a single pass (L = 1).
    """
    given = None if dims is None else list(dims)
    grid = table_cells(subjects, relations, given, ratios, layout, codebook, memories, hops, passes)
    options = (tuple(seeds), sample, accuracy_work_limit, memory_budget, backend, device)
    cells = [(n, r, [d], layout, codebook, *options, m, h, s) for m, h, s, n, r, d in grid]
    tasks: list[tuple[Any, ...]] = [(_transition_cell, *cell) for cell in cells]
    results = run_cells(_call, tasks, executor, progress, cost=_cost)
    rows = [row for nested in results for row in nested]
    fitted = []
    for size in dict.fromkeys(cell[:5] for cell in grid):
        own = [
            row
            for row in rows
            if (row.memory, row.hops, row.steps, row.n_subjects, row.n_relations) == size
        ]
        law = fit_success_law(
            [row.d for row in own],
            [row.seeds_all_correct for row in own],
            [len(row.seeds) for row in own],
        )
        fitted += [row.with_law(law, own) for row in own]
    return fitted


def _cost(function: Callable[..., Any], n_subjects: int, n_relations: int, *rest: Any) -> float:
    """The order in which cells start: the largest first."""
    return size_cost(n_subjects, n_relations)


def _call(function: Callable[..., Any], *arguments: Any) -> Any:
    """Run one task (module level: tasks are pickled)."""
    return function(*arguments)


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
    memory: str,
    hops: int,
    steps: int,
) -> list[TransitionRow]:
    """The rows of one (memory, H, L, N, R, d)."""
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
        memory=memory,
        hops=hops,
        steps=steps,
    )
