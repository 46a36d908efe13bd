"""The superposed theorem's numbers: the failure bound and the shortest code with a proof.

For random codes and ``R >= 2`` (``proofs/superposed_recall.md``), the margin of a query against
one wrong attribute is below γ with probability ``p_k = E_c[P(S > x(c))]``: S a sum of ``R − 1``
independent sphere coordinates (the crosstalk, exactly, given the codes), ``x(c) = ‖z‖/2 − γ/‖z‖``
with ``‖z‖ = √(2(1 − c))``, and c the inner product of two independent codes. The union bound over
the ``N(N−1)R`` (query, wrong attribute) pairs is :func:`superposed_failure_bound`, and
:func:`superposed_code_length` is the smallest k at which it is at most δ.

* Theorem 1 (closed form): ``p_k <= exp(−k(8R − 9 − 16γ(R−1)) / (32(R−1)²))``
  (:func:`exponential_code_length`), monotone in k.
* Theorem 2 (the exact tail, every R): ``P(S > x)`` bracketed by the lattice convolution of
  :func:`~geoconstruct.codes.sphere.coordinate_sum_tail` (``R = 2``: the sphere tail itself), and
  the average over c by an upper Riemann–Stieltjes sum over :data:`TAIL_GRID` intervals (sphere
  codes) or the exact binomial sum (sign codes) (:func:`pair_failure`).

The bound used is the smaller of the two. Every default (δ, γ) is read when a function is called.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from geoconstruct._validation import require_choice, require_int
from geoconstruct.codes.sphere import coordinate_sum_tail, coordinate_tail

__all__ = [
    "INNER_PRODUCT_LAWS",
    "ROUNDING_MARGIN",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "TAIL_GRID",
    "exponential_code_length",
    "pair_failure",
    "pair_failure_bracket",
    "superposed_code_length",
    "superposed_failure_bound",
]

FloatArray = npt.NDArray[np.float64]

SUPERPOSED_FAILURE_PROBABILITY = 0.01
"""δ in the superposed dimension formula: recall fails with probability at most δ."""

ROUNDING_MARGIN = 2.0**-16
"""The exact logit margin (gamma in the proof) the superposed theorem guarantees beside recall, so
that a computed forward pass whose every logit is within half of it of the exact one recalls the
same facts (``proofs/superposed_recall.md``, Rounding)."""

TAIL_GRID = 16384
"""Intervals of the code inner product's range ``[-1, 1]`` in the upper sum over the codes."""

INNER_PRODUCT_LAWS = ("sphere", "signs")
"""The laws of two random codes' inner product: ``"sphere"`` (gaussian codes, uniform on the
sphere) and ``"signs"`` (rademacher codes, ``c = (k - 2j)/k`` with j binomial)."""


def _resolve(margin: float | None, failure_probability: float | None = None) -> tuple[float, float]:
    """γ and δ, the module's constants where not given (read now, not when defined)."""
    gamma = ROUNDING_MARGIN if margin is None else float(margin)
    delta = SUPERPOSED_FAILURE_PROBABILITY if failure_probability is None else failure_probability
    return gamma, float(delta)


def _rate(n_relations: int, margin: float) -> float:
    """Theorem 1's exponent per coordinate, ``(8R − 9 − 16γ(R−1)) / (32(R−1)²)``."""
    less_one = n_relations - 1
    return (8 * n_relations - 9 - 16 * margin * less_one) / (32 * less_one**2)


def exponential_code_length(
    n_subjects: int,
    n_relations: int,
    failure_probability: float | None = None,
    margin: float | None = None,
) -> int:
    """Theorem 1's k: ``⌈32(R−1)²/(8R − 9 − 16γ(R−1)) · ln(N(N−1)R/δ)⌉``.

    Parameters
    ----------
    failure_probability : float, optional
        δ; :data:`SUPERPOSED_FAILURE_PROBABILITY` if None.
    margin : float, optional
        γ; :data:`ROUNDING_MARGIN` if None.

    Examples
    --------
    >>> [exponential_code_length(4096, relations) for relations in (2, 4, 8)]
    [101, 284, 665]
    """
    gamma, delta = _resolve(margin, failure_probability)
    pairs = n_subjects * (n_subjects - 1) * n_relations
    return math.ceil(math.log(pairs / delta) / _rate(n_relations, gamma))


