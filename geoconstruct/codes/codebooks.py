"""The codebook families: one code vector ``u_a ∈ R^k`` per attribute, and how to decode them.

Each is a :class:`~geoconstruct.codes.protocol.CodebookFamily`; the registry
(:mod:`~geoconstruct.codes.registry`) names them, and nothing outside ``codes/`` imports a
family's class. Interchangeable families
(``docs/design.md`` §5):

``grid``
    Distinct integer vectors. Attribute ``a`` is written in base ``2^p`` and each digit is read as
    a ``p``-bit two's-complement integer, so every coordinate lies in ``[-2^(p-1), 2^(p-1) - 1]``
    and is stored exactly by a signed ``p``-bit format. Decoded by nearest neighbour through the
    unembedding bias ``b_U[a] = -‖u_a‖²/2``; distinct integer codes keep every wrong attribute at
    least ``1/2`` below the right one. ``k = ⌈log2 N / p⌉``.
``bch``
    Dual-BCH trace codes (:mod:`~.bch`): deterministic ±1/√n vectors, ``n = 2^m - 1``,
    whose coherence is bounded in closed form by the Weil bound (``proofs/bch_codes.md``), so a
    certificate needs no O(N²) check; with the superposed layout they come with sign read maps
    whose crosstalk is bounded in closed form too.
``gaussian``, ``rademacher``
    Random unit vectors (normalised Gaussian, or ``±1/√k``), decoded by inner product. A draw is
    accepted only if its coherence ``max_{a≠b} |⟨u_a, u_b⟩|`` is at most ``max_coherence`` (default
    1/2), so decoding a clean code has margin at least ``1 - max_coherence``. At
    ``k >= 2·ln(2N(N-1)) / max_coherence²`` a draw is accepted with probability at least 1/2
    (``proofs/unit_codes.md``); rejected draws are replaced from the same seeded stream.
``mub``
    Two mutually unbiased bases, the standard one and the Sylvester–Hadamard one
    (:class:`MUBCodes`): up to 2k codes of length k with coherence ``1/√k``, small vocabularies.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from scipy.linalg import hadamard

from geoconstruct._validation import NoResultError, require_int, require_probability
from geoconstruct.codes import bch
from geoconstruct.codes.bch import TraceCode
from geoconstruct.codes.protocol import (
    Codebook,
    CodebookFamily,
    InnerProductLaw,
    check_code_length,
    coherence,
    frozen_codebook,
)

__all__ = [
    "MAX_GRID_BITS",
    "SIGNIFICAND_BITS",
    "BCHCodes",
    "Codebook",
    "CodebookFamily",
    "GaussianCodes",
    "GridCodes",
    "InnerProductLaw",
    "MUBCodes",
    "RademacherCodes",
    "TraceCode",
    "coherence",
    "exact_grid_logits",
]

FloatArray = npt.NDArray[np.float64]

MAX_DRAWS = 64
"""Draws of a random codebook before giving up; each is accepted with probability >= 1/2."""

_NORM_ROWS = 65_536
"""Gaussian codes are normalised this many rows at a time (bounded temporaries at any N)."""


SIGNIFICAND_BITS = {"float64": 53, "float32": 24}
"""Significand bits (with the implicit bit) of the dtypes a construction runs in."""


def exact_grid_logits(bits: int, code_length: int, significand: int) -> bool:
    """Whether grid-code logits are exact with an m-bit significand: ``3k·2^(2p−2) <= 2^m``.

    Parameters
    ----------
    significand : int
        m, the significand's bits (53 in float64, 24 in float32).

    Examples
    --------
    >>> exact_grid_logits(11, 2, 24), exact_grid_logits(12, 2, 24), exact_grid_logits(12, 1, 24)
    (True, False, True)
    """
    return bool(3 * code_length * 4 ** (bits - 1) <= 2**significand)


MAX_GRID_BITS = 16
"""The widest grid digit: codes are two's-complement integers of at most this many bits."""


