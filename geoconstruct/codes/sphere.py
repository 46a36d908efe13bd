"""The law of one coordinate of a uniform point of the sphere, and what random codes inherit.

For ``v`` uniform on ``S^{k-1}`` and any fixed unit vector ``e``, ``⟨v, e⟩`` has the law of the
first coordinate ``v_1``: ``v_1² ~ Beta(1/2, (k-1)/2)`` and ``v_1`` is symmetric, so
``P(v_1 > x) = ½·I_{1-x²}((k-1)/2, ½)`` for ``0 <= x <= 1`` (``I`` the regularised incomplete
beta function). Two independent codes drawn uniformly on the sphere have an inner product of this
law, and so has a random unit vector against any code: this module is where the superposed
theorem's exact tail for ``R = 2`` (``proofs/superposed_recall.md``) and the packing bound
(``proofs/lower_bounds.md``) read it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.special import betainc

from geoconstruct._validation import require_int

__all__ = ["cap_fraction", "coordinate_tail"]

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
