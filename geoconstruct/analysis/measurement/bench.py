"""Measured performance of construction, certified and exact recall, beside same-run references.

:func:`bench_size` builds one construction and times what a user runs on it, each beside the
reference that says how close it runs to the machine's limit, measured in the same process:

* **certified recall** (a float64 construction by default) beside one read of the fact-dependent
  parameters, ``np.abs(table).max()`` over the ``[N, d_s]`` subject embeddings: the least any
  check of every fact must do;
* **exact recall** (a float32 construction with the same facts) beside the float32 matrix product
  ``[N·R, d_model] @ [d_model, d_vocab]`` (the unembedding of every prompt, the least work any
  argmax over the vocabulary must do), run in the same row blocks, best of the two block sizes.

Timings are best-of-``repeats``. Nothing here prints; ``geoconstruct bench`` and
``benchmarks/scale.py`` print the rows.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import proven_dimension
from geoconstruct.facts import generator
from geoconstruct.verification.evaluation import (
    CHUNK_BYTES,
    bytes_per_prompt,
    unembedding_rows,
)
from geoconstruct.verification.policy import EXACT_WORK_LIMIT, exact_work
from geoconstruct.verification.report import RecallReport

__all__ = ["EXACT_WORK_LIMIT", "BenchRow", "bench_size"]


@dataclass(frozen=True)
class BenchRow:
    """One size of the bench; times in seconds, ``None`` where exact recall was not run."""

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    dtype: str
    d_model: int
    n_facts: int
    construct_seconds: float
    certified_seconds: float
    certified_facts_per_second: float
    n_certified_correct: int
    n_fallback: int
    table_read_seconds: float
    certified_to_read_ratio: float
    exact_seconds: float | None
    exact_facts_per_second: float | None
    n_exact_correct: int | None
    reference_seconds: float | None
    exact_throughput_to_reference: float | None
    peak_rss_mib: float

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{:,}"),
        ("R", "n_relations", "{}"),
        ("layout", "layout", "{}"),
        ("codebook", "codebook", "{}"),
        ("dtype", "dtype", "{}"),
        ("d", "d_model", "{}"),
        ("facts", "n_facts", "{:,}"),
        ("construct s", "construct_seconds", "{:.2f}"),
        ("certified s", "certified_seconds", "{:.2f}"),
        ("certified facts/s", "certified_facts_per_second", "{:,.0f}"),
        ("fallback", "n_fallback", "{:,}"),
        ("table read s", "table_read_seconds", "{:.3f}"),
        ("certified / read", "certified_to_read_ratio", "{:.1f}"),
        ("exact s", "exact_seconds", "{:.2f}"),
        ("exact facts/s", "exact_facts_per_second", "{:,.0f}"),
        ("GEMM reference s", "reference_seconds", "{:.2f}"),
        ("exact / GEMM throughput", "exact_throughput_to_reference", "{:.2f}"),
        ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_size(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    dtype: str = "float64",
    repeats: int = 1,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    seed: int = 0,
) -> BenchRow:
    """Measure one size at ``proven_dimension`` (default: block layout, grid codes).

    Parameters
    ----------
    repeats : int
        Each timing is the best of this many runs.
    exact_work_limit : int
        Run exact recall only when its multiply-adds (``N·R·d_vocab·d``, the verification
        policy's :func:`~geoconstruct.verification.policy.exact_work`) are at most this.

    Returns
    -------
    BenchRow

    Examples
    --------
    >>> row = bench_size(300, 2)
    >>> row.n_certified_correct == row.n_exact_correct == row.n_facts == 600
    True
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    repeats = require_int("repeats", repeats, minimum=1)
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    options: dict[str, Any] = {
        "layout": layout,
        "codebook": codebook,
        "seed": seed,
        "memory_budget": memory_budget,
    }
    construct_seconds, read_seconds, certified_seconds, certified = _certified_part(
        n_subjects, n_relations, d, dict(options, dtype=dtype), repeats
    )
    exact_seconds = reference_seconds = None
    n_exact_correct = None
    n_facts = n_subjects * n_relations
    single = construct_single_hop(n_subjects, n_relations, d, dtype="float32", **options)
    if exact_work(single) <= exact_work_limit:
        exact_seconds, exact = _best_of(repeats, lambda: single.recall(memory_budget=memory_budget))
        n_exact_correct = exact.n_correct
        reference_seconds = _unembedding_reference(single, repeats)
    return BenchRow(
        n_subjects=n_subjects,
        n_relations=n_relations,
        layout=layout,
        codebook=codebook if isinstance(codebook, str) else repr(codebook),
        dtype=dtype,
        d_model=d,
        n_facts=n_facts,
        construct_seconds=construct_seconds,
        certified_seconds=certified_seconds,
        certified_facts_per_second=n_facts / certified_seconds,
        n_certified_correct=certified.n_correct,
        n_fallback=certified.n_fallback,
        table_read_seconds=read_seconds,
        certified_to_read_ratio=certified_seconds / read_seconds,
        exact_seconds=exact_seconds,
        exact_facts_per_second=None if exact_seconds is None else n_facts / exact_seconds,
        n_exact_correct=n_exact_correct,
        reference_seconds=reference_seconds,
        exact_throughput_to_reference=(
            None
            if exact_seconds is None or reference_seconds is None
            else reference_seconds / exact_seconds
        ),
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def _certified_part(
    n_subjects: int, n_relations: int, d: int, options: dict[str, Any], repeats: int
) -> tuple[float, float, float, RecallReport]:
    """Build, time one read of the fact-dependent table, and time certified recall."""
    start = time.perf_counter()
    construction = construct_single_hop(n_subjects, n_relations, d, **options)
    construct_seconds = time.perf_counter() - start
    table = construction.subject_embeddings
    read_seconds, _ = _best_of(repeats, lambda: float(np.abs(table).max()))
    certified_seconds, certified = _best_of(
        repeats,
        lambda: construction.recall(method="certified", memory_budget=options["memory_budget"]),
    )
    return construct_seconds, read_seconds, certified_seconds, certified


def _best_of(repeats: int, task: Callable[[], Any]) -> tuple[float, Any]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = task()
        best = min(best, time.perf_counter() - start)
    return float(best), result


def _unembedding_reference(construction: Construction, repeats: int) -> float:
    """Best time of ``[N·R, d_model] @ [d_model, d_vocab]`` in float32, over two block sizes.

    Blocks of whole rows of logits that fit the cache-sized buffer, and blocks of one full chunk
    (256 MiB of logits); random inputs of the same shapes into one reused output buffer.
    """
    config = construction.config
    n_prompts = construction.facts.n_facts
    rng = generator(0)
    prompts = rng.standard_normal((n_prompts, config.d_model), dtype=np.float32)
    unembedding = rng.standard_normal((config.d_model, config.d_vocab), dtype=np.float32)
    chunk_rows = max(1, CHUNK_BYTES // (4 * config.d_vocab + bytes_per_prompt(config)))
    timings = []
    cache_rows = unembedding_rows(config, tileable=False)  # whole rows of logits in ~16 MiB
    for rows in sorted({cache_rows, min(chunk_rows, n_prompts)}):
        buffer = np.empty((min(rows, n_prompts), config.d_vocab), dtype=np.float32)

        def product(rows: int = rows, buffer: np.ndarray[Any, Any] = buffer) -> None:
            for first in range(0, n_prompts, rows):
                block = prompts[first : first + rows]
                np.matmul(block, unembedding, out=buffer[: block.shape[0]])

        timings.append(_best_of(repeats, product)[0])
    return min(timings)
