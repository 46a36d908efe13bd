"""The command line's view models: one construction measured end to end, as frozen results.

:func:`single_hop_summary` builds a single-hop construction, optionally quantises its
fact-dependent parameters, runs recall and reports sizes, parameters, storage efficiency and
recall in one frozen :class:`SingleHopSummary`. :func:`multi_hop_summary` does the same for a
multi-hop construction beside its per-pass lower bound, and :func:`bounds_summary` puts the
lower bounds beside the dimension each construction uses. The command line only prints them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.analysis.measurement.precision import (
    numeric_format,
    quantize_construction,
    storage_efficiency,
)
from geoconstruct.analysis.output.tables import Columns
from geoconstruct.analysis.theory.bounds import (
    global_bits,
    global_min_params,
    packing_min_code_length,
    per_pass_bits,
    per_pass_min_dimension,
    per_subject_bits,
    per_subject_min_dimension,
    subject_dimension,
)
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.registry import MAX_GRID_BITS, codebook_family, resolve_codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.multi_hop import (
    chain_count,
    construct_multi_hop,
    multi_hop_dimension,
)
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    proven_dimension,
)
from geoconstruct.io.files import save
from geoconstruct.verification.evaluation import ProgressCallback
from geoconstruct.verification.policy import (
    CHAIN_SAMPLE_SIZE,
    MAX_EXHAUSTIVE_QUERIES,
    PILOT_SIZE,
    chain_sample,
)

__all__ = [
    "BoundsRow",
    "BoundsSummary",
    "MultiHopSummary",
    "SingleHopSummary",
    "bounds_summary",
    "estimated_recall_seconds",
    "multi_hop_summary",
    "single_hop_summary",
]


@dataclass(frozen=True)
class SingleHopSummary:
    """A single-hop construction, its recall and its storage (``as_dict`` for JSON)."""

    n_subjects: int
    n_relations: int
    layout: str
    codebook: str
    codebook_parameters: dict[str, Any]
    seed: int
    dtype: str
    d_model: int
    proven_d: int
    guarantee: str
    subject_dim: int
    code_length: int
    residual_layout: dict[str, list[int]]
    d_mlp: int
    d_vocab: int
    params_total: int
    params_fact_dependent: int
    params_generic: int
    params_mlp: int
    n_queries: int
    n_facts: int
    n_correct: int
    accuracy: float
    sampled: bool
    accuracy_low: float
    accuracy_high: float
    min_margin: float
    method: str
    basis: str
    n_fallback: int
    n_certified: int
    certificate_reason: str | None
    precision: str
    storage_efficiency_per_subject: float
    storage_efficiency_global: float
    failures: list[dict[str, int]]
    construct_seconds: float
    recall_seconds: float
    relation_accuracy: list[float] = dataclasses.field(default_factory=list)
    saved: str | None = None

    COLUMNS: ClassVar[Columns] = (
        ("N", "n_subjects", "{}"),
        ("layout", "layout", "{}"),
        ("codebook", "codebook", "{}"),
        ("d", "d_model", "{}"),
        ("d_s", "subject_dim", "{}"),
        ("d_mlp", "d_mlp", "{}"),
        ("fact-dependent params", "params_fact_dependent", "{}"),
        ("MLP params", "params_mlp", "{}"),
        ("recalled", "recalled", "{}"),
        ("min margin", "min_margin", "{:.4f}"),
        ("seconds", "seconds", "{:.2f}"),
    )

    @property
    def recalled(self) -> str:
        return f"{self.n_correct}/{self.n_queries}"

    @property
    def seconds(self) -> float:
        return self.construct_seconds + self.recall_seconds

    @property
    def all_correct(self) -> bool:
        return self.n_correct == self.n_queries

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def single_hop_summary(
    n_subjects: int,
    n_relations: int,
    d: int | None = None,
    *,
    layout: str = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    seed: int = 0,
    dtype: str = "float64",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    method: str = "exact",
    precision: str | None = None,
    sample: int | None = None,
    backend: str = "numpy",
    device: str = "cpu",
    progress: ProgressCallback | None = None,
    on_estimate: Callable[[float, str | None], None] | None = None,
    save_to: str | None = None,
) -> SingleHopSummary:
    """Build at ``d`` (default: the smallest with a proof), quantise to ``precision``, recall.

    Recall checks every fact, or a seeded sample of ``sample`` of them. Before a forward pass
    over every fact, ``on_estimate`` is called with its :func:`estimated_recall_seconds` (0 for
    at most ``10 * PILOT_SIZE`` facts) and why the certificate can prove nothing here.
    ``backend`` and ``device`` choose where the forward pass
    runs (see :meth:`~geoconstruct.Construction.recall`).

    Parameters
    ----------
    method : str
        ``"exact"`` (the forward pass on every query), ``"sampled"``, or ``"certified"`` (margins
        bounded fact by fact, the rest to the forward pass).
    precision : str, optional
        The numeric format of the fact-dependent weights (``"float32"``, ``"float16"``,
        ``"bfloat16"``, ``"int8"``, ...); None keeps ``dtype``.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    save_to : str, optional
        Write the construction there before recall (what :func:`geoconstruct.io.load` reads).
    on_estimate : callable, optional
        Called with the estimated seconds of the recall, and ``construction.uncertifiable``,
        before it starts.
    save_to : str, optional
        Write the construction (as rounded to ``precision``) there before recall, in the format
        :func:`geoconstruct.io.load` reads (``.npz`` or ``.safetensors``).

    Examples
    --------
    >>> summary = single_hop_summary(300, 2, layout="block", codebook="grid")
    >>> summary.d_model, summary.recalled, round(summary.storage_efficiency_per_subject, 4)
    (6, '600/600', 0.0643)
    """
    family = resolve_codebook(codebook)
    form = numeric_format(dtype if precision is None else precision)
    minimum = proven_dimension(n_subjects, n_relations, layout=layout, codebook=family)
    start = time.perf_counter()
    construction = construct_single_hop(
        n_subjects,
        n_relations,
        minimum if d is None else d,
        layout=layout,
        codebook=family,
        seed=seed,
        dtype=dtype,
        memory_budget=memory_budget,
    )
    if precision is not None:
        construction = quantize_construction(construction, form)
    efficiency = storage_efficiency(construction, form)
    saved = None if save_to is None else str(save(construction, save_to))
    built = time.perf_counter()
    uncertifiable = construction.uncertifiable
    full_pass = sample is None and (method == "exact" or uncertifiable is not None)
    if on_estimate is not None and full_pass:
        seconds = 0.0
        if construction.total_queries > 10 * PILOT_SIZE:
            seconds = estimated_recall_seconds(construction, memory_budget=memory_budget)
        on_estimate(seconds, uncertifiable)
    report = construction.recall(
        method=method,
        sample=sample,
        seed=seed,
        progress=progress,
        memory_budget=memory_budget,
        backend=backend,
        device=device,
    )
    finished = time.perf_counter()
    count = construction.parameter_count
    low, high = report.accuracy_interval
    return SingleHopSummary(
        n_subjects=n_subjects,
        n_relations=n_relations,
        layout=construction.metadata.layout.name,
        codebook=family.name,
        codebook_parameters={
            key: value for key, value in vars(family).items() if not key.startswith("_")
        },
        seed=seed,
        dtype=dtype,
        d_model=construction.config.d_model,
        proven_d=minimum,
        guarantee=construction.guarantee.statement,
        subject_dim=construction.residual.size("subject"),
        code_length=construction.codebook.code_length,
        residual_layout=construction.residual.as_dict(),
        d_mlp=construction.config.d_mlp,
        d_vocab=construction.config.d_vocab,
        params_total=count.total,
        params_fact_dependent=count.fact_dependent,
        params_generic=count.generic,
        params_mlp=count.mlp,
        n_queries=report.n_queries,
        n_facts=report.n_facts,
        n_correct=report.n_correct,
        accuracy=report.accuracy,
        sampled=report.sampled,
        accuracy_low=low,
        accuracy_high=high,
        min_margin=report.min_margin,
        method=report.method,
        basis=report.basis,
        n_fallback=report.n_fallback,
        n_certified=report.n_certified,
        certificate_reason=report.certificate_reason,
        precision=form.name,
        storage_efficiency_per_subject=efficiency.per_subject,
        storage_efficiency_global=efficiency.global_,
        failures=[failure._asdict() for failure in report.failures],
        relation_accuracy=list(report.relation_accuracy),
        construct_seconds=built - start,
        recall_seconds=finished - built,
        saved=saved,
    )


@dataclass(frozen=True)
class MultiHopSummary:
    """A multi-hop construction, its chain-of-thought recall and its per-pass lower bound."""

    n_entities: int
    n_relations: int
    hops: int
    steps: int
    hops_per_pass: int
    passes: int
    codebook: str
    seed: int
    dtype: str
    d_model: int
    required_d: int
    chains_per_pass: int
    code_length: int
    entity_dim: int
    residual_layout: dict[str, list[int]]
    n_heads: int
    d_head: int
    d_mlp: int
    d_vocab: int
    params_total: int
    score_gap: float
    leakage_bound: float
    output_error_bound: float
    decoding_tolerance: float
    bits: int
    per_pass_bits: float
    per_pass_min_d_s: int
    n_queries: int
    total_queries: int
    n_facts: int
    sampled: bool
    n_correct: int
    accuracy: float
    pass_correct: list[int]
    min_margin: float
    failures: list[dict[str, Any]]
    construct_seconds: float
    recall_seconds: float
    saved: str | None = None

    @property
    def all_correct(self) -> bool:
        return self.n_correct == self.n_queries

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def estimated_recall_seconds(
    construction: Construction, *, memory_budget: int = DEFAULT_MEMORY_BUDGET
) -> float:
    """The seconds an exact pass over every query should take, from a timed pilot.

    The pilot runs the forward pass on a seeded sample of the verification policy's
    :data:`~geoconstruct.verification.policy.PILOT_SIZE` queries; the
    estimate scales its time to ``construction.total_queries``.

    Examples
    --------
    >>> construction = construct_single_hop(2000, 4, 40, layout="block", codebook="grid")
    >>> estimated_recall_seconds(construction) > 0
    True
    """
    pilot = min(PILOT_SIZE, construction.total_queries)
    start = time.perf_counter()
    construction.recall(sample=pilot, memory_budget=memory_budget)
    return (time.perf_counter() - start) * construction.total_queries / pilot


def multi_hop_summary(
    n_entities: int,
    n_relations: int,
    hops: int,
    steps: int,
    d: int | None = None,
    *,
    codebook: str | CodebookFamily = "grid",
    seed: int = 0,
    dtype: str = "float64",
    max_queries: int = MAX_EXHAUSTIVE_QUERIES,
    sample: int = CHAIN_SAMPLE_SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    save_to: str | None = None,
) -> MultiHopSummary:
    """Build at ``d`` (default: the smallest that works) and run every query up to
    ``max_queries`` of them, else a seeded sample of ``sample``.

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    hops : int
        H, hops per query.
    steps : int
        L, forward passes per query (chain of thought).
    max_queries : int, optional
        Check a seeded sample of this many queries when there are more; None checks every query.
    sample : int, optional
        Queries checked per seed, a seeded uniform sample; None checks every query (up to the work
        limit).
    save_to : str, optional
        Write the construction there before recall (what :func:`geoconstruct.io.load` reads).

    Examples
    --------
    >>> summary = multi_hop_summary(64, 2, hops=2, steps=2)
    >>> summary.n_correct, summary.total_queries, summary.pass_correct
    (256, 256, [256, 256])
    """
    family = resolve_codebook(codebook)
    minimum = multi_hop_dimension(n_entities, n_relations, hops, steps, codebook=family)
    start = time.perf_counter()
    construction = construct_multi_hop(
        n_entities,
        n_relations,
        hops,
        steps,
        minimum if d is None else d,
        codebook=family,
        seed=seed,
        dtype=dtype,
        memory_budget=memory_budget,
    )
    saved = None if save_to is None else str(save(construction, save_to))
    built = time.perf_counter()
    report = construction.recall(
        sample=chain_sample(construction.total_queries, max_queries, sample),
        seed=seed,
        memory_budget=memory_budget,
    )
    finished = time.perf_counter()
    g = construction.metadata.hops_per_pass
    config, bound = construction.config, construction.metadata.attention_bound
    bits = family.digit_bits or numeric_format(dtype).bits
    return MultiHopSummary(
        n_entities=n_entities,
        n_relations=n_relations,
        hops=hops,
        steps=steps,
        hops_per_pass=g,
        passes=len(report.pass_correct),
        codebook=family.name,
        seed=seed,
        dtype=dtype,
        d_model=config.d_model,
        required_d=minimum,
        chains_per_pass=chain_count(n_relations, g),
        code_length=construction.codebook.code_length,
        entity_dim=construction.residual.size("subject"),
        residual_layout=construction.residual.as_dict(),
        n_heads=config.n_heads,
        d_head=config.d_head,
        d_mlp=config.d_mlp,
        d_vocab=config.d_vocab,
        params_total=config.n_params(),
        score_gap=bound.score_gap,
        leakage_bound=bound.leakage_bound,
        output_error_bound=bound.output_error_bound,
        decoding_tolerance=bound.decoding_tolerance,
        bits=bits,
        per_pass_bits=per_pass_bits(n_entities, n_relations, g),
        per_pass_min_d_s=per_pass_min_dimension(n_entities, n_relations, g, bits),
        n_queries=report.n_queries,
        total_queries=report.total_queries,
        n_facts=report.n_facts,
        sampled=report.sampled,
        n_correct=report.n_correct,
        accuracy=report.accuracy,
        pass_correct=list(report.pass_correct),
        min_margin=report.min_margin,
        failures=[failure._asdict() for failure in report.failures],
        construct_seconds=built - start,
        recall_seconds=finished - built,
        saved=saved,
    )


@dataclass(frozen=True)
class BoundsRow:
    """The subject subspace and ``d_model`` one construction uses, beside the per-subject bound."""

    layout: str
    codebook: str
    d_s: int
    ratio_to_per_subject: float
    d: int

    COLUMNS: ClassVar[Columns] = (
        ("layout", "layout", "{}"),
        ("codebook", "codebook", "{}"),
        ("d_s", "d_s", "{}"),
        ("d_s / per-subject bound", "ratio_to_per_subject", "{:.2f}"),
        ("d", "d", "{}"),
    )


@dataclass(frozen=True)
class BoundsSummary:
    """The information-theoretic lower bounds for N, R at p bits, and the constructions' sizes."""

    n_subjects: int
    n_relations: int
    bits: int
    global_bits: float
    global_min_params: int
    per_subject_bits: float
    per_subject_min_d_s: int
    packing_min_k: int
    constructions: list[BoundsRow]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


