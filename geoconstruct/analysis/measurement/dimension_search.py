"""The smallest dimension that recalls every fact, and the largest N a dimension holds: measured.

A *check* builds the single-hop construction at one code length on one seed, stores its
fact-dependent parameters in a numeric format (:mod:`~geoconstruct.analysis.measurement.precision`)
and asks :func:`~geoconstruct.verification.policy.check_recall` whether the forward pass answers
every query: every fact where that costs at most the policy's work limit, a seeded sample beyond it,
in a random order that stops at the first miss.

**The measured minimum.** Recall is not monotone in d for a fixed seed (a code length can pass
where the next one fails), so a bisection can land in a hole. :func:`measure_min_dimension`
therefore measures a quantity defined without reference to the search. Let U be the upper
bracket: the predicted minimum (:func:`~geoconstruct.analysis.theory.prediction.
predicted_min_dimension`) where the estimate covers the layout and codebook, else the shortest
code that can be assembled. Then **min d is the smallest d such that every seed recalls every
fact at every code length from d up to max(d, U)**: if U passes on every seed, the search walks
down from U until a code length fails on some seed; otherwise it steps up from U, one code length
at a time, to the first that passes on every seed. Either way the code length below min d fails
on at least one seed (or cannot be assembled). The seed that failed last is checked first, so a
failing code length usually costs one seed's check, up to its first miss.

:func:`capacity` is the inverse: the largest N that a dimension holds, by doubling and bisection
over N.

Grid codes take their digit width from an integer format (``int4`` stores 4-bit digits exactly);
with a float format they keep the family's default (8-bit digits).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass, fields
from typing import Literal, TypedDict, Unpack, cast

from tqdm import tqdm

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, NoResultError, require_int
from geoconstruct.analysis.measurement.precision import numeric_format, quantize_construction
from geoconstruct.analysis.measurement.sweeps import process_pool
from geoconstruct.analysis.theory.prediction import has_prediction, predicted_code_length
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.layouts import Layout, resolve_layout
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import DEFAULT_CODEBOOK, DEFAULT_LAYOUT
from geoconstruct.verification.policy import (
    EXACT_WORK_LIMIT,
    SAMPLE_SIZE,
    Verdict,
    check_recall,
    combined_basis,
)

__all__ = [
    "DEFAULT_SEEDS",
    "MAX_CODE_STEPS",
    "MinDimension",
    "RecallCheck",
    "Search",
    "SearchOptions",
    "capacity",
    "measure_min_dimension",
    "min_dimension",
    "recalls_at",
    "run_dtype",
    "table_codebook",
]

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
"""Seeds a measured minimum must hold on, unless told otherwise."""

MAX_CODE_STEPS = 64
"""How many code lengths past the larger of the upper bracket and the proved length
:func:`measure_min_dimension` tries before it gives up."""

POOL_WORK = 10**9
"""Multiply-adds of one check (``N·R·d_vocab·d``) from which a search opens its own process pool
when it is given no executor: below it a pool's start-up costs more than it saves."""

PROGRESS_DELAY = 3.0
"""Seconds after which a search given no progress callback shows a progress bar on stderr."""


def table_codebook(codebook: str | CodebookFamily, precision: str) -> CodebookFamily:
    """The codebook family a measurement builds: grid digits as wide as an integer format.

    Parameters
    ----------
    precision : str
        The numeric format of the fact-dependent weights (``"float32"``, ``"float16"``,
        ``"bfloat16"``, ``"int8"``, ...).

    Examples
    --------
    >>> table_codebook("grid", "int4"), table_codebook("grid", "float32")
    (GridCodes(bits=4), GridCodes(bits=8))
    """
    family = resolve_codebook(codebook)
    form = numeric_format(precision)
    return family.for_integer_format(form.bits) if form.integer else family


def run_dtype(family: CodebookFamily, code_length: int, precision: str) -> str:
    """The dtype a measurement runs in: float32 for formats of at most 32 bits, unless the codes
    are not exact there (wide grid codes, ``proofs/block_recall.md``); float64 otherwise.

    Parameters
    ----------
    family : CodebookFamily
        The codes' family.
    precision : str
        The numeric format of the fact-dependent weights (``"float32"``, ``"float16"``,
        ``"bfloat16"``, ``"int8"``, ...).

    Examples
    --------
    >>> from geoconstruct.codes.codebooks import GridCodes
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
    """One construction (one code length, one seed, one format) and the policy's verdict on it."""

    code_length: int
    seed: int
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def sampled(self) -> bool:
        return self.verdict.basis == "sampled"


