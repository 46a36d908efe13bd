"""The smallest dimension that recalls every fact, and the largest N a dimension holds: measured.

A *check* builds the single-hop construction at one code length on one seed, stores its
fact-dependent parameters in a numeric format (:mod:`~geoconstruct.analysis.precision`) and runs
recall: every query (certified, the forward pass judging what the certificate leaves open) where
that costs at most :data:`EXACT_WORK_LIMIT` multiply-adds, otherwise a seeded uniform sample of
:data:`SAMPLE_SIZE` distinct queries, every one of which must be answered. A pilot sample of
:data:`PILOT_SIZE` queries runs first, so that a code length far below the transition is turned
down at a fraction of the cost.

:func:`measure_min_dimension` searches code lengths on the first seed: doubling from the shortest
code the construction can be assembled with up to the proved one, then bisecting, and stepping one
code length at a time past the proof (a coarse format can defeat it). It then checks the other
seeds and steps up until every seed passes. So the code length it returns passes on every seed and
the one below fails on at least one seed, or cannot be assembled: the measured minimum is minimal.
:func:`capacity` is the inverse: the largest N that a dimension holds, by doubling and bisection
over N.

Grid codes take their digit width from an integer format (``int4`` stores 4-bit digits exactly);
with a float format they keep the family's default (8-bit digits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TypedDict, Unpack, cast

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.precision import numeric_format, quantize_construction
from geoconstruct.codes.codebooks import CodebookFamily, GridCodes, resolve_codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.layouts import Layout, resolve_layout
from geoconstruct.constructions.single_hop import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    construct_single_hop,
)

__all__ = [
    "DEFAULT_SEEDS",
    "EXACT_WORK_LIMIT",
    "FALLBACK_LOGITS",
    "MAX_CODE_STEPS",
    "PILOT_SIZE",
    "SAMPLE_SIZE",
    "MinDimension",
    "RecallCheck",
    "Search",
    "SearchOptions",
    "capacity",
    "exact_work",
    "measure_min_dimension",
    "min_dimension",
    "recalls_at",
    "run_dtype",
    "table_codebook",
]

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
"""Seeds a measured minimum must hold on, unless told otherwise."""

EXACT_WORK_LIMIT = 5 * 10**10
"""Most multiply-adds (queries · d_vocab · d) a check spends on every query of a random-code
construction; beyond it the check samples :data:`SAMPLE_SIZE` queries."""

SAMPLE_SIZE = 10_000
"""Queries a sampled check draws (without replacement); every one must be answered."""

PILOT_SIZE = 500
"""Queries of the pilot sample that turns down a failing code length cheaply."""

FALLBACK_LOGITS = 10**10
"""Most logits (queries · d_vocab) the forward pass may compute for queries the certificate leaves
open; beyond it a check raises instead of running for hours."""

MAX_CODE_STEPS = 64
"""How many code lengths past the proved one :func:`measure_min_dimension` tries."""


def table_codebook(codebook: str | CodebookFamily, precision: str) -> CodebookFamily:
    """The codebook family a measurement builds: grid digits as wide as an integer format.

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
    """The dtype a measurement runs in: float32 for formats of at most 32 bits, unless the codes
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


@dataclass(frozen=True)
class RecallCheck:
    """One construction (one code length, one seed, one format): did it answer every query checked?

    Attributes
    ----------
    code_length, seed : int
    passed : bool
        Every checked query answered.
    n_queries, total_queries : int
        Queries checked, and queries the construction stores.
    accuracy_interval : (float, float)
        The exact 95 % interval of the accuracy over every query ((a, a) when all were checked).
    """

    code_length: int
    seed: int
    passed: bool
    n_queries: int
    total_queries: int
    accuracy_interval: tuple[float, float]

    @property
    def sampled(self) -> bool:
        return self.n_queries < self.total_queries


class SearchOptions(TypedDict, total=False):
    """The keyword options of the measurements: the fields of :class:`Search`."""

    layout: str | Layout
    codebook: str | CodebookFamily
    precision: str
    seeds: Sequence[int]
    memory_budget: int
    sample_size: int
    tolerance: float


@dataclass(frozen=True)
class Search:
    """What a measurement builds and how it judges recall.

    Attributes
    ----------
    layout, codebook : str or object
        As for :func:`~geoconstruct.construct_single_hop` (default: the paper's construction).
    precision : str
        The numeric format of the fact-dependent parameters (see
        :func:`~geoconstruct.analysis.precision.numeric_format`); grid codes take their digit
        width from an integer format.
    seeds : sequence of int
        Every seed must pass (default five).
    memory_budget : int
        Bytes per construction and per recall.
    sample_size : int
        Queries a sampled check draws, past :data:`EXACT_WORK_LIMIT`.
    tolerance : float
        The bisection stops when its bracket is at most ``tolerance`` times the code length
        (0: at one code length, so the one below fails).
    """

    layout: str | Layout = DEFAULT_LAYOUT
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK
    precision: str = "float32"
    seeds: Sequence[int] = DEFAULT_SEEDS
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    sample_size: int = SAMPLE_SIZE
    tolerance: float = 0.0

    @property
    def family(self) -> CodebookFamily:
        return table_codebook(self.codebook, self.precision)

    def options(self) -> SearchOptions:
        """The fields, as keyword options for :func:`measure_min_dimension` and the rest."""
        return cast(
            SearchOptions, {field.name: getattr(self, field.name) for field in fields(self)}
        )

    def check(self, n_subjects: int, n_relations: int, code_length: int, seed: int) -> RecallCheck:
        """Build at ``code_length`` on ``seed``, quantise to the format, and check recall.

        Raises
        ------
        ValueError
            When ``code_length`` cannot be assembled (``requires d >= ...``).
        RuntimeError
            When the certificate leaves open more than :data:`FALLBACK_LOGITS` logits.
        """
        family, budget = self.family, self.memory_budget
        construction = construct_single_hop(
            n_subjects,
            n_relations,
            resolve_layout(self.layout).dimension(n_relations, code_length),
            layout=self.layout,
            codebook=family,
            seed=seed,
            dtype=run_dtype(family, code_length, self.precision),
            memory_budget=budget,
        )
        quantized = quantize_construction(construction, self.precision)
        total = quantized.total_queries
        pilot = quantized.recall(sample=min(PILOT_SIZE, total), seed=seed, memory_budget=budget)
        if (pilot.all_correct and not pilot.sampled) or not pilot.all_correct:
            report = pilot
        elif not family.unit_norm:  # grid codes: the certificate proves (nearly) every query
            report = quantized.recall(
                method="certified",
                memory_budget=budget,
                max_fallback=FALLBACK_LOGITS // quantized.config.d_vocab,
            )
        elif exact_work(quantized) <= EXACT_WORK_LIMIT:  # random codes: the certificate
            report = quantized.recall(memory_budget=budget)  # rarely proves below the proof
        else:
            report = quantized.recall(
                sample=min(self.sample_size, total), seed=seed, memory_budget=budget
            )
        return RecallCheck(
            code_length=code_length,
            seed=seed,
            passed=report.all_correct,
            n_queries=report.n_queries,
            total_queries=total,
            accuracy_interval=report.accuracy_interval,
        )


def exact_work(construction: Construction) -> int:
    """Multiply-adds of the unembedding over every query: ``queries · d_vocab · d_model``."""
    config = construction.config
    return construction.total_queries * config.d_vocab * config.d_model


@dataclass(frozen=True)
class MinDimension:
    """The measured smallest dimension, and what stands behind it.

    Attributes
    ----------
    d, code_length : int
        The smallest ``d`` (and its code length) that passed on every seed.
    proven_d : int
        The smallest ``d`` with a proof (``geoconstruct.proven_dimension``).
    seeds : tuple of int
    checks : tuple of RecallCheck
        The checks at ``code_length``, one a seed.
    failed_below : RecallCheck or None
        A failing check one code length shorter; None when that length cannot be assembled.
    """

    d: int
    code_length: int
    proven_d: int
    seeds: tuple[int, ...]
    checks: tuple[RecallCheck, ...]
    failed_below: RecallCheck | None

    @property
    def sampled(self) -> bool:
        """Whether a sample, not every query, stands behind ``d``."""
        return any(check.sampled for check in self.checks)

    @property
    def accuracy_low(self) -> float:
        """The lowest 95 % lower bound of the accuracy at ``d`` over the seeds (1.0 when every
        query was checked and answered)."""
        return min(check.accuracy_interval[0] for check in self.checks)


def measure_min_dimension(
    n_subjects: int, n_relations: int, **options: Unpack[SearchOptions]
) -> MinDimension:
    """The smallest ``d`` whose construction recalls every fact on every seed, in a format.

    Parameters
    ----------
    n_subjects, n_relations : int
    **options
        ``layout``, ``codebook``, ``precision``, ``seeds``, ``memory_budget``, ``sample_size``,
        ``tolerance``: see :class:`Search`.

    Returns
    -------
    MinDimension

    Raises
    ------
    RuntimeError
        If :data:`MAX_CODE_STEPS` code lengths past the proved one all fail (a format too coarse
        for the codes).

    Examples
    --------
    >>> found = measure_min_dimension(256, 2, seeds=(0, 1))
    >>> found.d < found.proven_d, found.failed_below.passed, found.sampled
    (True, False, False)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    search = Search(**options)
    seeds = tuple(require_int("seed", seed, minimum=0) for seed in search.seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    layout = resolve_layout(search.layout)
    layout.check_codebook(search.family)
    shortest = layout.shortest_code_length(n_subjects, n_relations, search.family)
    proven = max(layout.min_code_length(n_subjects, n_relations, search.family), shortest)
    last = proven + MAX_CODE_STEPS - 1
    order = list(seeds)  # the seed that failed last is checked first

    def passes(code_length: int) -> tuple[RecallCheck, ...]:
        """The checks at ``code_length`` up to the first failing seed (that one last)."""
        checks = []
        for seed in list(order):
            checks.append(search.check(n_subjects, n_relations, code_length, seed))
            if not checks[-1].passed:
                order.remove(seed)
                order.insert(0, seed)
                break
        return tuple(checks)

    def longer(code_length: int) -> int:
        """Double below the proof; one code length at a time past it."""
        if code_length >= last:
            raise RuntimeError(
                f"no construction with code length {shortest}..{last} recalls every fact at "
                f"precision {search.precision} on seeds {list(seeds)}"
            )
        return min(2 * code_length, proven) if code_length < proven else code_length + 1

    # Bracket: the shortest code that passes on every seed, doubling; `failed` is the last failure.
    failed: RecallCheck | None = None
    code_length = shortest
    while not (passing := passes(code_length))[-1].passed:
        failed = passing[-1]
        code_length = longer(code_length)
    # Bisect between the last failing and the first passing code length.
    low = failed.code_length if failed is not None else shortest - 1
    while code_length - low > max(1, search.tolerance * code_length):
        middle = (low + code_length) // 2
        if (checks := passes(middle))[-1].passed:
            code_length, passing = middle, checks
        else:
            failed, low = checks[-1], middle
    below = failed if failed is not None and failed.code_length == code_length - 1 else None
    return MinDimension(
        d=layout.dimension(n_relations, code_length),
        code_length=code_length,
        proven_d=layout.dimension(n_relations, proven),
        seeds=seeds,
        checks=tuple(sorted(passing, key=lambda check: seeds.index(check.seed))),
        failed_below=below,
    )


def min_dimension(n_subjects: int, n_relations: int, **options: Unpack[SearchOptions]) -> int:
    """``measure_min_dimension(...).d``: the smallest ``d`` that recalls every fact on every seed.

    Examples
    --------
    >>> grid = dict(layout="block", codebook="grid", seeds=(0,))
    >>> min_dimension(4096, 4, precision="int8", **grid), min_dimension(4096, 4, precision="int4", **grid)
    (12, 16)
    """  # noqa: E501
    return measure_min_dimension(n_subjects, n_relations, **options).d


def recalls_at(n_subjects: int, n_relations: int, d: int, **options: Unpack[SearchOptions]) -> bool:
    """Whether the construction at ``d`` passes a check on every seed (False where ``d`` is below
    what it can be assembled at); ``options`` as for :class:`Search`."""
    search = Search(**options)
    layout = resolve_layout(search.layout)
    code_length = layout.code_length_at(n_relations, d)
    if code_length < layout.shortest_code_length(n_subjects, n_relations, search.family):
        return False
    return all(
        search.check(n_subjects, n_relations, code_length, seed).passed for seed in search.seeds
    )


def capacity(
    d: int, n_relations: int, *, max_subjects: int = 2**20, **options: Unpack[SearchOptions]
) -> int:
    """The largest ``N <= max_subjects`` whose construction at ``d`` passes on every seed (0: none).

    N doubles from 1 until a check fails, then bisects between the last passing and the first
    failing N, so no construction much larger than the capacity is built; ``options`` as for
    :class:`Search`.

    Examples
    --------
    >>> grid = dict(layout="block", codebook="grid", seeds=(0,))
    >>> capacity(12, 4, **grid), capacity(12, 4, precision="int4", **grid)   # k = 2 digits
    (65536, 256)
    """
    d = require_int("d", d, minimum=1)
    max_subjects = require_int("max_subjects", max_subjects, minimum=1)
    return largest_true(lambda n: recalls_at(n, n_relations, d, **options), max_subjects)


def largest_true(predicate: Callable[[int], bool], upper: int) -> int:
    """The largest n in [1, upper] with ``predicate(n)``, for a predicate true up to a point, found
    by doubling then bisection; 0 when ``predicate(1)`` is false.

    Examples
    --------
    >>> largest_true(lambda n: n * n <= 1000, 10**6), largest_true(lambda n: False, 8)
    (31, 0)
    """
    if upper < 1 or not predicate(1):
        return 0
    low, high = 1, None  # predicate(low) holds; predicate(high) fails
    while high is None:
        if low == upper:
            return low
        candidate = min(2 * low, upper)
        if predicate(candidate):
            low = candidate
        else:
            high = candidate
    while high - low > 1:
        middle = (low + high) // 2
        if predicate(middle):
            low = middle
        else:
            high = middle
    return low
