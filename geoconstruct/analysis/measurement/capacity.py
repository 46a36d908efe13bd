"""Tables of measured dimension and capacity beside the bounds, one cell per task.

:func:`dimension_table` measures, for every (N, R, codebook, format), the smallest ``d`` that
recalls every fact on every seed
(:func:`~geoconstruct.analysis.measurement.dimension_search.measure_min_dimension`)
and sets it beside the proved ``d``, ``R·log2 N`` and the lower bounds at the format's bits.
:func:`capacity_table` measures the largest N each ``d`` holds. The cells run on any
:class:`concurrent.futures.Executor` (a process pool by default; a ``dask.distributed`` client's
``get_executor()`` works unchanged), and :func:`~geoconstruct.analysis.output.tables.render_table`
writes the rows as Markdown, CSV, JSON or LaTeX.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET
from geoconstruct.analysis.measurement.dimension_search import (
    DEFAULT_SEEDS,
    MinDimension,
    Search,
    capacity,
    measure_min_dimension,
    table_codebook,
)
from geoconstruct.analysis.measurement.precision import numeric_format
from geoconstruct.analysis.measurement.sweeps import ProgressCallback, run_cells, size_cost
from geoconstruct.analysis.output.tables import TABLE_FORMATS, Columns, render_table
from geoconstruct.analysis.theory.bounds import (
    global_min_dimension,
    packing_min_code_length,
    per_subject_bits,
    per_subject_min_dimension,
)
from geoconstruct.codes.protocol import coherence
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import DEFAULT_CODEBOOK, DEFAULT_LAYOUT
from geoconstruct.verification.policy import EXACT_WORK_LIMIT, SAMPLE_SIZE

__all__ = [
    "TABLE_FORMATS",
    "CapacityRow",
    "DimensionRow",
    "capacity_table",
    "dimension_table",
    "render_table",
]

GRAM_WORK_LIMIT = 2 * 10**11
"""Most multiply-adds (``N²·k``) a dimension cell spends measuring the coherence of its codes for
the packing bound; beyond it the packing column is left empty."""


@dataclass(frozen=True)
class DimensionRow:
    """One cell of the dimension table. ``min_d`` is None when the cell failed (see ``error``).

    ``d_s`` is the fact-dependent dimension at ``min_d``; the bounds are on ``d_s`` at ``bits``
    bits a parameter: per subject ``⌈R·log2 N / p⌉``, global ``⌈R·log2 N! / (N·p)⌉``. For unit
    codes, ``packing_bound_k`` is the shortest code in which N unit vectors can be as incoherent
    as the measured codes (``measured_coherence``, seed ``seeds[0]``; None beyond
    :data:`GRAM_WORK_LIMIT`). ``min_d_basis`` is ``"every_fact"`` when every query of every
    seed went through the forward pass at and above ``min_d``, ``"sampled"`` when a seeded sample
    of ``sampled_queries`` did; a sampled row gives the 95 % upper bounds on the failing share
    (``failing_fraction_upper``) and on a seed's expected failing facts (``failing_facts_upper``).
    ``predicted_min_d`` is the estimate (None where it does not cover the layout and codebook);
    ``multiply_adds`` and ``seconds`` are the search's.
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("layout", "layout", "{}"),
        ("codebook", "codebook", "{}"),
        ("precision", "precision", "{}"),
        ("min d", "min_d", "{}"),
        ("min d basis", "min_d_basis", "{}"),
        ("predicted min d", "predicted_min_d", "{}"),
        ("proven d", "proven_d", "{}"),
        ("seeds", "n_seeds", "{}"),
        ("R·log2 N", "r_log2_n", "{:.0f}"),
        ("min d / R·log2 N", "min_d_over_r_log2_n", "{:.2f}"),
        ("d_s", "d_s", "{}"),
        ("per-subject bound d_s", "per_subject_bound_d", "{}"),
        ("global bound d_s", "global_bound_d", "{}"),
        ("packing bound k", "packing_bound_k", "{}"),
        ("fact bits / parameter", "bits_per_parameter", "{:.3f}"),
        ("storage efficiency", "storage_efficiency", "{:.3f}"),
        ("sampled queries", "sampled_queries", "{:,}"),
        ("failing facts <=", "failing_facts_upper", "{:.1f}"),
        ("multiply-adds", "multiply_adds", "{:.2e}"),
        ("seconds", "seconds", "{:.1f}"),
    )

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    precision: str
    bits: int
    seeds: tuple[int, ...]
    r_log2_n: float
    per_subject_bound_d: int
    global_bound_d: int
    min_d: int | None = None
    proven_d: int | None = None
    code_length: int | None = None
    d_s: int | None = None
    min_d_over_r_log2_n: float | None = None
    storage_efficiency: float | None = None
    measured_coherence: float | None = None
    packing_bound_k: int | None = None
    min_d_basis: str | None = None
    predicted_min_d: int | None = None
    sampled_queries: int | None = None
    failing_fraction_upper: float | None = None
    failing_facts_upper: float | None = None
    multiply_adds: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def bits_per_parameter(self) -> float | None:
        """Bits of fact information per fact-dependent parameter: ``R·log2 N / d_s``."""
        return self.r_log2_n / self.d_s if self.d_s else None