BOUNDS_SETTINGS: tuple[tuple[str, CodebookFamily], ...] = (
    ("block", resolve_codebook("gaussian")),
    ("block", resolve_codebook("bch")),
    ("superposed", resolve_codebook("gaussian")),
    ("superposed", codebook_family("bch", max_coherence=0.875)),
)
"""The unit-code constructions :func:`bounds_summary` lists after grid codes at p bits."""


def bounds_summary(n_subjects: int, n_relations: int, bits: int = 8) -> BoundsSummary:
    """The lower bounds beside grid codes at ``bits`` and the unit-code constructions.

    Any ``bits >= 1`` bounds; grid digits are at most 16 bits wide, so from 17 bits on the grid
    row uses 16-bit digits. ``N >= 2``: with one subject every bound is 0 and no ratio is defined.


    Examples
    --------
    >>> summary = bounds_summary(65536, 4, bits=8)
    >>> summary.per_subject_min_d_s, [row.d_s for row in summary.constructions][:1]
    (8, [8])
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    per_subject_d_s = per_subject_min_dimension(n_subjects, n_relations, bits)
    rows = []
    grid = codebook_family("grid", bits=min(bits, MAX_GRID_BITS))
    for layout, family in (("block", grid), *BOUNDS_SETTINGS):
        d_s = subject_dimension(n_subjects, n_relations, layout=layout, codebook=family)
        rows.append(
            BoundsRow(
                layout=layout,
                codebook=family.name,
                d_s=d_s,
                ratio_to_per_subject=d_s / max(per_subject_d_s, 1),
                d=proven_dimension(n_subjects, n_relations, layout=layout, codebook=family),
            )
        )
    return BoundsSummary(
        n_subjects=n_subjects,
        n_relations=n_relations,
        bits=bits,
        global_bits=global_bits(n_subjects, n_relations),
        global_min_params=global_min_params(n_subjects, n_relations, bits),
        per_subject_bits=per_subject_bits(n_subjects, n_relations),
        per_subject_min_d_s=per_subject_d_s,
        packing_min_k=packing_min_code_length(n_subjects, 0.5) if n_subjects > 1 else 1,
        constructions=rows,
    )
