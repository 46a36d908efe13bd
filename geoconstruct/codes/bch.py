"""Dual-BCH codes: binary trace codes whose coherence is known in closed form.

For ``n = 2^m - 1`` and ``t >= 1``, the dual of the primitive binary BCH code of designed distance
``2t + 1`` is the set of words

    c_f = ( Tr(f(x)) )_{x ∈ GF(2^m)*},     f(x) = a_1·x + a_3·x^3 + … + a_{2t-1}·x^{2t-1},

one per coefficient vector ``(a_1, a_3, …) ∈ GF(2^m)^t`` (``2^(m·t)`` words). By the Weil bound,
every nonzero word has ``|n + 1 - 2·weight| <= 2(t-1)·2^(m/2)`` (Carlitz–Uchiyama), so the ±1
vectors ``(-1)^c / √n`` have pairwise ``|⟨u, u'⟩| <= (2(t-1)·2^(m/2) + 1) / n``
(``proofs/bch_codes.md``). Adding one more odd degree ``2t + 1`` gives sign patterns
``s_r = (-1)^Tr(b_r·x^(2t+1))`` whose products with the codes keep a closed-form bound too: the
superposed layout's read maps.

Field arithmetic uses log/antilog tables of a primitive polynomial; everything is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int

__all__ = [
    "MAX_DEGREE",
    "PRIMITIVE_POLYNOMIALS",
    "TraceCode",
    "antilog_table",
    "coherence_bound",
    "trace_words",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

PRIMITIVE_POLYNOMIALS = {
    2: 0b111,
    3: 0b1011,
    4: 0b10011,
    5: 0b100101,
    6: 0b1000011,
    7: 0b10000011,
    8: 0b100011101,
    9: 0b1000010001,
    10: 0b10000001001,
    11: 0b100000000101,
    12: 0b1000001010011,
    13: 0b10000000011011,
    14: 0b100010001000011,
    15: 0b1000000000000011,
    16: 0b10001000000001011,
}
"""A primitive polynomial of degree m over GF(2) for each supported m, as a bit mask (bit i is the
coefficient of x^i). :func:`antilog_table` checks primitivity."""

MAX_DEGREE = max(PRIMITIVE_POLYNOMIALS)


def antilog_table(m: int) -> IntArray:
    """``α^i`` for ``i = 0 … 2^m - 2``, elements of GF(2^m) as integers (polynomial basis).

    Raises ``ValueError`` if the polynomial is not primitive (``α`` does not reach every nonzero
    element), so a wrong table entry cannot go unnoticed.

    Parameters
    ----------
    m : int
        The field is GF(2^m).

    Examples
    --------
    >>> antilog_table(3).tolist()   # x^3 = x + 1
    [1, 2, 4, 3, 6, 7, 5]
    """
    m = require_int("m", m, minimum=2)
    if m not in PRIMITIVE_POLYNOMIALS:
        raise ValueError(f"m must be in 2..{MAX_DEGREE}, got {m}")
    polynomial, size = PRIMITIVE_POLYNOMIALS[m], 1 << m
    powers = np.empty(size - 1, dtype=np.int64)
    value = 1
    for exponent in range(size - 1):
        powers[exponent] = value
        value <<= 1
        if value & size:
            value ^= polynomial
    if value != 1 or np.unique(powers).size != size - 1:
        raise ValueError(f"the polynomial {polynomial:#b} is not primitive for m = {m}")
    return powers


def _trace_of_every_element(m: int, powers: IntArray) -> npt.NDArray[np.uint8]:
    """``Tr(y)`` for every ``y`` in GF(2^m), indexed by the integer form of ``y``."""
    size = 1 << m
    logarithm = np.empty(size, dtype=np.int64)
    logarithm[powers] = np.arange(size - 1)

    def multiply(x: int, y: int) -> int:
        if x == 0 or y == 0:
            return 0
        return int(powers[(logarithm[x] + logarithm[y]) % (size - 1)])

    # Tr is GF(2)-linear: Tr(y) = parity(y & mask), mask bit b = Tr(x^b) = Σ_i (x^b)^(2^i).
    mask = 0
    for bit in range(m):
        element, trace = 1 << bit, 0
        for _ in range(m):
            trace ^= element
            element = multiply(element, element)
        if trace not in (0, 1):
            raise ArithmeticError("a trace left GF(2); the field tables are wrong")
        mask |= trace << bit
    masked = np.arange(size, dtype=np.int64) & mask
    parity = np.zeros(size, dtype=np.uint8)
    for bit in range(m):
        parity ^= ((masked >> bit) & 1).astype(np.uint8)
    return parity


def _generator_rows(m: int, degrees: list[int]) -> npt.NDArray[np.uint8]:
    """Rows ``Tr(α^b · x^D)`` over ``x = α^0 … α^(n-1)``, for each degree D and basis bit b."""
    powers = antilog_table(m)
    n = powers.size
    trace = _trace_of_every_element(m, powers)
    exponents = np.arange(n, dtype=np.int64)
    rows = [trace[powers[(bit + exponents * degree) % n]] for degree in degrees for bit in range(m)]
    return np.array(rows, dtype=np.uint8)  # [m·len(degrees), n]


def trace_words(messages: npt.ArrayLike, m: int, degrees: list[int]) -> npt.NDArray[np.uint8]:
    """The words ``c_f`` for ``f = Σ_D a_D·x^D``, one per message.

    Parameters
    ----------
    messages : array_like of int, shape [n_words]
        Integers in ``[0, 2^(m·len(degrees)))``; bits ``[i·m, (i+1)·m)`` are the coefficient of
        ``x^degrees[i]`` in the polynomial basis.
    m : int
        The field GF(2^m); words have length ``n = 2^m - 1``.
    degrees : list of int
        Odd degrees below ``n``.

    Returns
    -------
    ndarray of uint8, shape [n_words, n]

    Examples
    --------
    >>> trace_words([0, 1, 2, 3], 3, [1]).tolist()   # the simplex code of length 7
    [[0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 1, 1], [0, 0, 1, 0, 1, 1, 1], [1, 0, 1, 1, 1, 0, 0]]
    """
    values = np.asarray(messages, dtype=np.int64)
    n_bits = m * len(degrees)
    if values.size and (values.min() < 0 or values.max() >= 1 << n_bits):
        raise ValueError(f"messages must lie in [0, 2^{n_bits})")
    generator = _generator_rows(m, degrees).astype(np.float64)
    bits = ((values[:, None] >> np.arange(n_bits)) & 1).astype(np.float64)
    return (np.rint(bits @ generator).astype(np.int64) % 2).astype(np.uint8)


def coherence_bound(m: int, max_degree: int) -> float:
    """``(max_degree - 1)·2^(m/2) + 1) / (2^m - 1)``: the Weil bound on ``|⟨u, u'⟩|``.

    For ±1/√n words of a trace code whose polynomials have odd degree at most ``max_degree``
    (``proofs/bch_codes.md``).

    Parameters
    ----------
    m : int
        The field is GF(2^m): codes of length 2^m − 1.
    max_degree : int
        The largest degree of the trace polynomials.

    Examples
    --------
    >>> round(coherence_bound(6, 1), 4)   # the simplex code: |⟨u, u'⟩| = 1/n
    0.0159
    """
    n = (1 << m) - 1
    return ((max_degree - 1) * math.sqrt(n + 1) + 1) / n


@dataclass(frozen=True)
class TraceCode:
    """The parameters of a dual-BCH codebook: words of ``f = Σ_{i<t} a_i·x^(2i+1)`` over GF(2^m).

    Examples
    --------
    >>> code = TraceCode(m=6, t=2)
    >>> code.length, code.capacity, round(code.coherence_bound, 4)
    (63, 4096, 0.2698)
    """

    m: int
    t: int

    @property
    def length(self) -> int:
        """n = 2^m - 1 coordinates."""
        return (1 << self.m) - 1

    @property
    def capacity(self) -> int:
        """2^(m·t) distinct words."""
        return 1 << (self.m * self.t)

    @property
    def degrees(self) -> list[int]:
        return list(range(1, 2 * self.t, 2))

    @property
    def coherence_bound(self) -> float:
        """``|⟨u_a, u_b⟩| <= ((2t-2)·2^(m/2) + 1)/n`` for distinct codes (Carlitz–Uchiyama)."""
        return coherence_bound(self.m, 2 * self.t - 1)

    @property
    def crosstalk_bound(self) -> float:
        """``|⟨s_r ⊙ s_r' ⊙ u_a, u_b⟩| <= (2t·2^(m/2) + 1)/n`` for relation signs ``r != r'``."""
        return coherence_bound(self.m, 2 * self.t + 1)

    def interference(self, n_relations: int) -> float:
        """``μ + 2(R-1)·μ_cross``: the superposed layout's margin is at least ``1 - this``."""
        return self.coherence_bound + 2 * (n_relations - 1) * self.crosstalk_bound

    def codes(self, n_codes: int, code_length: int) -> FloatArray:
        """The first ``n_codes`` words as ±1/√n rows, zero-padded to ``code_length``."""
        words = trace_words(np.arange(n_codes), self.m, self.degrees)
        codes = np.zeros((n_codes, code_length))
        codes[:, : self.length] = (1.0 - 2.0 * words) / math.sqrt(self.length)
        return codes

    def relation_signs(self, n_relations: int, code_length: int) -> FloatArray:
        """``s_r = (-1)^Tr(b_r·x^(2t+1))`` with ``b_r`` the r-th field element, +1 on padding."""
        if n_relations > 1 << self.m:
            raise ValueError(f"at most 2^m = {1 << self.m} relations, got {n_relations}")
        messages = np.arange(n_relations)
        words = trace_words(messages, self.m, [2 * self.t + 1])
        signs = np.ones((n_relations, code_length))
        signs[:, : self.length] = 1.0 - 2.0 * words
        return signs
