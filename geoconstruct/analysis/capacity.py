"""Dimension search, capacity sweeps, and tables of capacity against dimension beside the bounds.

:func:`min_dimension` finds the smallest ``d`` whose construction, with its fact-dependent
parameters stored in a numeric format, recalls every fact (on every seed given). Recall is judged
as everywhere in the library: the certificate where it proves a fact, the forward pass for the
rest. :func:`capacity` is the inverse: the largest N a dimension holds. :func:`dimension_table`
and :func:`capacity_table` sweep these over sizes, codebooks and formats, one cell per task on any
:class:`concurrent.futures.Executor` (a process pool by default; a ``dask.distributed`` client's
``get_executor()`` works unchanged), and :func:`render_table` writes the rows as Markdown, CSV,
JSON or LaTeX.

Grid codes take their digit width from an integer format (``int4`` stores 4-bit digits exactly);
with a float format they keep the family's default (8-bit digits, exact in every float format).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.bounds import (
    construction_subject_dimension,
    global_min_dimension,
    per_subject_bits,
    per_subject_min_dimension,
)
from geoconstruct.analysis.precision import numeric_format, quantize_construction
from geoconstruct.analysis.tables import TABLE_FORMATS, Columns, render_table
from geoconstruct.codes.codebooks import (
    CodebookFamily,
    GaussianCodes,
    GridCodes,
    RademacherCodes,
    resolve_codebook,
)
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.constructions.single_hop import (
    code_length_at,
    code_length_for,
    construct_single_hop,
    dimension_for,
    proven_dimension,
)

__all__ = [
    "TABLE_FORMATS",
    "CapacityRow",
    "DimensionRow",
    "capacity",
    "capacity_table",
    "dimension_table",
    "min_dimension",
    "recalls_at",
    "render_table",
    "run_cells",
    "run_dtype",
    "table_codebook",
]

FALLBACK_LOGITS = 10**10
"""Most logits (queries times d_vocab) a cell's forward pass may compute for queries the certificate
leaves open; beyond it the cell reports an error instead of running for hours."""

GRAM_WORK_LIMIT = 5 * 10**10
"""Most multiply-adds (``N²·k``) a table cell spends on one random codebook's Gram matrix. Drawing
gaussian or rademacher codes checks their coherence, and the certificate checks it again; beyond
this a cell reports the cost as its error at once instead of running for minutes to hours."""

MAX_CODE_STEPS = 64
"""How many longer codes :func:`min_dimension` tries past the construction's minimum."""

ProgressCallback = Callable[[int], None]


def table_codebook(codebook: str | CodebookFamily, precision: str) -> CodebookFamily:
    """The codebook family a table cell builds: grid digits as wide as an integer format.

    Examples
    --------
    >>> table_codebook("grid", "int4"), table_codebook("grid", "float32")
    (GridCodes(bits=4), GridCodes(bits=8))
    """
    family = resolve_codebook(codebook)
    form = numeric_format(precision)
    if isinstance(family, GridCodes) and form.integer:
        return GridCodes(bits=form.bits)
    return family


def run_dtype(family: CodebookFamily, code_length: int, precision: str) -> str:
    """The dtype a table cell runs in: float32 for formats of at most 32 bits, unless the codes
    are not exact there (wide grid codes, ``proofs/block_recall.md``); float64 otherwise.

    Examples
    --------
    >>> run_dtype(GridCodes(bits=8), 2, "int8"), run_dtype(GridCodes(bits=16), 1, "int16")
    ('float32', 'float64')
    """
    if numeric_format(precision).bits > 32:
        return "float64"
    try:
        family.check_dtype(max(code_length, 1), "float32")
    except ValueError:
        return "float64"
    return "float32"