def pair_failure(
    code_length: int,
    n_relations: int,
    margin: float | None = None,
    inner_products: str = "sphere",
) -> float:
    """Theorem 2's bound on ``P(margin against one wrong attribute < γ)``, over the codes and
    the read maps: the upper end of :func:`pair_failure_bracket`.

    Parameters
    ----------
    margin : float, optional
        γ; :data:`ROUNDING_MARGIN` if None.
    inner_products : {"sphere", "signs"}
        The law of two codes' inner product (:data:`INNER_PRODUCT_LAWS`).

    Examples
    --------
    >>> 0 < pair_failure(75, 2) < pair_failure(74, 2) < 1e-9
    True
    """
    return pair_failure_bracket(code_length, n_relations, margin, inner_products)[1]


def pair_failure_bracket(
    code_length: int,
    n_relations: int,
    margin: float | None = None,
    inner_products: str = "sphere",
) -> tuple[float, float]:
    """``p_k`` bracketed: a lower and an upper bound (the upper one is the theorem's).

    Their ratio is the numerical error of the evaluation: the lattice's ``(R − 1)·h`` and the
    code grid's interval width (``proofs/superposed_recall.md``, Arithmetic).

    Parameters
    ----------
    margin : float, optional
        γ; :data:`ROUNDING_MARGIN` if None.
    inner_products : {"sphere", "signs"}
        The law of two codes' inner product.

    Examples
    --------
    >>> low, high = pair_failure_bracket(245, 4)
    >>> bool(0 < low <= high < 1.2 * low)
    True
    """
    code_length = require_int("code_length", code_length, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=2)
    law = require_choice("inner_products", inner_products, INNER_PRODUCT_LAWS)
    gamma, _ = _resolve(margin)
    return _bracket(code_length, n_relations, gamma, law)


@functools.lru_cache(maxsize=1024)
def _bracket(code_length: int, n_relations: int, margin: float, law: str) -> tuple[float, float]:
    """:func:`pair_failure_bracket` with every argument given (remembered: a search asks often)."""
    k, terms = code_length, n_relations - 1
    upper_tail: Callable[[npt.ArrayLike], FloatArray]
    lower_tail: Callable[[npt.ArrayLike], FloatArray]
    if terms == 1:  # one crosstalk vector: the sphere tail itself, exactly
        upper_tail = lower_tail = functools.partial(coordinate_tail, k)
    else:
        law_of_sum = coordinate_sum_tail(k, terms)
        upper_tail, lower_tail = law_of_sum.upper, law_of_sum.lower
    if law == "signs":  # c = (k − 2j)/k with j ~ Binomial(k, 1/2): a finite sum
        flips = np.arange(k + 1)
        log_choose = gammaln(k + 1) - gammaln(flips + 1) - gammaln(k - flips + 1)
        weights = np.exp(log_choose - k * math.log(2.0))
        thresholds = _threshold((k - 2 * flips) / k, margin)
        return (
            float(np.sum(weights * lower_tail(thresholds))),
            float(np.sum(weights * upper_tail(thresholds))),
        )
    edges = np.linspace(-1.0, 1.0, TAIL_GRID + 1)
    left, right = edges[:-1], edges[1:]
    # P(left < c <= right), from the side of [−1, 1] where its terms are small (no 1 − tail):
    # P(c <= x) = T_k(−x) by symmetry, and P(c > x) = T_k(x)
    below = coordinate_tail(k, -right) - coordinate_tail(k, -left)
    above = coordinate_tail(k, left) - coordinate_tail(k, right)
    weights = np.maximum(np.where(right <= 0, below, above), 0.0)
    # the integrand P(S > x(c)) increases in c: right ends bound it above, left ends below
    upper = float(np.sum(weights * upper_tail(_threshold(right, margin))))
    lower = float(np.sum(weights * lower_tail(_threshold(left, margin))))
    return lower, upper