@dataclass(frozen=True)
class CapacityRow:
    """One cell of the capacity table: the largest N a dimension holds, beside the bound.

    The per-subject bound: a subject's ``d_s <= d`` coordinates of ``p`` bits hold at most
    ``d·p`` bits, and its R attributes need ``R·log2 N``, so ``log2 N <= d·p / R``.
    """

    COLUMNS: ClassVar[Columns] = (
        ("d", "d", "{}"),
        ("R", "n_relations", "{}"),
        ("layout", "layout", "{}"),
        ("codebook", "codebook", "{}"),
        ("precision", "precision", "{}"),
        ("seeds", "n_seeds", "{}"),
        ("capacity N", "capacity", "{:,}"),
        ("log2 capacity", "log2_capacity", "{:.2f}"),
        ("per-subject bound log2 N", "per_subject_bound_log2_n", "{:.1f}"),
        ("seconds", "seconds", "{:.1f}"),
    )

    d: int
    n_relations: int
    layout: str
    codebook: str
    precision: str
    bits: int
    seeds: tuple[int, ...]
    per_subject_bound_log2_n: float
    capacity: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def log2_capacity(self) -> float | None:
        return math.log2(self.capacity) if self.capacity else None


def dimension_cell(n_subjects: int, n_relations: int, search: Search) -> DimensionRow:
    """Compute one row of :func:`dimension_table` (a module-level function: it is pickled)."""
    start = time.perf_counter()
    form = numeric_format(search.precision)
    row = DimensionRow(
        n_subjects=n_subjects,
        n_relations=n_relations,
        layout=resolve_layout(search.layout).name,
        codebook=search.family.name,
        precision=form.name,
        bits=form.bits,
        seeds=tuple(search.seeds),
        r_log2_n=n_relations * math.log2(n_subjects),
        per_subject_bound_d=per_subject_min_dimension(n_subjects, n_relations, form.bits),
        global_bound_d=global_min_dimension(n_subjects, n_relations, form.bits),
    )
    try:
        # a cell already runs in the table's pool: no pool of its own, no bar of its own
        found = measure_min_dimension(
            n_subjects, n_relations, executor="serial", progress=False, **search.options()
        )
        row = _with_measurement(row, found, search)
    except (MemoryError, RuntimeError, ValueError) as error:
        row = replace(row, error=f"{type(error).__name__}: {error}")
    return replace(row, seconds=time.perf_counter() - start)


def _with_measurement(row: DimensionRow, found: MinDimension, search: Search) -> DimensionRow:
    """Fill a row's measured columns from ``found``: d_s, the ratios, the packing bound."""
    d_s = resolve_layout(row.layout).relations.subject_dim(row.n_relations, found.code_length)
    row = replace(
        row,
        min_d=found.d,
        proven_d=found.proven_d,
        code_length=found.code_length,
        d_s=d_s,
        min_d_over_r_log2_n=found.d / row.r_log2_n if row.r_log2_n else None,
        # N·R·log2 N / (N·d_s·p), as precision.storage_efficiency computes it
        storage_efficiency=per_subject_bits(row.n_subjects, row.n_relations) / (d_s * row.bits),
        min_d_basis=found.basis,
        predicted_min_d=found.predicted_d,
        sampled_queries=found.sampled_queries,
        failing_fraction_upper=found.failing_fraction_upper if found.sampled else None,
        failing_facts_upper=found.failing_facts_upper if found.sampled else None,
        multiply_adds=found.multiply_adds,
    )
    if not search.family.unit_norm or row.n_subjects < 2:
        return row
    if row.n_subjects**2 * found.code_length > GRAM_WORK_LIMIT:
        return row
    construction = construct_single_hop(
        row.n_subjects,
        row.n_relations,
        found.d,
        layout=search.layout,
        codebook=search.family,
        seed=found.seeds[0],
        memory_budget=search.memory_budget,
    )
    measured = coherence(np.asarray(construction.codebook.codes))
    return replace(
        row,
        measured_coherence=measured,
        packing_bound_k=packing_min_code_length(row.n_subjects, min(measured, 1.0)),
    )