class SearchOptions(TypedDict, total=False):
    """The keyword options of the measurements: the fields of :class:`Search`."""

    layout: str | Layout
    codebook: str | CodebookFamily
    precision: str
    seeds: Sequence[int]
    memory_budget: int
    sample_size: int
    exact_work_limit: int
    backend: str
    device: str


@dataclass(frozen=True)
class Search:
    """What a measurement builds and how it judges recall.

    Attributes
    ----------
    layout, codebook : str or object
        As for :func:`~geoconstruct.construct_single_hop` (default: the paper's construction).
    precision : str
        The numeric format of the fact-dependent parameters (see
        :func:`~geoconstruct.analysis.measurement.precision.numeric_format`); grid codes take their
        digit width from an integer format.
    seeds : sequence of int
        Every seed must pass (default five).
    memory_budget : int
        Bytes per construction and per recall.
    sample_size : int
        Queries a sampled check draws, past the work limit.
    exact_work_limit : int
        Multiply-adds up to which a check runs every query
        (:data:`~geoconstruct.verification.policy.EXACT_WORK_LIMIT` by default).
    backend, device : str
        Where the forward pass runs: ``"numpy"`` or ``"torch"``, on ``"cpu"`` or ``"cuda"``.
    """

    layout: str | Layout = DEFAULT_LAYOUT
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK
    precision: str = "float32"
    seeds: Sequence[int] = DEFAULT_SEEDS
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    sample_size: int = SAMPLE_SIZE
    exact_work_limit: int = EXACT_WORK_LIMIT
    backend: str = "numpy"
    device: str = "cpu"

    @property
    def family(self) -> CodebookFamily:
        return table_codebook(self.codebook, self.precision)

    def options(self) -> SearchOptions:
        """The fields, as keyword options for :func:`measure_min_dimension` and the rest."""
        return cast(
            SearchOptions, {field.name: getattr(self, field.name) for field in fields(self)}
        )

    def check(
        self,
        n_subjects: int,
        n_relations: int,
        code_length: int,
        seed: int,
        executor: Executor | None = None,
    ) -> RecallCheck:
        """Build at ``code_length`` on ``seed``, quantise to the format, and check recall
        (:func:`~geoconstruct.verification.policy.check_recall`, its order drawn from ``seed``).

        Raises
        ------
        ValueError
            When ``code_length`` cannot be assembled (``requires d >= ...``).
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
        verdict = check_recall(
            quantize_construction(construction, self.precision),
            seed=seed,
            exact_work_limit=self.exact_work_limit,
            sample_size=self.sample_size,
            memory_budget=budget,
            backend=self.backend,
            device=self.device,
            executor=executor,
        )
        return RecallCheck(code_length=code_length, seed=seed, verdict=verdict)


@dataclass(frozen=True)
class MinDimension:
    """The measured smallest dimension, and what stands behind it.

    Attributes
    ----------
    d, code_length : int
        The smallest ``d`` (and its code length) at which every seed recalls every fact, and so
        does every code length from it up to the upper bracket (see the module docstring).
    proven_d : int
        The smallest ``d`` with a proof (``geoconstruct.proven_dimension``).
    predicted_d : int or None
        :func:`~geoconstruct.analysis.theory.prediction.predicted_min_dimension` (None where the
        estimate does not cover the layout and codebook).
    upper_d : int
        The upper bracket U the search started from.
    seeds : tuple of int
    checks : tuple of RecallCheck
        The checks at ``code_length``, one a seed.
    failed_below : RecallCheck or None
        A failing check one code length shorter; None when that length cannot be assembled.
    n_checks : int
        Constructions checked by the search.
    multiply_adds : int
        Of every check's unembedding (``checks · d_vocab · d``), summed.
    seconds : float
        Wall time of the search.
    basis : {"certified", "every_fact", "sampled"}
        The weakest basis of the passing checks at and above ``d``
        (:func:`~geoconstruct.verification.policy.combined_basis`).
    """

    d: int
    code_length: int
    proven_d: int
    predicted_d: int | None
    upper_d: int
    seeds: tuple[int, ...]
    checks: tuple[RecallCheck, ...]
    failed_below: RecallCheck | None
    n_checks: int
    multiply_adds: int
    seconds: float
    basis: str

    def __repr__(self) -> str:
        predicted = "" if self.predicted_d is None else f", predicted_d={self.predicted_d}"
        return (
            f"MinDimension(d={self.d}, basis={self.basis!r}, seeds={len(self.seeds)}, "
            f"proven_d={self.proven_d}{predicted}, checks={self.n_checks}, "
            f"seconds={self.seconds:.1f})"
        )

    @property
    def sampled(self) -> bool:
        """Whether a sample, not every query, stands behind ``d``."""
        return self.basis == "sampled"

    @property
    def sampled_queries(self) -> int | None:
        """Queries a seed's sample held at ``d`` (None: every query)."""
        return self.checks[0].verdict.n_queries if self.sampled else None

    @property
    def failing_fraction_upper(self) -> float:
        """The 95 % upper bound on the share of failing facts at ``d``, the largest over the seeds
        (0 for every fact)."""
        return max(check.verdict.failing_fraction_upper or 0.0 for check in self.checks)

    @property
    def failing_facts_upper(self) -> float:
        """The 95 % upper bound on the expected number of failing facts at ``d`` (0 for every
        fact), the largest over the seeds."""
        return self.failing_fraction_upper * self.checks[0].verdict.total_queries


