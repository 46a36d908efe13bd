"""The capacity–depth trade-off of multi-hop recall, measured beside the per-pass lower bound.

:func:`tradeoff_table` builds, for every H and every L in ``1..H``, the multi-hop construction
at its smallest dimension, checks recall through the chain-of-thought loop, and puts the entity
dimension ``d_s = D_g·k`` beside the per-pass bounds (``proofs/multi_hop.md``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.measurement.dimension_search import run_dtype, table_codebook
from geoconstruct.analysis.measurement.precision import numeric_format, quantize
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.analysis.theory.bounds import per_pass_bits_random, per_pass_min_dimension
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.constructions.multi_hop import (
    chain_count,
    construct_multi_hop,
    multi_hop_dimension,
)
from geoconstruct.verification.evaluation import ProgressCallback
from geoconstruct.verification.policy import SAMPLE_SIZE

__all__ = ["TradeoffRow", "tradeoff_table"]


@dataclass(frozen=True)
class TradeoffRow:
    """One (H, L) cell of the capacity–depth trade-off (multi-hop, ``docs/design.md`` §5).

    ``d_s = D_g·k`` is the entity dimension at ``d``; ``per_pass_bound_d_s`` is the smallest
    ``d_s`` any fact-independent read-out allows at ``bits`` bits (every set of facts), and
    ``random_bound_d_s`` the same for random facts recalled with probability 0.99 (None where
    that bound is vacuous). ``rounding`` is ``p·⌈log2 N / p⌉ / log2 N`` for grid codes: the ratio
    that rounding ``log2 N`` up to whole p-bit digits costs. ``exact_at_bits`` says whether the
    entity embeddings are stored losslessly at ``precision``, and recall is checked on
    ``recall_checked`` queries (all of them, or a seeded sample).
    """

    COLUMNS: ClassVar[Columns] = (
        ("H", "hops", "{}"),
        ("L", "steps", "{}"),
        ("hops/pass g", "hops_per_pass", "{}"),
        ("passes", "passes", "{}"),
        ("d", "d", "{}"),
        ("d_s", "d_s", "{}"),
        ("per-pass bound d_s", "per_pass_bound_d_s", "{}"),
        ("d_s / bound", "ratio_to_bound", "{:.3f}"),
        ("rounding p⌈log2 N/p⌉/log2 N", "rounding", "{:.3f}"),
        ("random-facts bound d_s", "random_bound_d_s", "{}"),
        ("total params", "total_params", "{:,}"),
        ("exact at p bits", "exact_at_bits", "{}"),
        ("queries checked", "recall_checked", "{:,}"),
        ("recall", "recall_accuracy", "{:.4f}"),
        ("seconds", "seconds", "{:.2f}"),
    )

    n_entities: int
    n_relations: int
    hops: int
    steps: int
    hops_per_pass: int
    passes: int
    codebook: str
    precision: str
    bits: int
    d: int
    d_s: int
    per_pass_bound_d_s: int
    random_bound_d_s: int | None
    ratio_to_bound: float
    rounding: float | None
    total_params: int
    exact_at_bits: bool
    recall_checked: int
    recall_accuracy: float
    seconds: float


def tradeoff_table(
    n_entities: int,
    n_relations: int,
    hops: Iterable[int],
    *,
    codebook: str | CodebookFamily = "grid",
    precision: str = "int8",
    seed: int = 0,
    sample_size: int = SAMPLE_SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: ProgressCallback | None = None,
) -> list[TradeoffRow]:
    """Construction against the per-pass lower bound for every H in ``hops`` and L in ``1..H``.

    Each row builds the construction at :func:`~geoconstruct.multi_hop_dimension` and
    checks recall through the chain-of-thought loop on every query, or on ``sample_size`` seeded
    queries when there are more.

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    hops : int
        H, hops per query.
    precision : str
        The numeric format of the fact-dependent weights (``"float32"``, ``"float16"``,
        ``"bfloat16"``, ``"int8"``, ...).
    sample_size : int
        Queries a sampled check draws.

    Examples
    --------
    >>> rows = tradeoff_table(256, 2, [1, 2], sample_size=500)
    >>> [(row.hops, row.steps, row.d_s, row.per_pass_bound_d_s) for row in rows]
    [(1, 1, 2, 2), (2, 1, 6, 6), (2, 2, 2, 2)]
    >>> all(row.recall_accuracy == 1.0 for row in rows)
    True
    """
    n_entities = require_int("n_entities", n_entities, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    sample_size = require_int("sample_size", sample_size, minimum=1)
    form = numeric_format(precision)
    family = table_codebook(codebook, form.name)
    hop_counts = [require_int("hops", h, minimum=1) for h in hops]
    rounding = None
    bits = family.digit_bits
    if bits is not None and n_entities > 1:
        log_n = math.log2(n_entities)
        rounding = bits * math.ceil(log_n / bits - 1e-12) / log_n
    rows = []
    for h in hop_counts:
        for steps in range(1, h + 1):
            start = time.perf_counter()
            d = multi_hop_dimension(n_entities, n_relations, h, steps, codebook=family)
            code_length = family.min_code_length(n_entities)
            construction = construct_multi_hop(
                n_entities,
                n_relations,
                h,
                steps,
                d,
                codebook=family,
                seed=seed,
                dtype=run_dtype(family, code_length, form.name),
                memory_budget=memory_budget,
            )
            g = construction.metadata.hops_per_pass
            embeddings = construction.subject_embeddings
            exact = bool(np.array_equal(quantize(embeddings, form).values, embeddings))
            report = construction.recall(sample=sample_size, memory_budget=memory_budget)
            bound = per_pass_min_dimension(n_entities, n_relations, g, form.bits)
            try:
                random_bits = per_pass_bits_random(n_entities, n_relations, g)
                random_bound: int | None = math.ceil(random_bits / form.bits - 1e-12)
            except ValueError:  # vacuous: the answers of one entity collide too often
                random_bound = None
            d_s = chain_count(n_relations, g) * construction.codebook.code_length
            rows.append(
                TradeoffRow(
                    n_entities=n_entities,
                    n_relations=n_relations,
                    hops=h,
                    steps=steps,
                    hops_per_pass=g,
                    passes=-(-h // g),
                    codebook=family.name,
                    precision=form.name,
                    bits=form.bits,
                    d=d,
                    d_s=d_s,
                    per_pass_bound_d_s=bound,
                    random_bound_d_s=random_bound,
                    ratio_to_bound=d_s / bound,
                    rounding=rounding,
                    total_params=construction.config.n_params(),
                    exact_at_bits=exact,
                    recall_checked=report.n_queries,
                    recall_accuracy=report.accuracy,
                    seconds=time.perf_counter() - start,
                )
            )
            if progress is not None:
                progress(1)
    return rows