def recalls_at(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    precision: str = "float32",
    seeds: Sequence[int] = (0,),
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> bool:
    """Whether the construction at ``d``, quantised to ``precision``, recalls every fact.

    False when ``d`` is below what the construction accepts, or when any seed misses a fact.
    Recall is certified, with the forward pass on what the certificate leaves open; a
    ``RuntimeError`` says when that would exceed :data:`FALLBACK_LOGITS`.
    """
    family = table_codebook(codebook, precision)
    code_length = resolve_layout(layout).code_length_at(n_relations, d)
    dtype = run_dtype(family, code_length, precision)
    for seed in seeds:
        try:
            construction = construct_single_hop(
                n_subjects,
                n_relations,
                d,
                layout=layout,
                codebook=family,
                seed=seed,
                dtype=dtype,
                memory_budget=memory_budget,
            )
        except ValueError as error:
            if "requires d >=" in str(error):
                return False
            raise
        quantized = quantize_construction(construction, precision)
        # the forward pass may check what the certificate leaves open, within a work limit
        max_fallback = FALLBACK_LOGITS // quantized.config.d_vocab
        report = quantized.recall(
            method="certified", memory_budget=memory_budget, max_fallback=max_fallback
        )
        if not report.all_correct:
            return False
    return True


def min_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    precision: str = "float32",
    seeds: Sequence[int] = (0,),
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> int:
    """The smallest ``d`` whose construction recalls every fact on every seed, at ``precision``.

    Starts at :func:`~geoconstruct.proven_dimension` (the smallest d with a proof) and tries
    longer codes until recall holds on every seed.

    Raises
    ------
    RuntimeError
        If :data:`MAX_CODE_STEPS` longer codes all fail (a format too coarse for the codes).

    Examples
    --------
    >>> min_dimension(4096, 4, precision="int8"), min_dimension(4096, 4, precision="int4")
    (14, 19)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    family = table_codebook(codebook, precision)
    shortest = code_length_for(n_subjects, n_relations, layout=layout, codebook=family)
    for code_length in range(shortest, shortest + MAX_CODE_STEPS):
        d = dimension_for(layout, n_relations, code_length)
        if recalls_at(
            n_subjects,
            n_relations,
            d,
            layout=layout,
            codebook=family,
            precision=precision,
            seeds=seeds,
            memory_budget=memory_budget,
        ):
            return d
    raise RuntimeError(
        f"no construction with code length {shortest}..{shortest + MAX_CODE_STEPS - 1} recalls "
        f"every fact at precision {precision}"
    )


def capacity(
    d: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    precision: str = "float32",
    seeds: Sequence[int] = (0,),
    max_subjects: int = 2**20,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> int:
    """The largest ``N <= max_subjects`` whose :func:`min_dimension` is at most ``d`` (0: none).

    The construction's minimum dimension grows with N, so the largest N it accepts at ``d`` is
    found by bisection; recall is then checked there and, should it fail, the bisection continues
    below on :func:`recalls_at`.

    Examples
    --------
    >>> capacity(14, 4), capacity(14, 4, precision="int4")   # k = 2 digits of 8 or 4 bits
    (65536, 256)
    """
    d = require_int("d", d, minimum=1)
    max_subjects = require_int("max_subjects", max_subjects, minimum=1)
    family = table_codebook(codebook, precision)

    def accepted(n: int) -> bool:
        return proven_dimension(n, n_relations, layout=layout, codebook=family) <= d

    def recalled(n: int) -> bool:
        return recalls_at(
            n,
            n_relations,
            d,
            layout=layout,
            codebook=family,
            precision=precision,
            seeds=seeds,
            memory_budget=memory_budget,
        )

    largest = _largest_true(accepted, max_subjects)
    if largest == 0 or recalled(largest):
        return largest
    return _largest_true(recalled, largest - 1)


def _largest_true(predicate: Callable[[int], bool], upper: int) -> int:
    """The largest n in [1, upper] with predicate(n), for a predicate true up to a point; else 0."""
    if upper < 1 or not predicate(1):
        return 0
    low, high = 1, upper
    while low < high:
        middle = (low + high + 1) // 2
        if predicate(middle):
            low = middle
        else:
            high = middle - 1
    return low


# --- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionRow:
    """One cell of the dimension table. ``min_d`` is None when the cell failed (see ``error``).

    ``d_s`` is the fact-dependent dimension at ``min_d``; the bounds are on ``d_s`` at ``bits``
    bits a parameter: per subject ``⌈R·log2 N / p⌉``, global ``⌈R·log2 N! / (N·p)⌉``.
    """

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("codebook", "codebook", "{}"),
        ("precision", "precision", "{}"),
        ("min d", "min_d", "{}"),
        ("d_s", "d_s", "{}"),
        ("construction bound d", "construction_bound_d", "{}"),
        ("per-subject bound d_s", "per_subject_bound_d", "{}"),
        ("global bound d_s", "global_bound_d", "{}"),
        ("d_s / per-subject", "ratio_to_per_subject", "{:.2f}"),
        ("storage efficiency", "storage_efficiency", "{:.3f}"),
        ("seconds", "seconds", "{:.2f}"),
    )

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    precision: str
    bits: int
    min_d: int | None
    d_s: int | None
    construction_bound_d: int | None
    construction_formula: str
    per_subject_bound_d: int
    global_bound_d: int
    ratio_to_per_subject: float | None
    storage_efficiency: float | None
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class CapacityRow:
    """One cell of the capacity table: the largest N a dimension holds, beside the bound's N."""

    COLUMNS: ClassVar[Columns] = (
        ("d", "d", "{}"),
        ("R", "n_relations", "{}"),
        ("codebook", "codebook", "{}"),
        ("precision", "precision", "{}"),
        ("capacity N", "capacity", "{:,}"),
        ("per-subject bound N", "per_subject_bound_capacity", "{:,}"),
        ("seconds", "seconds", "{:.2f}"),
    )

    d: int
    n_relations: int
    layout: str
    codebook: str
    precision: str
    bits: int
    capacity: int | None
    per_subject_bound_capacity: int
    seconds: float
    error: str | None = None


def dimension_cell(
    n_subjects: int,
    n_relations: int,
    layout: str,
    codebook: str,
    precision: str,
    seeds: tuple[int, ...],
    memory_budget: int,
) -> DimensionRow:
    """Compute one row of :func:`dimension_table` (a module-level function: it is pickled)."""
    start = time.perf_counter()
    form = numeric_format(precision)
    family = table_codebook(codebook, precision)
    bound_bits = form.bits
    row = DimensionRow(
        n_subjects=n_subjects,
        n_relations=n_relations,
        layout=layout,
        codebook=codebook,
        precision=form.name,
        bits=bound_bits,
        min_d=None,
        d_s=None,
        construction_bound_d=None,
        construction_formula="",
        per_subject_bound_d=per_subject_min_dimension(n_subjects, n_relations, bound_bits),
        global_bound_d=global_min_dimension(n_subjects, n_relations, bound_bits),
        ratio_to_per_subject=None,
        storage_efficiency=None,
        seconds=0.0,
    )
    try:
        bound_d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=family)
        _, formula = construction_subject_dimension(
            n_subjects, n_relations, layout=layout, codebook=family
        )
        row = replace(row, construction_bound_d=bound_d, construction_formula=formula)
        _require_verifiable(n_subjects, n_relations, layout, family)
        d = min_dimension(
            n_subjects,
            n_relations,
            layout=layout,
            codebook=family,
            precision=precision,
            seeds=seeds,
            memory_budget=memory_budget,
        )
        # d_s at d, without building again: R·k (block) or k (superposed)
        code_length = code_length_at(layout, n_relations, d)
        d_s = resolve_layout(layout).subject_dim(n_relations, code_length)
        row = replace(
            row,
            min_d=d,
            d_s=d_s,
            ratio_to_per_subject=d_s / max(1, row.per_subject_bound_d),
            # N·R·log2 N / (N·d_s·p), as precision.storage_efficiency computes it
            storage_efficiency=per_subject_bits(n_subjects, n_relations) / (d_s * bound_bits),
        )
    except (MemoryError, RuntimeError, ValueError) as error:
        row = replace(row, error=f"{type(error).__name__}: {error}")
    return replace(row, seconds=time.perf_counter() - start)