def measure_min_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    executor: Executor | Literal["serial"] | None = None,
    progress: Callable[[RecallCheck], None] | bool | None = None,
    **options: Unpack[SearchOptions],
) -> MinDimension:
    """The smallest ``d`` whose construction recalls every fact on every seed, in a format.

    Defined without reference to where a search lands (the module docstring): every seed recalls
    every fact at every code length from ``d`` up to the upper bracket, and the code length below
    fails on some seed.

    Parameters
    ----------
    **options
        ``layout``, ``codebook``, ``precision``, ``seeds``, ``memory_budget``, ``sample_size``,
        ``exact_work_limit``, ``backend``, ``device``: see :class:`Search`.

    Returns
    -------
    MinDimension

    Raises
    ------
    RuntimeError
        If :data:`MAX_CODE_STEPS` code lengths past the upper bracket and the proof all fail (a
        format too coarse for the codes).

    Examples
    --------
    >>> measure_min_dimension(256, 4, seeds=(0, 1, 2))  # doctest: +ELLIPSIS
    MinDimension(d=..., basis='every_fact', seeds=3, proven_d=183, predicted_d=..., checks=...)
    >>> checked = []
    >>> found = measure_min_dimension(256, 2, seeds=(0, 1), progress=checked.append)
    >>> found.d < found.proven_d, found.failed_below.passed, found.basis
    (True, False, 'every_fact')
    >>> len(checked) == found.n_checks, checked[-1].code_length == found.code_length - 1
    (True, True)
    """
    start = time.perf_counter()
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    search = Search(**options)
    seeds = tuple(require_int("seed", seed, minimum=0) for seed in search.seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    layout = resolve_layout(search.layout)
    layout.relations.check_codebook(search.family, n_relations)
    shortest = layout.relations.shortest_code_length(n_subjects, n_relations, search.family)
    proven = max(layout.relations.min_code_length(n_subjects, n_relations, search.family), shortest)
    predicted = None
    if n_subjects >= 2 and has_prediction(layout, search.family):
        predicted = predicted_code_length(
            n_subjects, n_relations, layout=layout, codebook=search.family, n_seeds=len(seeds)
        )
    upper = max(shortest, predicted) if predicted is not None else shortest
    last = max(upper, proven) + MAX_CODE_STEPS - 1
    order = list(seeds)  # the seed that failed last is checked first
    done: list[RecallCheck] = []
    with ExitStack() as stack:
        pool = _executor_for(stack, executor, n_subjects, n_relations, layout, upper)
        report = _reporter(stack, progress, f"min d search N={n_subjects} R={n_relations}")
        return _search(
            search,
            n_subjects,
            n_relations,
            layout,
            seeds,
            (shortest, upper, proven, last),
            predicted,
            pool,
            report,
            order,
            done,
            start,
        )


def _executor_for(
    stack: ExitStack,
    executor: Executor | Literal["serial"] | None,
    n_subjects: int,
    n_relations: int,
    layout: Layout,
    code_length: int,
) -> Executor | None:
    """The executor a search runs its checks on (see :func:`measure_min_dimension`)."""
    if executor == "serial":
        return None
    if executor is not None:
        return executor
    d = layout.dimension(n_relations, code_length)
    if n_subjects * n_relations * (n_subjects + n_relations) * d < POOL_WORK:
        return None
    return stack.enter_context(process_pool())


def _reporter(
    stack: ExitStack, progress: Callable[[RecallCheck], None] | bool | None, label: str
) -> Callable[[RecallCheck], None] | None:
    """The callback each finished check is reported to (see :func:`measure_min_dimension`)."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    bar = stack.enter_context(tqdm(desc=label, unit="check", delay=PROGRESS_DELAY, leave=False))

    def advance(check: RecallCheck) -> None:
        bar.set_postfix(k=check.code_length, seed=check.seed, passed=check.passed)
        bar.update(1)

    return advance


def _search(
    search: Search,
    n_subjects: int,
    n_relations: int,
    layout: Layout,
    seeds: tuple[int, ...],
    lengths: tuple[int, int, int, int],
    predicted: int | None,
    executor: Executor | None,
    progress: Callable[[RecallCheck], None] | None,
    order: list[int],
    done: list[RecallCheck],
    start: float,
) -> MinDimension:
    """The walk of :func:`measure_min_dimension` from the upper bracket."""
    shortest, upper, proven, last = lengths

    def passes(code_length: int) -> tuple[RecallCheck, ...]:
        """The checks at ``code_length`` up to the first failing seed (that one last)."""
        checks = []
        for seed in list(order):
            checks.append(search.check(n_subjects, n_relations, code_length, seed, executor))
            if progress is not None:
                progress(checks[-1])
            if not checks[-1].passed:
                order.remove(seed)
                order.insert(0, seed)
                break
        done.extend(checks)
        return tuple(checks)

    failed: RecallCheck | None = None
    code_length = upper
    # Up from U, one code length at a time, to the first that passes on every seed.
    while not (passing := passes(code_length))[-1].passed:
        failed = passing[-1]
        if code_length >= last:
            raise NoResultError(
                f"no construction with code length {upper}..{last} recalls every fact at "
                f"precision {search.precision} on seeds {list(seeds)}"
            )
        code_length += 1
    passed_above = list(passing)
    # Down from U while every seed passes.
    while failed is None and code_length > shortest:
        checks = passes(code_length - 1)
        if not checks[-1].passed:
            failed = checks[-1]
            break
        code_length, passing = code_length - 1, checks
        passed_above.extend(checks)
    below = failed if failed is not None and failed.code_length == code_length - 1 else None
    return MinDimension(
        d=layout.dimension(n_relations, code_length),
        code_length=code_length,
        proven_d=layout.dimension(n_relations, proven),
        predicted_d=None if predicted is None else layout.dimension(n_relations, predicted),
        upper_d=layout.dimension(n_relations, upper),
        seeds=seeds,
        checks=tuple(sorted(passing, key=lambda check: seeds.index(check.seed))),
        failed_below=below,
        n_checks=len(done),
        multiply_adds=sum(check.verdict.multiply_adds for check in done),
        seconds=time.perf_counter() - start,
        basis=combined_basis(check.verdict.basis for check in passed_above),
    )


def min_dimension(n_subjects: int, n_relations: int, **options: Unpack[SearchOptions]) -> int:
    """``measure_min_dimension(...).d``: the smallest ``d`` that recalls every fact on every seed.

    Parameters
    ----------
    **options
        The fields of :class:`Search`: ``layout`` and ``codebook`` (default: the paper's
        construction, superposed with gaussian codes); ``precision``, the numeric format of the
        fact-dependent parameters (default ``"float32"``); ``seeds``, every one of which must
        recall every fact (default 0–4); ``memory_budget``, ``sample_size`` and
        ``exact_work_limit``, the bytes per construction and recall, the queries a sampled check
        draws and the multiply-adds up to which a check runs every query (the verification
        policy's defaults); ``backend`` and ``device``, where the forward pass runs (``"numpy"``
        on ``"cpu"`` by default).

    Returns
    -------
    int
        See :class:`MinDimension` for what stands behind it (its ``basis``, checks and work).

    Examples
    --------
    >>> grid = dict(layout="block", codebook="grid", seeds=(0,))
    >>> min_dimension(4096, 4, precision="int8", **grid), min_dimension(4096, 4, precision="int4", **grid)
    (12, 16)
    """  # noqa: E501
    return measure_min_dimension(n_subjects, n_relations, progress=False, **options).d


def recalls_at(n_subjects: int, n_relations: int, d: int, **options: Unpack[SearchOptions]) -> bool:
    """Whether the construction at ``d`` passes a check on every seed (False where ``d`` is below
    what it can be assembled at); ``options`` as for :class:`Search`.

    Parameters
    ----------
    **options
        The fields of :class:`Search` (see :func:`measure_min_dimension`).
    """
    search = Search(**options)
    layout = resolve_layout(search.layout)
    code_length = layout.code_length_at(n_relations, d)
    if code_length < layout.relations.shortest_code_length(n_subjects, n_relations, search.family):
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

    Parameters
    ----------
    max_subjects : int
        The largest N the search tries.
    **options
        The fields of :class:`Search` (see :func:`measure_min_dimension`).

    Examples
    --------
    >>> grid = dict(layout="block", codebook="grid", seeds=(0,))
    >>> capacity(12, 4, max_subjects=4096, **grid), capacity(12, 4, precision="int4", **grid)
    (4096, 256)
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
