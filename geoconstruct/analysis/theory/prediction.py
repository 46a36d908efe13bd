"""Where the transition is: the paper's construction's expected accuracy at any d (an estimate).

For the superposed layouts with random unit codes (gaussian, and rademacher as an approximation),
the read-out of query ``(s, r)`` is ``y = u_a + ξ``, ``a = π_r(s)``, with crosstalk
``ξ = Σ_{r'≠r} B_rᵀ B_{r'} u_{π_{r'}(s)}``: a sum of R − 1 independent uniform unit vectors
(each ``B_rᵀ B_{r'}`` is Haar). The query is answered iff ``⟨y, u_a⟩ > ⟨y, u_b⟩`` for every
other attribute b. The estimate (``docs/design.md``, "The predicted transition", states each
approximation) takes

* the cosine ``c = ⟨y, u_a⟩ / ‖y‖`` with ``⟨y, u_a⟩ = 1 + g`` and ``‖y‖² = R + 2g + h``, where
  ``g ~ N(0, (R−1)/k)`` and ``h ~ N(0, 2(R−1)(R−2)/k)`` (the codes' cross terms);
* the other N − 1 attributes as independent uniform directions, each beating the answer with the
  exact spherical-cap probability ``q_k(c) = P(⟨u, e⟩ ≥ c) = ½ I_{1−c²}((k−1)/2, ½)``;

so ``accuracy(k) = E_{g,h}[(1 − q_k(c))^{N−1}]``, computed by Gauss-Hermite quadrature. With
one relation there is no crosstalk and only float32's resolution limits recall: the answer loses
to a code whose cosine with it is within :data:`FLOAT32_RESOLUTION` of 1. It is an
estimate, not a theorem: the distractors share y and the codes, and float rounding is left out.
Its regime is small crosstalk, ``k >= max(16, 10(R − 1))`` (:func:`regime_code_length`); below
it, near chance, the Gaussian ``g`` is a poor model and the estimate is not monotone in ``k``.
:func:`predicted_min_dimension` is the smallest d at which the expected number of failing facts
over ``n_seeds`` constructions is at most ln 2, the median of "every seed recalls every fact".

Every function takes ``memory``: ``"geometric"`` (the above, the default) or an associative
memory at any d with random keys (``"outer_product"``, ``"key_value"``,
:func:`~geoconstruct.constructions.baselines.construct_baseline` with ``d``), whose estimates
are :mod:`~geoconstruct.analysis.theory.memory_prediction`'s, or ``"multi_hop"``, the superposed
multi-hop construction answering ``hops`` hops in ``steps`` passes (``g = ⌈H/L⌉`` a pass): each
pass is one lookup with the ``D_g`` chain codes superposed, the estimate above with ``D_g`` in
place of R; a chain is answered if each of its L lookups is, and every chain is iff each of the
``N·R^g`` lookups is. ``layout`` is the geometric construction's only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from geoconstruct._validation import require_choice, require_int, require_probability
from geoconstruct.analysis.theory.memory_prediction import (
    QUADRATURE_NODES,
    key_value_accuracy,
    outer_product_accuracy,
)
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.baselines import KEY_VALUE_THRESHOLD, memory_code_lengths
from geoconstruct.constructions.layouts import Layout, resolve_layout
from geoconstruct.constructions.multi_hop import chain_count, hops_per_pass
from geoconstruct.constructions.single_hop_sizes import DEFAULT_CODEBOOK, DEFAULT_LAYOUT

__all__ = [
    "FLOAT32_RESOLUTION",
    "MEDIAN_FAILURES",
    "MEMORIES",
    "Prediction",
    "has_prediction",
    "predict",
    "predicted_accuracy",
    "predicted_code_length",
    "predicted_min_dimension",
    "predicted_success",
    "predicted_success_dimension",
    "regime_code_length",
]

MEDIAN_FAILURES = math.log(2)
"""Expected failing facts over all seeds at the predicted min d: with Poisson failures, every seed
recalls every fact there with probability ½."""

FLOAT32_RESOLUTION = 2.0**-24
"""ε, float32's unit roundoff: codes whose cosine is within ε of 1 are taken as told apart by no
float32 pass (the tables run in float32); this alone limits one relation, without crosstalk."""

MEMORIES = ("geometric", "outer_product", "key_value", "multi_hop")
"""The memories with a predicted transition: the paper's construction, the associative memories
at any d with random keys, and the superposed multi-hop construction (H hops in L passes)."""


@dataclass(frozen=True)
class Prediction:
    """The estimate at one d: expected accuracy and failing facts of one construction.

    ``in_regime`` says whether the code length is in the estimate's regime
    (:func:`regime_code_length`); outside it the numbers are near chance and only indicative.
    """

    n_subjects: int
    n_relations: int
    d: int
    code_length: int
    accuracy: float
    failing_facts: float
    in_regime: bool


def regime_code_length(n_relations: int) -> int:
    """The shortest code length in the estimate's regime: ``max(16, 10(R − 1))``.

    There the crosstalk's component along the answer, ``g ~ N(0, (R−1)/k)``, has standard
    deviation at most about ⅓, and the estimate rises with ``k`` (checked by hypothesis in
    ``tests/test_prediction.py``); below it the estimate is near chance and not monotone.

    Examples
    --------
    >>> [regime_code_length(r) for r in (1, 2, 4, 8)]
    [16, 16, 30, 70]
    """
    n_relations = require_int("n_relations", n_relations, minimum=1)
    return max(16, 10 * (n_relations - 1))


def has_prediction(
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    memory: str = "geometric",
) -> bool:
    """Whether the estimate covers this memory, layout and codebook (random codes; for the
    geometric construction, a superposed layout).

    Examples
    --------
    >>> has_prediction(), has_prediction("block", "grid"), has_prediction(codebook="bch")
    (True, False, False)
    >>> has_prediction(memory="outer_product"), has_prediction("block", memory="key_value")
    (True, True)
    """
    family = resolve_codebook(codebook)
    if require_choice("memory", memory, MEMORIES) != "geometric":
        return family.random and family.unit_norm  # multi_hop: its superposed layout
    # random codes, each uniform on the sphere (rademacher codes are treated as if they were)
    return resolve_layout(layout).relations.superposed and family.random


@dataclass(frozen=True)
class _Model:
    """One memory's estimate: its accuracy at code length k, and how k and d are related."""

    memory: str
    layout: Layout
    n_relations: int
    hops: int = 1
    steps: int = 1

    @property
    def hops_per_pass(self) -> int:
        return -(-self.hops // self.steps)

    @property
    def lookups_per_subject(self) -> int:
        """Lookups one subject is asked: R, or R^g chains of one pass (multi-hop)."""
        return int(self.n_relations**self.hops_per_pass)

    def dimension(self, code_length: int) -> int:
        if self.memory == "geometric":
            return self.layout.dimension(self.n_relations, code_length)
        if self.memory == "multi_hop":  # entity, output, relation, slots, positions
            return 2 * code_length + (self.n_relations + 2) * (self.hops_per_pass + 1)
        per_k = 1 if self.memory == "outer_product" else 2  # key and code share k, or not
        return self.n_relations + per_k * code_length

    def code_length_at(self, d: int) -> int:
        if self.memory == "geometric":
            return self.layout.code_length_at(self.n_relations, d)
        if self.memory == "multi_hop":
            return (d - (self.n_relations + 2) * (self.hops_per_pass + 1)) // 2
        return memory_code_lengths(self.memory, self.n_relations, d)[1]

    def accuracy(self, n_subjects: int, code_length: int) -> float:
        """One lookup's: a pass's, for multi-hop (its D_g chain codes superposed)."""
        if self.memory == "outer_product":
            return outer_product_accuracy(n_subjects, code_length)
        if self.memory == "key_value":
            return key_value_accuracy(n_subjects, code_length, KEY_VALUE_THRESHOLD)
        superposed = chain_count(self.n_relations, self.hops_per_pass)
        if superposed == 1:
            return _accuracy_without_crosstalk(n_subjects, code_length)
        return _accuracy(n_subjects, superposed, code_length)

    def in_regime(self, n_subjects: int, code_length: int) -> bool:
        if self.memory == "outer_product":  # the estimate rises with k from k = √N on
            return code_length**2 >= n_subjects
        if self.memory == "key_value":
            return True
        return code_length >= regime_code_length(self.n_relations)


def _require_covered(
    layout: str | Layout,
    codebook: str | CodebookFamily,
    memory: str,
    n_relations: int,
    hops: int = 1,
    steps: int = 1,
) -> _Model:
    if not has_prediction(layout, codebook, memory):
        family = resolve_codebook(codebook).name
        if memory == "geometric":
            raise ValueError(
                f"no predicted transition for layout={resolve_layout(layout).name!r} with "
                f"codebook={family!r}: the estimate covers the superposed layouts with random "
                "codes (gaussian, rademacher)"
            )
        raise ValueError(
            f"no predicted transition for the {memory} memory with codebook={family!r}: the "
            "estimate covers random unit codes (gaussian, rademacher)"
        )
    if memory != "multi_hop" and (hops, steps) != (1, 1):
        raise ValueError(f"hops and steps apply to memory='multi_hop', not to {memory!r}")
    hops_per_pass(hops, steps)  # validates them
    return _Model(memory, resolve_layout(layout), n_relations, hops, steps)


def _accuracy_without_crosstalk(n_subjects: int, code_length: int) -> float:
    """One relation (``y = u_a`` exactly): the answer loses only to a code whose cosine with it
    is within :data:`FLOAT32_RESOLUTION` of 1, ``(1 − q_k(1 − ε))^{N−1}``."""
    if code_length < 2:
        return 0.0
    threshold = 1.0 - FLOAT32_RESOLUTION
    near = 0.5 * float(special.betainc((code_length - 1) / 2, 0.5, 1.0 - threshold**2))
    return math.exp((n_subjects - 1) * math.log1p(-min(near, 1.0 - 1e-300)))


def _accuracy(n_subjects: int, n_relations: int, code_length: int) -> float:
    """``E[(1 − q_k(c))^{N−1}]`` over g and h (see the module docstring)."""
    k, n_rel = code_length, n_relations
    if k < 2:
        return 0.0
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    weights = weights / weights.sum()
    g = nodes[:, None] * math.sqrt((n_rel - 1) / k)  # ⟨ξ, u_a⟩
    h = nodes[None, :] * math.sqrt(2 * (n_rel - 1) * (n_rel - 2) / k)  # ‖ξ‖² − (R − 1)
    cosine = (1 + g) / np.sqrt(np.maximum(n_rel + 2 * g + h, 1e-12))
    cap = 0.5 * special.betaincc(0.5, (k - 1) / 2, np.minimum(cosine**2, 1.0))
    beaten = np.where(cosine >= 0, cap, 1.0 - cap)  # P(one other attribute scores higher)
    with np.errstate(divide="ignore"):
        log_correct = (n_subjects - 1) * np.log1p(-np.minimum(beaten, 1.0))
    accuracy = float((weights[:, None] * weights[None, :] * np.exp(log_correct)).sum())
    return min(max(accuracy, 0.0), 1.0)  # the weights sum to 1 up to rounding


def predict(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> Prediction:
    """The estimate at ``d`` (the code length that fits it; see :func:`predicted_accuracy`)."""
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    model = _require_covered(layout, codebook, memory, n_relations, hops, steps)
    smallest = model.dimension(1)  # a code of one coordinate
    d = require_int("d", d, minimum=1)
    if d < smallest:
        raise ValueError(
            f"d={d} cannot be assembled for the {memory} memory with R={n_relations}: "
            f"the smallest d is {smallest}"
        )
    k = model.code_length_at(d)
    lookup = model.accuracy(n_subjects, k)  # a chain of L passes needs each of its lookups
    return Prediction(
        n_subjects=n_subjects,
        n_relations=n_relations,
        d=d,
        code_length=k,
        accuracy=lookup ** -(-model.hops // model.hops_per_pass),
        failing_facts=n_subjects * model.lookups_per_subject * (1.0 - lookup),
        in_regime=model.in_regime(n_subjects, k),
    )


def predicted_accuracy(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> float:
    """The expected share of facts a construction at ``d`` recalls (an estimate, not a bound).

    Returns
    -------
    float
        ``E[accuracy]`` over the draw; the expected number of failing facts is
        ``N·R·(1 − accuracy)`` (:func:`predict` returns both).

    Raises
    ------
    ValueError
        For a layout or codebook the estimate does not cover.

    Examples
    --------
    >>> round(predicted_accuracy(4096, 4, 120), 3), predicted_accuracy(4096, 4, 400) > 0.999999
    (0.99, True)
    """
    return predict(
        n_subjects,
        n_relations,
        d,
        layout=layout,
        codebook=codebook,
        memory=memory,
        hops=hops,
        steps=steps,
    ).accuracy


def predicted_code_length(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    n_seeds: int = 5,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> int:
    """The code length of :func:`predicted_min_dimension`.

    Parameters
    ----------
    n_seeds : int
        How many seeds must all recall every fact.
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    n_seeds = require_int("n_seeds", n_seeds, minimum=1)
    model = _require_covered(layout, codebook, memory, n_relations, hops, steps)
    return _code_length_failing_at_most(model, n_subjects, MEDIAN_FAILURES / n_seeds)


def _code_length_failing_at_most(model: _Model, n_subjects: int, failures: float) -> int:
    """The smallest k whose expected failing facts (one construction) are at most ``failures``."""

    def failing(k: int) -> float:  # decreasing in k in the estimate's regime
        return n_subjects * model.lookups_per_subject * (1 - model.accuracy(n_subjects, k))

    low, high = 1, 2  # failing(low) > failures >= failing(high)
    while failing(high) > failures:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if failing(middle) <= failures else (middle, high)
    return high


def predicted_success(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> float:
    """The estimate's probability that a construction at ``d`` recalls every fact:
    ``exp(−failing facts)``, failures taken as Poisson.

    Examples
    --------
    >>> round(predicted_success(4096, 4, 192), 2), round(predicted_success(4096, 4, 223), 3)
    (0.53, 0.952)
    """
    failing = predict(
        n_subjects,
        n_relations,
        d,
        layout=layout,
        codebook=codebook,
        memory=memory,
        hops=hops,
        steps=steps,
    ).failing_facts
    return math.exp(-failing)


def predicted_success_dimension(
    n_subjects: int,
    n_relations: int,
    probability: float = 0.5,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> int:
    """The estimate's ``d_q``: the smallest d at which :func:`predicted_success` is at least q.

    Parameters
    ----------
    probability : float
        q in (0, 1): 0.5 for ``d_50``, 0.95 for ``d_95``.

    Examples
    --------
    >>> [predicted_success_dimension(4096, 4, q) for q in (0.5, 0.95)]
    [192, 223]
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    probability = require_probability("probability", probability)
    model = _require_covered(layout, codebook, memory, n_relations, hops, steps)
    k = _code_length_failing_at_most(model, n_subjects, -math.log(probability))
    return model.dimension(k)


def predicted_min_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    n_seeds: int = 5,
    memory: str = "geometric",
    hops: int = 1,
    steps: int = 1,
) -> int:
    """The predicted smallest d at which every one of ``n_seeds`` seeds recalls every fact.

    The smallest d whose expected number of failing facts over ``n_seeds`` constructions is at
    most ln 2 (:data:`MEDIAN_FAILURES`): the median of the measured minimum, were failures
    Poisson. The measured search (:func:`~geoconstruct.analysis.measurement.dimension_search.
    measure_min_dimension`) starts here.

    Parameters
    ----------
    n_seeds : int
        Seeds that must all recall every fact.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For a layout or codebook the estimate does not cover.

    Examples
    --------
    >>> [predicted_min_dimension(16_384, r) for r in (2, 4, 8)]
    [79, 243, 583]
    >>> [predicted_min_dimension(1024, 1, memory=m) for m in ("outer_product", "key_value")]
    [251, 51]
    """
    k = predicted_code_length(
        n_subjects,
        n_relations,
        layout=layout,
        codebook=codebook,
        n_seeds=n_seeds,
        memory=memory,
        hops=hops,
        steps=steps,
    )
    return _Model(memory, resolve_layout(layout), n_relations, hops, steps).dimension(k)