def _require_verifiable(
    n_subjects: int, n_relations: int, layout: str, family: CodebookFamily
) -> None:
    """Refuse, before any work, a random codebook whose Gram matrix exceeds GRAM_WORK_LIMIT."""
    if not isinstance(family, GaussianCodes | RademacherCodes):
        return
    code_length = code_length_for(n_subjects, n_relations, layout=layout, codebook=family)
    work = n_subjects**2 * code_length
    if work > GRAM_WORK_LIMIT:
        raise RuntimeError(
            f"not run: the Gram matrix of {n_subjects:,} random codes of length {code_length} "
            f"is N²·k = {work:.1e} multiply-adds (limit {GRAM_WORK_LIMIT:.0e})"
        )


def capacity_cell(
    d: int,
    n_relations: int,
    layout: str,
    codebook: str,
    precision: str,
    seeds: tuple[int, ...],
    max_subjects: int,
    memory_budget: int,
) -> CapacityRow:
    """Compute one row of :func:`capacity_table`."""
    start = time.perf_counter()
    form = numeric_format(precision)
    # the per-subject bound: d_s·p >= R·log2 N with at most d_s = d coordinates for subjects
    bound_log2 = d * form.bits / n_relations
    bound = 2 ** min(int(bound_log2), 62)
    row = CapacityRow(d, n_relations, layout, codebook, form.name, form.bits, None, bound, 0.0)
    try:
        value = capacity(
            d,
            n_relations,
            layout=layout,
            codebook=codebook,
            precision=precision,
            seeds=seeds,
            max_subjects=max_subjects,
            memory_budget=memory_budget,
        )
        row = replace(row, capacity=value)
    except (MemoryError, RuntimeError, ValueError) as error:
        row = replace(row, error=f"{type(error).__name__}: {error}")
    return replace(row, seconds=time.perf_counter() - start)