def capacity_cell(d: int, n_relations: int, max_subjects: int, search: Search) -> CapacityRow:
    """Compute one row of :func:`capacity_table`."""
    start = time.perf_counter()
    form = numeric_format(search.precision)
    layout = resolve_layout(search.layout)
    subject_dim = layout.relations.subject_dim(
        n_relations, max(1, layout.code_length_at(n_relations, d))
    )
    row = CapacityRow(
        d=d,
        n_relations=n_relations,
        layout=layout.name,
        codebook=search.family.name,
        precision=form.name,
        bits=form.bits,
        seeds=tuple(search.seeds),
        per_subject_bound_log2_n=subject_dim * form.bits / n_relations,
    )
    try:
        value = capacity(d, n_relations, max_subjects=max_subjects, **search.options())
        row = replace(row, capacity=value)
    except (MemoryError, RuntimeError, ValueError) as error:
        row = replace(row, error=f"{type(error).__name__}: {error}")
    return replace(row, seconds=time.perf_counter() - start)


def dimension_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    *,
    codebooks: Iterable[str] = (DEFAULT_CODEBOOK,),
    precisions: Iterable[str] = ("float32",),
    layout: str = DEFAULT_LAYOUT,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    sample_size: int = SAMPLE_SIZE,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    backend: str = "numpy",
    device: str = "cpu",
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[DimensionRow]:
    """Measured minimum dimension beside the proof and the bounds, one row per (N, R, codebook,
    precision).

    Parameters
    ----------
    subjects, relations : iterables of int
    codebooks : iterable of str
    precisions : iterable of str
    seeds : sequence of int
        Every seed must recall every fact at ``min_d``.
    sample_size : int
        Queries a check samples where every query would exceed the work limit.
    exact_work_limit : int
        Multiply-adds up to which a check runs every query (the verification policy's limit).

    Returns
    -------
    list of DimensionRow
        In the order of the arguments (N outermost). A cell that cannot be computed (over the
        memory budget, say) has ``min_d=None`` and the reason in ``error``.
    """
    searches = _searches(
        codebooks,
        precisions,
        layout,
        seeds,
        memory_budget,
        sample_size,
        exact_work_limit=exact_work_limit,
        backend=backend,
        device=device,
    )
    cells = [(n, r, search) for n in subjects for r in relations for search in searches]
    return run_cells(dimension_cell, cells, executor, progress, cost=_dimension_cost)


def _dimension_cost(n_subjects: int, n_relations: int, search: Search) -> float:
    """The order in which dimension cells start: the largest first."""
    return size_cost(n_subjects, n_relations)


def capacity_table(
    dimensions: Iterable[int],
    relations: Iterable[int],
    *,
    codebooks: Iterable[str] = (DEFAULT_CODEBOOK,),
    precisions: Iterable[str] = ("float32",),
    layout: str = DEFAULT_LAYOUT,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    max_subjects: int = 2**20,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[CapacityRow]:
    """The largest N each dimension holds, beside the per-subject bound (one row per cell).

    Parameters
    ----------
    dimensions : iterable of int
        The d's; one row for each d, R, codebook and precision.
    relations : iterable of int
        The R's, one row (or cell) each.
    codebooks : iterable of str
        Codebook families by name.
    precisions : iterable of str
        Numeric formats of the fact-dependent weights.
    seeds : sequence of int
        The seeds measured; each one's construction is checked.
    max_subjects : int
        The largest N the search tries.
    """
    searches = _searches(codebooks, precisions, layout, seeds, memory_budget, SAMPLE_SIZE)
    cells = [
        (d, r, max_subjects, search) for d in dimensions for r in relations for search in searches
    ]
    return run_cells(capacity_cell, cells, executor, progress)


def _searches(
    codebooks: Iterable[str],
    precisions: Iterable[str],
    layout: str,
    seeds: Sequence[int],
    memory_budget: int,
    sample_size: int,
    *,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    backend: str = "numpy",
    device: str = "cpu",
) -> list[Search]:
    """One :class:`Search` per (codebook, precision), in that order."""
    return [
        Search(
            layout=_layout_for(layout, codebook),
            codebook=codebook,
            precision=numeric_format(precision).name,
            seeds=tuple(seeds),
            memory_budget=memory_budget,
            sample_size=sample_size,
            exact_work_limit=exact_work_limit,
            backend=backend,
            device=device,
        )
        for codebook in codebooks
        for precision in precisions
    ]


def _layout_for(layout: str, codebook: str) -> str:
    """The layout a cell builds: the one asked for, or ``block`` where it refuses the codebook
    (grid codes in a superposed layout)."""
    layout_object = resolve_layout(layout)
    try:
        layout_object.relations.check_codebook(table_codebook(codebook, "float64"), None)
    except ValueError:
        return "block"
    return layout_object.name
