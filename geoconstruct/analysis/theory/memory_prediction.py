"""Where the associative memories' transitions are: their expected accuracy at a code length k
(estimates from the distribution of their logit gaps, as for the geometric construction; not
theorems). ``docs/design.md``, "The capacity law of every memory", derives both.

Each relation's memory holds N pairs and answers its queries independently of the others, so
the accuracy of one query is a function of N and k alone; a construction of R relations fails
``N·R·(1 − accuracy)`` facts on average.

**Outer product** (``y = u_a + ξ``, ``ξ = Σ_{t≠s} c_t u_{π(t)}``, ``c_t = ⟨x_t, x_s⟩`` the key
overlaps, each of variance ``1/k``). The answer scores ``1 + g`` with ``g = ⟨u_a, ξ⟩ ~ N(0,
(N−1)/k²)``; a distractor b, stored under key ``t_b``, scores ``c_{t_b} + ⟨u_b, y − c_{t_b}
u_b⟩ ~ N(0, (1 + ‖y‖²)/k)``, with ``‖y‖² = 1 + (N−1)/k + 2g + h`` and ``h`` the fluctuation of
``‖ξ‖²`` (variance ``2(N−1)/k² + 2(N−1)(N−2)/k³``). Taking the N − 1 distractors as independent
given ``(g, h)``: ``accuracy = E[(1 − Q((1 + g)/σ))^{N−1}]``, ``σ² = (1 + ‖y‖²)/k``.
Asymptotically half the queries are answered at ``k² ≈ 2 N ln N`` (the conjectured constant;
the estimate gives 1.7–1.9 for N from 2^10 to 2^20, the corrections falling like
``ln ln N / ln N``), and every one of N·R at ``k² ≈ 4 N ln(N²R)``: the union is over every
(query, distractor) pair, and the answer's own ``g`` counts as much as the distractor's score.
The estimate rises with k from ``k = √N`` on (its regime); below, near chance, it need not.

**Key-value** (``y = u_a + Σ_{t≠s} w_t u_{π(t)}``, ``w_t = relu(c_t − θ)/(1 − θ)``). A distractor
b scores ``v + w_b + z`` against the answer's ``1 + g``, with ``v = ⟨u_a, u_b⟩`` and ``c_{t_b}``
of the exact law of two random unit vectors' inner product in k dimensions, and the crowd of
the other units ``g, z ~ N(0, (N−1)·E[w²]/k)``; the probability is integrated on a grid of c
and v.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = [
    "QUADRATURE_NODES",
    "key_value_accuracy",
    "outer_product_accuracy",
    "unit_inner_product_density",
]

QUADRATURE_NODES = 48
"""Gauss-Hermite nodes in each Gaussian integrated over (every estimate's)."""

GRID = 2001
"""Points of the grids on [-1, 1] over which the key-value estimate integrates c and v."""


def unit_inner_product_density(k: int, points: np.ndarray) -> np.ndarray:
    """The density of ``⟨x, y⟩`` for independent uniform unit vectors in ``R^k`` (``k >= 2``):
    ``(1 − c²)^{(k−3)/2} / B(½, (k−1)/2)`` on ``(−1, 1)``.

    Parameters
    ----------
    k : int
        The dimension.
    points : ndarray
        Where to evaluate it.

    Examples
    --------
    >>> grid = np.linspace(-1, 1, 20001)
    >>> round(float(np.trapezoid(unit_inner_product_density(50, grid), grid)), 6)
    1.0
    """
    inside = np.clip(1.0 - points**2, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):  # the ends, where the density is 0
        log_density = 0.5 * (k - 3) * np.log(inside) - special.betaln(0.5, 0.5 * (k - 1))
    return np.where(inside > 0, np.exp(log_density), 0.0)


def _upper_tail(x: np.ndarray) -> np.ndarray:
    """``Q(x) = P(Z > x)`` for a standard normal Z (scipy.special, not scipy.stats: importing
    the latter probes for torch)."""
    tail: np.ndarray = special.ndtr(-np.asarray(x))
    return tail


def _hermite() -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    return nodes, weights / weights.sum()


def outer_product_accuracy(n_subjects: int, code_length: int) -> float:
    """The outer-product memory's expected share of queries answered, at key and code length k
    (module docstring).

    Parameters
    ----------
    code_length : int
        k, the length of the keys and of the codes.

    Examples
    --------
    >>> [round(outer_product_accuracy(1024, k), 2) for k in (100, 118, 160, 240)]
    [0.34, 0.54, 0.9, 1.0]
    """
    n, k = n_subjects, code_length
    if k < 2:
        return 0.0
    nodes, weights = _hermite()
    g = nodes[:, None] * math.sqrt((n - 1) / k**2)
    h = nodes[None, :] * math.sqrt(2 * (n - 1) / k**2 + 2 * (n - 1) * (n - 2) / k**3)
    norm2 = np.maximum(1 + (n - 1) / k + 2 * g + h, 1e-12)
    beaten = _upper_tail((1 + g) / np.sqrt((1 + norm2) / k))
    with np.errstate(divide="ignore"):
        log_correct = (n - 1) * np.log1p(-beaten)
    accuracy = float((weights[:, None] * weights[None, :] * np.exp(log_correct)).sum())
    return min(max(accuracy, 0.0), 1.0)


def key_value_accuracy(n_subjects: int, code_length: int, threshold: float) -> float:
    """The key-value memory's expected share of queries answered, at key and code length k and
    firing threshold θ (module docstring).

    Parameters
    ----------
    code_length : int
        k, the length of the keys and of the codes.
    threshold : float
        θ, in (0, 1).

    Examples
    --------
    >>> [round(key_value_accuracy(1024, k, 0.5), 2) for k in (10, 14, 18, 24)]
    [0.03, 0.19, 0.76, 1.0]
    """
    n, k, theta = n_subjects, code_length, threshold
    if k < 2:
        return 0.0
    grid = np.linspace(-1.0, 1.0, GRID)
    mass = unit_inner_product_density(k, grid)
    mass /= mass.sum()  # c (a key overlap) and v (a code overlap) on the grid
    weight = np.maximum(grid - theta, 0.0) / (1.0 - theta)  # w(c)
    # T = (1 − v)(1 − w(c)): the gap a distractor must close, on a grid over [0, 2]
    step = grid[1] - grid[0]
    gap_grid = np.arange(0.0, 2.0 + step, step)
    gap_mass = np.zeros(gap_grid.size)
    cells = np.rint((1.0 - grid[None, :]) * (1.0 - weight[:, None]) / step).astype(np.int64)
    np.add.at(gap_mass, cells.ravel(), (mass[:, None] * mass[None, :]).ravel())
    # the crowd: the answer's g and each distractor's z, N(0, (N−1)·E[w²]/k)
    spread = math.sqrt(max((n - 1) * float((mass * weight**2).sum()) / k, 1e-30))
    nodes, weights = _hermite()
    g = spread * nodes[:, None]
    beaten = (gap_mass[None, :] * _upper_tail((gap_grid[None, :] + g) / spread)).sum(axis=1)
    with np.errstate(divide="ignore"):
        answered = np.exp((n - 1) * np.log1p(-np.minimum(beaten, 1.0)))
    return min(max(float((weights * answered).sum()), 0.0), 1.0)