def dimension_table(
    subjects: Iterable[int],
    relations: Iterable[int],
    *,
    codebooks: Iterable[str] = ("grid",),
    precisions: Iterable[str] = ("float32",),
    layout: str = "block",
    seeds: Sequence[int] = (0,),
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[DimensionRow]:
    """Measured minimum dimension beside the bounds, one row per (N, R, codebook, precision).

    Parameters
    ----------
    subjects, relations : iterables of int
    codebooks : iterable of str
    precisions : iterable of str
    layout : {"block", "superposed"}
    seeds : sequence of int
        Random codebooks must recall on every seed.
    executor : concurrent.futures.Executor, optional
        Runs the cells; a process pool with one worker per core by default (closed afterwards).
    progress : callable, optional
        Called with 1 after each finished cell.
    memory_budget : int
        Per construction and recall.

    Returns
    -------
    list of DimensionRow, in the order of the arguments (N outermost). A cell that cannot be
    computed (over the memory budget, say) has ``min_d=None`` and the reason in ``error``.
    """
    layout = resolve_layout(layout).name
    cells = [
        (n, r, layout, codebook, numeric_format(precision).name, tuple(seeds), memory_budget)
        for n in subjects
        for r in relations
        for codebook in codebooks
        for precision in precisions
    ]
    return run_cells(dimension_cell, cells, executor, progress)


def capacity_table(
    dimensions: Iterable[int],
    relations: Iterable[int],
    *,
    codebooks: Iterable[str] = ("grid",),
    precisions: Iterable[str] = ("float32",),
    layout: str = "block",
    seeds: Sequence[int] = (0,),
    max_subjects: int = 2**20,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> list[CapacityRow]:
    """The largest N each dimension holds, beside the per-subject bound's N (one row per cell)."""
    layout = resolve_layout(layout).name
    cells = [
        (
            d,
            r,
            layout,
            codebook,
            numeric_format(precision).name,
            tuple(seeds),
            max_subjects,
            memory_budget,
        )
        for d in dimensions
        for r in relations
        for codebook in codebooks
        for precision in precisions
    ]
    return run_cells(capacity_cell, cells, executor, progress)


def run_cells(
    cell: Callable[..., Any],
    cells: list[tuple[Any, ...]],
    executor: Executor | None,
    progress: ProgressCallback | None,
) -> list[Any]:
    """Run ``cell(*arguments)`` for every cell as tasks of ``executor`` (a process pool if None),
    in order, calling ``progress(1)`` as each finishes."""
    owned = executor is None
    pool = ProcessPoolExecutor() if executor is None else executor
    try:
        futures = [pool.submit(cell, *arguments) for arguments in cells]
        results = []
        for future in futures:
            results.append(future.result())
            if progress is not None:
                progress(1)
        return results
    finally:
        if owned:
            pool.shutdown()
