"""The law of one coordinate of a uniform point of the sphere, and what random codes inherit.

For ``v`` uniform on ``S^{k-1}`` and any fixed unit vector ``e``, ``⟨v, e⟩`` has the law of the
first coordinate ``v_1``: ``v_1² ~ Beta(1/2, (k-1)/2)`` and ``v_1`` is symmetric, so
``P(v_1 > x) = ½·I_{1-x²}((k-1)/2, ½)`` for ``0 <= x <= 1`` (``I`` the regularised incomplete
beta function). Two independent codes drawn uniformly on the sphere have an inner product of this
law, and so has a random unit vector against any code: this module is where the superposed
theorem's exact tails (``proofs/superposed_recall.md``) and the packing bound
(``proofs/lower_bounds.md``) read it. :func:`coordinate_sum_tail` brackets the tail of a sum of
``m`` independent such coordinates (the crosstalk of ``R = m + 1`` superposed relations) by
rounding each coordinate up, or down, to a lattice and convolving exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betainc

from geoconstruct._validation import require_int

__all__ = ["LATTICE_STEPS", "SumTail", "cap_fraction", "coordinate_sum_tail", "coordinate_tail"]

LATTICE_STEPS = 8
"""Lattice points per ``1/k`` in :func:`coordinate_sum_tail`: the step is ``h = 1/(8k)``, so the
upper and lower brackets of a tail are the tail at two points ``m·h`` apart."""

CUTOFF_EXPONENT = 64.0
"""Coordinates above ``a = √(2·64/k)`` are counted as +∞ in the upper bracket (and dropped in the
lower one): each has probability at most ``e^-64 < 10^-27`` (the sub-Gaussian tail)."""

FloatArray = npt.NDArray[np.float64]


def coordinate_tail(dimension: int, x: npt.ArrayLike) -> FloatArray:
    """``P(v_1 > x)`` for ``v`` uniform on the unit sphere of ``R^dimension``, for every real x.

    Parameters
    ----------
    dimension : int
        ``k >= 2``.
    x : array_like
        Thresholds; ``-inf`` and ``inf`` are allowed.

    Returns
    -------
    ndarray
        The tail at each x, the shape of ``x``: 1 below −1, 0 above 1, ½ at 0.

    Examples
    --------
    >>> coordinate_tail(3, [-2.0, 0.0, 0.5, 1.0]).tolist()   # on S², v_1 is uniform on [−1, 1]
    [1.0, 0.5, 0.25, 0.0]
    """
    dimension = require_int("dimension", dimension, minimum=2)
    x = np.asarray(x, dtype=np.float64)
    inside = np.clip(1.0 - np.minimum(np.abs(x), 1.0) ** 2, 0.0, 1.0)
    upper_tail = 0.5 * betainc((dimension - 1) / 2, 0.5, inside)  # P(v_1 > |x|)
    tail: FloatArray = np.where(x >= 0, upper_tail, 1.0 - upper_tail)
    return tail


def cap_fraction(dimension: int, angle: float) -> float:
    """The fraction of the unit sphere in ``R^dimension`` within ``angle`` (<= π/2) of a point.

    ``½·I_{sin² angle}((dimension-1)/2, ½)``: the tail of one coordinate at ``cos(angle)``.

    Parameters
    ----------
    dimension : int
        n, the sphere is in R^n.
    angle : float
        The cap's angular radius, in [0, π/2].

    Examples
    --------
    >>> round(cap_fraction(2, math.pi / 4), 6), round(cap_fraction(3, math.pi / 3), 6)
    (0.25, 0.25)
    """
    dimension = require_int("dimension", dimension, minimum=2)
    if not 0.0 <= angle <= math.pi / 2:
        raise ValueError(f"angle must lie in [0, π/2], got {angle}")
    return 0.5 * float(betainc((dimension - 1) / 2, 0.5, math.sin(angle) ** 2))


@dataclass(frozen=True)
class SumTail:
    """The law of a sum of ``m`` independent sphere coordinates, rounded to the lattice ``h·Z``.

    ``up[i]`` is ``P(S_up >= (i − offset)·h)`` for ``S_up = Σ ⌈w_j/h⌉·h`` with every coordinate
    above the cutoff counted as +∞ (``infinite`` is that probability, added to every tail);
    ``down`` is the same for ``S_down = Σ ⌊w_j/h⌋·h`` with those coordinates dropped.
    ``S_down <= S <= S_up``, so :meth:`upper` and :meth:`lower` bracket ``P(S > x)``.
    """

    step: float
    offset: int
    up: FloatArray
    down: FloatArray
    infinite: float

    def upper(self, x: npt.ArrayLike) -> FloatArray:
        """An upper bound on ``P(S > x)`` at each x.

        Parameters
        ----------
        x : array_like
            Thresholds; ``-inf`` gives 1.
        """
        x = np.asarray(x, dtype=np.float64)
        # the first lattice index above x is floor(x/h) + 1; floor(x/h) may count one point more
        # under rounding of x/h, which only raises the bound
        index = np.floor(np.clip(x / self.step, -self.offset - 1, self.offset + 1))
        index = np.clip(index.astype(np.int64) + self.offset, 0, len(self.up))
        tails = np.append(self.up, 0.0)[index]
        bound: FloatArray = np.minimum(1.0, tails + self.infinite)
        return bound

    def lower(self, x: npt.ArrayLike) -> FloatArray:
        """A lower bound on ``P(S > x)`` at each x.

        Parameters
        ----------
        x : array_like
            Thresholds.
        """
        x = np.asarray(x, dtype=np.float64)
        index = np.floor(np.clip(x / self.step, -self.offset - 2, self.offset + 1)) + 2
        index = np.clip(index.astype(np.int64) + self.offset, 0, len(self.down))
        bound: FloatArray = np.append(self.down, 0.0)[index]
        return bound


def coordinate_sum_tail(dimension: int, terms: int) -> SumTail:
    """Bracket the tail of ``S = w_1 + … + w_m``, the ``w_j`` independent coordinates of uniform
    points of the sphere in ``R^dimension`` (``proofs/superposed_recall.md``, Theorem 2).

    Each ``w_j`` is rounded up (and, for the lower bracket, down) to the lattice ``h·Z``,
    ``h = 1/(LATTICE_STEPS·k)``, with the probability of each lattice cell from the exact law
    (:func:`coordinate_tail`); the m-fold law of the rounded sum is an exact convolution of
    non-negative terms (float64, no cancellation). Rounding moves S by at most ``m·h``, so the
    brackets at x are within the tail's change over ``m·h``.

    Parameters
    ----------
    dimension : int
        ``k >= 2``.
    terms : int
        ``m >= 1``, the number of coordinates summed.

    Returns
    -------
    SumTail
        The rounded laws; ``upper(x)`` and ``lower(x)`` bracket ``P(S > x)``.

    Examples
    --------
    >>> tail = coordinate_sum_tail(3, 2)  # on S², each w_j is uniform on [−1, 1]
    >>> float(tail.lower(1.0)) <= 0.125 <= float(tail.upper(1.0))
    True
    >>> tail = coordinate_sum_tail(300, 3)  # fine where it matters: the lattice step is 1/2400
    >>> bool(tail.upper(0.6) <= 1.2 * tail.lower(0.6))
    True
    """
    dimension = require_int("dimension", dimension, minimum=2)
    terms = require_int("terms", terms, minimum=1)
    step = 1.0 / (LATTICE_STEPS * dimension)
    cutoff = min(1.0, math.sqrt(2.0 * CUTOFF_EXPONENT / dimension))
    half = math.ceil(cutoff / step)
    points = np.arange(-half, half + 1) * step  # s_{−J} … s_J
    lower, upper = points[:-1], points[1:]
    # P(s_{j−1} < w <= s_j), each from the side where its terms are small (no 1 − tail)
    below = coordinate_tail(dimension, -upper) - coordinate_tail(dimension, -lower)
    above = coordinate_tail(dimension, lower) - coordinate_tail(dimension, upper)
    cells = np.maximum(np.where(upper <= 0, below, above), 0.0)
    under = float(coordinate_tail(dimension, -points[0]))  # P(w <= s_{−J})
    over = float(coordinate_tail(dimension, points[-1]))  # P(w > s_J)
    # rounded up: (s_{j−1}, s_j] -> s_j, below s_{−J} -> s_{−J}, above s_J -> +∞
    rounded_up = np.concatenate([[under], cells])
    # rounded down: (s_{j−1}, s_j] -> s_{j−1}; below s_{−J} and above s_J dropped (−∞)
    rounded_down = np.concatenate([cells, [0.0]])
    up, down = _power(rounded_up, terms), _power(rounded_down, terms)
    return SumTail(
        step=step,
        offset=terms * half,
        up=_suffix_sums(up),
        down=_suffix_sums(down),
        infinite=min(1.0, terms * over),
    )


def _power(law: FloatArray, terms: int) -> FloatArray:
    """The law of a sum of ``terms`` independent copies, by exact convolution (square and
    multiply)."""
    result: FloatArray = np.ones(1)
    while terms:
        if terms & 1:
            result = np.convolve(result, law)
        terms >>= 1
        if terms:
            law = np.convolve(law, law)
    return result


def _suffix_sums(law: FloatArray) -> FloatArray:
    """``P(X >= point i)`` for each i, summed from the top (small terms first)."""
    sums: FloatArray = np.cumsum(law[::-1])[::-1]
    return sums