def _threshold(inner: FloatArray, margin: float) -> FloatArray:
    """``x(c) = ‖z‖/2 − γ/‖z‖`` at code inner products c (−∞ where the codes coincide)."""
    distance = np.sqrt(np.maximum(2.0 * (1.0 - inner), 0.0))
    safe = np.where(distance > 0, distance, 1.0)
    threshold: FloatArray = np.where(distance > 0, distance / 2 - margin / safe, -np.inf)
    return threshold


def superposed_failure_bound(
    n_subjects: int,
    n_relations: int,
    code_length: int,
    margin: float | None = None,
    inner_products: str = "sphere",
) -> float:
    """A bound on the probability that some fact of the superposed layout (random codes,
    ``R >= 2``) has an exact logit margin below γ: ``N(N−1)R`` times the smaller of Theorem 1's
    and Theorem 2's per-pair bounds, capped at 1.

    Parameters
    ----------
    margin : float, optional
        γ; :data:`ROUNDING_MARGIN` if None.
    inner_products : {"sphere", "signs"}
        The law of two codes' inner product.

    Examples
    --------
    >>> superposed_failure_bound(4096, 4, 245) <= 0.01 < superposed_failure_bound(4096, 4, 244)
    True
    """
    gamma, _ = _resolve(margin)
    pairs = n_subjects * (n_subjects - 1) * n_relations
    exponential = math.exp(-code_length * _rate(n_relations, gamma))
    exact = pair_failure(code_length, n_relations, gamma, inner_products)
    return min(1.0, pairs * min(exponential, exact))


def superposed_code_length(
    n_subjects: int,
    n_relations: int,
    failure_probability: float | None = None,
    margin: float | None = None,
    inner_products: str = "sphere",
) -> int:
    """The shortest random code at which :func:`superposed_failure_bound` is at most δ
    (``R >= 2``, ``N >= 2``; ``proofs/superposed_recall.md``, Theorem 2).

    Parameters
    ----------
    failure_probability : float, optional
        δ; :data:`SUPERPOSED_FAILURE_PROBABILITY` if None.
    margin : float, optional
        γ; :data:`ROUNDING_MARGIN` if None.
    inner_products : {"sphere", "signs"}
        The law of two codes' inner product.

    Examples
    --------
    >>> [superposed_code_length(4096, relations) for relations in (2, 3, 4, 8)]
    [75, 160, 245, 585]
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=2)
    n_relations = require_int("n_relations", n_relations, minimum=2)
    law = require_choice("inner_products", inner_products, INNER_PRODUCT_LAWS)
    gamma, delta = _resolve(margin, failure_probability)
    return _code_length(n_subjects, n_relations, delta, gamma, law)


@functools.lru_cache(maxsize=256)
def _code_length(n_subjects: int, n_relations: int, delta: float, margin: float, law: str) -> int:
    """:func:`superposed_code_length` with every argument given (remembered)."""

    def holds(k: int) -> bool:
        bound = superposed_failure_bound(n_subjects, n_relations, k, margin, law)
        return bound <= delta

    # Theorem 1's k holds, and so does the bound there; log p_k is close to linear in k, so two
    # evaluations place the crossing and a short walk finds the smallest k that holds
    high = max(2, exponential_code_length(n_subjects, n_relations, delta, margin))
    first, second = max(2, round(0.8 * high)), max(2, round(0.9 * high))
    k = high
    if second > first:
        pairs = n_subjects * (n_subjects - 1) * n_relations
        log_first = math.log(pairs * pair_failure(first, n_relations, margin, law))
        log_second = math.log(pairs * pair_failure(second, n_relations, margin, law))
        slope = (log_second - log_first) / (second - first)
        if slope < 0:
            k = round(second + (math.log(delta) - log_second) / slope)
            k = min(high, max(2, k))
    while not holds(k):
        k += 1
    while k > 2 and holds(k - 1):
        k -= 1
    return k