@dataclass(frozen=True)
class GridCodes(CodebookFamily):
    """Distinct signed ``bits``-bit integer vectors, decoded by nearest neighbour.

    Examples
    --------
    >>> family = GridCodes(bits=8)
    >>> family.min_code_length(256), family.min_code_length(257), family.min_code_length(10_000)
    (1, 2, 2)
    >>> GridCodes(bits=2).build(6, 2, np.random.default_rng(0)).codes.astype(int).tolist()
    [[0, 0], [1, 0], [-2, 0], [-1, 0], [0, 1], [1, 1]]
    """

    bits: int = 8

    name: ClassVar[str] = "grid"
    options: ClassVar[tuple[str, ...]] = ("bits",)
    unit_norm: ClassVar[bool] = False

    def __post_init__(self) -> None:
        require_int("bits", self.bits, minimum=1)
        if self.bits > MAX_GRID_BITS:
            raise ValueError(f"bits must be at most {MAX_GRID_BITS}, got {self.bits}")

    @property
    def digit_bits(self) -> int | None:
        return self.bits

    def for_integer_format(self, bits: int) -> CodebookFamily:
        """Digits as wide as the integer format.

        Examples
        --------
        >>> GridCodes().for_integer_format(4)
        GridCodes(bits=4)
        """
        return GridCodes(bits=bits)

    def check_dtype(self, code_length: int, dtype: str) -> None:
        """Refuse a dtype in which the nearest-neighbour logits are not exact.

        Every logit ``⟨u_a, y⟩ − ‖u_a‖²/2`` of a grid construction, and every partial sum of it,
        is a multiple of 1/2 of size at most ``3k·2^(2p−3)``; all are exact in a binary format
        with an m-bit significand iff ``3k·2^(2p−2) <= 2^m`` (``proofs/block_recall.md``).

        Examples
        --------
        >>> GridCodes(bits=11).check_dtype(2, "float32")   # 3·2·2^20 <= 2^24
        >>> GridCodes(bits=16).check_dtype(1, "float32")
        Traceback (most recent call last):
        ...
        ValueError: grid codes of 16 bits and length k=1 are not exact in float32: their nearest-neighbour logits need a 31.6-bit significand (3k·2^(2p-2) <= 2^m), float32 has 24; use dtype='float64' or at most 12 bits
        """  # noqa: E501
        significand = SIGNIFICAND_BITS[dtype]
        if exact_grid_logits(self.bits, code_length, significand):
            return
        needed = math.log2(3 * code_length) + 2 * (self.bits - 1)
        fitting = [p for p in range(1, self.bits) if exact_grid_logits(p, code_length, significand)]
        advice = f" or at most {fitting[-1]} bits" if fitting else ""
        raise ValueError(
            f"grid codes of {self.bits} bits and length k={code_length} are not exact in {dtype}: "
            f"their nearest-neighbour logits need a {needed:.1f}-bit significand "
            f"(3k·2^(2p-2) <= 2^m), {dtype} has {significand}; use dtype='float64'{advice}"
        )

    def min_code_length(self, n_codes: int) -> int:
        """Smallest k with ``2^(bits·k) >= n_codes`` (at least 1)."""
        n_codes = require_int("n_codes", n_codes, minimum=1)
        length = 1
        while (1 << (self.bits * length)) < n_codes:
            length += 1
        return length

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        superposed_relations: int = 1,
        coherent: bool | None = None,
    ) -> Codebook:
        """Codes ``u_a[j]`` = the j-th base-``2^bits`` digit of ``a``, read as two's complement
        (deterministic, distinct at every length they are built at: nothing is drawn)."""
        check_code_length(self, n_codes, code_length)
        radix = 1 << self.bits
        digits = np.zeros((n_codes, code_length), dtype=np.int64)
        remaining = np.arange(n_codes, dtype=np.int64)
        for j in range(code_length):  # base-2^bits digits, least significant first
            digits[:, j] = remaining % radix
            remaining //= radix
        signed = np.where(digits >= radix // 2, digits - radix, digits)
        codes = signed.astype(np.float64)
        return frozen_codebook("grid", codes, "nearest_neighbour", False, float(radix // 2))


@dataclass(frozen=True)
class _UnitCodes(CodebookFamily):
    """What every unit-code family shares: unit norm and a coherence bound ``max_coherence``."""

    max_coherence: float = 0.5

    options: ClassVar[tuple[str, ...]] = ("max_coherence",)
    unit_norm: ClassVar[bool] = True

    def __post_init__(self) -> None:
        require_probability("max_coherence", self.max_coherence)

    @property
    def coherence_bound(self) -> float | None:
        return self.max_coherence


@dataclass(frozen=True)
class _RandomUnitCodes(_UnitCodes):
    """Unit codes drawn at random: until coherent where that is asked for, else once."""

    random: ClassVar[bool] = True

    def min_code_length(self, n_codes: int) -> int:
        return _unit_code_length(n_codes, self.max_coherence)

    def shortest_code_length(self, n_codes: int) -> int:
        """Random codes can be drawn at any length; below :meth:`min_code_length` without the
        coherence guarantee (a single draw, no rejection)."""
        require_int("n_codes", n_codes, minimum=1)
        return 1

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        superposed_relations: int = 1,
        coherent: bool | None = None,
    ) -> Codebook:
        """Draw until the coherence is at most μ, or once where k is too short for that (or
        ``coherent=False``: where no proof uses the bound, its O(N²k) check is not paid)."""
        check_code_length(self, n_codes, code_length)
        if coherent is None:
            coherent = self.coherent_at(n_codes, code_length)
        if not coherent:
            return frozen_codebook(
                self.name, self._sample(n_codes, code_length, rng), "inner_product", True, 1.0
            )
        return _draw_until_coherent(
            self.name, lambda: self._sample(n_codes, code_length, rng), self.max_coherence
        )

    @abstractmethod
    def _sample(self, n_codes: int, code_length: int, rng: np.random.Generator) -> FloatArray:
        """One draw of the codes, [n_codes, code_length]."""


@dataclass(frozen=True)
class GaussianCodes(_RandomUnitCodes):
    """Normalised Gaussian vectors with coherence at most ``max_coherence``.

    Examples
    --------
    >>> family = GaussianCodes()
    >>> family.min_code_length(1000)
    117
    >>> book = family.build(1000, 117, np.random.default_rng(0))
    >>> bool(book.coherence() <= 0.5), bool(np.allclose(np.linalg.norm(book.codes, axis=1), 1))
    (True, True)
    """

    name: ClassVar[str] = "gaussian"
    inner_product_law: ClassVar[InnerProductLaw | None] = "sphere"

    def _temporary_floats(self, n_codes: int, code_length: int) -> int:
        """The squares the norms sum, a block of rows."""
        return min(n_codes, _NORM_ROWS) * code_length

    def _sample(self, n_codes: int, code_length: int, rng: np.random.Generator) -> FloatArray:
        vectors: FloatArray = rng.standard_normal((n_codes, code_length))
        for start in range(0, n_codes, _NORM_ROWS):  # in place, a block of rows at a time
            rows = vectors[start : start + _NORM_ROWS]
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return vectors


@dataclass(frozen=True)
class RademacherCodes(_RandomUnitCodes):
    """Random ``±1/√k`` vectors with coherence at most ``max_coherence``.

    Examples
    --------
    >>> family = RademacherCodes()
    >>> book = family.build(50, family.min_code_length(50), np.random.default_rng(1))
    >>> sorted(set(np.round(book.codes.ravel() * np.sqrt(book.code_length), 12)))
    [np.float64(-1.0), np.float64(1.0)]
    """

    name: ClassVar[str] = "rademacher"
    inner_product_law: ClassVar[InnerProductLaw | None] = "signs"

    def _temporary_floats(self, n_codes: int, code_length: int) -> int:
        """The integer signs and their float copy."""
        return 2 * n_codes * code_length

    def _sample(self, n_codes: int, code_length: int, rng: np.random.Generator) -> FloatArray:
        signs = rng.integers(0, 2, size=(n_codes, code_length)).astype(np.float64) * 2 - 1
        scaled: FloatArray = signs / math.sqrt(code_length)
        return scaled


@dataclass(frozen=True)
class BCHCodes(_UnitCodes):
    """Dual-BCH trace codes (deterministic) whose coherence is at most ``max_coherence``.

    The shortest code for N attributes is the smallest ``n = 2^m - 1`` with some ``t`` such that
    ``2^(m·t) >= N`` and the closed-form coherence bound is at most ``max_coherence``; with the
    superposed layout and R relations the bound that must hold is
    :meth:`TraceCode.interference` (self-coherence plus the crosstalk of the sign read maps).

    Examples
    --------
    >>> family = BCHCodes()
    >>> family.min_code_length(1000), family.min_code_length(100_000)
    (31, 127)
    >>> family.superposed_code_length(100_000, 4), BCHCodes(0.875).superposed_code_length(
    ...     100_000, 4)
    (4095, 1023)
    >>> book = family.build(1000, 63, np.random.default_rng(0))
    >>> bool(book.coherence() <= book.trace_code.coherence_bound + 1e-12 <= 0.5)
    True
    """

    name: ClassVar[str] = "bch"
    sign_read_maps: ClassVar[bool] = True

    def design(
        self, n_codes: int, n_relations: int = 1, max_length: int | None = None
    ) -> TraceCode:
        """The shortest trace code for ``n_codes`` (and R relations superposed) within the bound.

        With ``max_length``, the longest one that fits instead (a larger ``d`` buys a longer
        code with a smaller coherence).

        Parameters
        ----------
        max_length : int, optional
            The longest code allowed.
        """
        n_codes = require_int("n_codes", n_codes, minimum=1)
        n_relations = require_int("n_relations", n_relations, minimum=1)
        fitting = [
            code
            for m in range(2, bch.MAX_DEGREE + 1)
            if (code := self._code_for(n_codes, n_relations, m)) is not None
            and (max_length is None or code.length <= max_length)
        ]
        if not fitting:
            longest = (1 << bch.MAX_DEGREE) - 1
            raise ValueError(
                f"no bch code for {n_codes} attributes and {n_relations} relations with "
                f"interference <= {self.max_coherence}"
                + (f" within length {max_length}" if max_length is not None else "")
                + f" (codes up to length {longest})"
            )
        return fitting[-1] if max_length is not None else fitting[0]

    def _code_for(self, n_codes: int, n_relations: int, m: int) -> TraceCode | None:
        t = max(1, math.ceil(math.log2(n_codes) / m)) if n_codes > 1 else 1
        code = TraceCode(m=m, t=t)
        if n_relations > (1 << m) or 2 * t + 1 >= code.length:
            return None
        return code if code.interference(n_relations) <= self.max_coherence else None

    def min_code_length(self, n_codes: int) -> int:
        return self.design(n_codes).length

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Every trace code this family builds meets its closed-form coherence bound."""
        return True

    def superposed_code_length(self, n_codes: int, n_relations: int) -> int:
        """Smallest code length whose superposition of R relations keeps the bound."""
        return self.design(n_codes, n_relations).length

    def _temporary_floats(self, n_codes: int, code_length: int) -> int:
        """Message bits times the generator, rounded, reduced."""
        return 3 * n_codes * code_length

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        superposed_relations: int = 1,
        coherent: bool | None = None,
    ) -> Codebook:
        """The longest fitting trace code (for ``superposed_relations`` sign read maps) whose
        first ``n_codes`` words, zero-padded to the length, are the codes (deterministic)."""
        check_code_length(self, n_codes, code_length)
        code = self.design(n_codes, superposed_relations, max_length=code_length)
        codes = np.ascontiguousarray(code.codes(n_codes, code_length))
        codes.flags.writeable = False
        return Codebook("bch", codes, "inner_product", True, 1.0, trace_code=code)


@dataclass(frozen=True)
class MUBCodes(_UnitCodes):
    """Two mutually unbiased bases of ``R^(2^m)``: the standard basis, then the rows of the
    Sylvester–Hadamard matrix over ``√(2^m)``; deterministic, decoded by inner product.

    Up to ``2·2^m`` codes of length ``2^m`` (zero-padded to the code length): coherence 0 for
    ``N <= 2^m`` and exactly ``2^(-m/2)`` above, where random codes of the same length have about
    ``√(4·ln N / k)`` (0.125 against about 0.5 at N = 128, k = 64). Its codes are as long as N/2,
    not log N: the family for a small vocabulary whose decoding margin should be nearly 1. No
    sign read maps and no inner-product law, so the superposed layout refuses it.

    Examples
    --------
    >>> family = MUBCodes()
    >>> family.min_code_length(3), family.min_code_length(8), family.min_code_length(9)
    (4, 4, 8)
    >>> book = family.build(8, 4, np.random.default_rng(0))
    >>> float(book.coherence()), (book.codes * 2).astype(int)[4:].tolist()
    (0.5, [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    """

    name: ClassVar[str] = "mub"

    def _order(self, n_codes: int, longest: int | None = None) -> int:
        """The smallest ``2^m`` (or, given ``longest``, the largest up to it) that holds
        ``n_codes`` codes within the coherence bound."""
        n_codes = require_int("n_codes", n_codes, minimum=1)
        fitting = [
            order
            for order in (1 << m for m in range(0, 31))
            if (n_codes <= order or (n_codes <= 2 * order and order**-0.5 <= self.max_coherence))
            and (longest is None or order <= longest)
        ]
        if not fitting:
            raise ValueError(
                f"no mub codes for {n_codes} attributes with coherence <= "
                f"{self.max_coherence}" + (f" within length {longest}" if longest else "")
            )
        return fitting[-1] if longest is not None else fitting[0]

    def min_code_length(self, n_codes: int) -> int:
        return self._order(n_codes)

    def _temporary_floats(self, n_codes: int, code_length: int) -> int:
        """The Hadamard matrix, as integers and as floats."""
        return 2 * code_length**2

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        superposed_relations: int = 1,
        coherent: bool | None = None,
    ) -> Codebook:
        """The longest fitting order's basis vectors, then its Hadamard rows (nothing is drawn)."""
        check_code_length(self, n_codes, code_length)
        order = self._order(n_codes, longest=code_length)
        bases = np.vstack([np.eye(order), hadamard(order) / math.sqrt(order)])
        codes = np.zeros((n_codes, code_length))
        codes[:, :order] = bases[:n_codes]
        return frozen_codebook(self.name, codes, "inner_product", True, 1.0)


def _unit_code_length(n_codes: int, max_coherence: float) -> int:
    """``⌈2·ln(2N(N-1)) / μ²⌉``: a random draw then has coherence <= μ with probability >= 1/2."""
    n_codes = require_int("n_codes", n_codes, minimum=1)
    if n_codes == 1:
        return 1
    return math.ceil(2.0 * math.log(2.0 * n_codes * (n_codes - 1)) / max_coherence**2)


def _draw_until_coherent(
    family: str, draw: _Draw, max_coherence: float, max_draws: int = MAX_DRAWS
) -> Codebook:
    for _ in range(max_draws):
        codes = draw()
        if coherence(codes) <= max_coherence:
            return frozen_codebook(family, codes, "inner_product", True, 1.0)
    raise NoResultError(
        f"no {family} codebook with coherence <= {max_coherence} in {max_draws} draws; "
        "each draw succeeds with probability >= 1/2 at the documented code length"
    )


class _Draw(Protocol):
    def __call__(self) -> FloatArray: ...
