"""Attribute codebooks: one code vector ``u_a ∈ R^k`` per attribute, and how to decode them.

Three interchangeable families (``docs/design.md`` §5):

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import NoResultError, require_choice, require_int, require_probability
from geoconstruct.codes import bch

__all__ = [
    "CODEBOOK_NAMES",
    "MAX_GRID_BITS",
    "SIGNIFICAND_BITS",
    "BCHCodes",
    "Codebook",
    "CodebookFamily",
    "GaussianCodes",
    "GridCodes",
    "RademacherCodes",
    "coherence",
    "draw_bytes",
    "exact_grid_logits",
    "resolve_codebook",
]

FloatArray = npt.NDArray[np.float64]
Decoding = Literal["inner_product", "nearest_neighbour"]

CODEBOOK_NAMES = ("grid", "gaussian", "rademacher", "bch")

MAX_DRAWS = 64
"""Draws of a random codebook before giving up; each is accepted with probability >= 1/2."""

_NORM_ROWS = 65_536
"""Gaussian codes are normalised this many rows at a time (bounded temporaries at any N)."""


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
        return bch.coherence_bound(self.m, 2 * self.t - 1)

    @property
    def crosstalk_bound(self) -> float:
        """``|⟨s_r ⊙ s_r' ⊙ u_a, u_b⟩| <= (2t·2^(m/2) + 1)/n`` for relation signs ``r != r'``."""
        return bch.coherence_bound(self.m, 2 * self.t + 1)

    def interference(self, n_relations: int) -> float:
        """``μ + 2(R-1)·μ_cross``: the superposed layout's margin is at least ``1 - this``."""
        return self.coherence_bound + 2 * (n_relations - 1) * self.crosstalk_bound

    def codes(self, n_codes: int, code_length: int) -> FloatArray:
        """The first ``n_codes`` words as ±1/√n rows, zero-padded to ``code_length``."""
        words = bch.trace_words(np.arange(n_codes), self.m, self.degrees)
        codes = np.zeros((n_codes, code_length))
        codes[:, : self.length] = (1.0 - 2.0 * words) / math.sqrt(self.length)
        return codes

    def relation_signs(self, n_relations: int, code_length: int) -> FloatArray:
        """``s_r = (-1)^Tr(b_r·x^(2t+1))`` with ``b_r`` the r-th field element, +1 on padding."""
        if n_relations > 1 << self.m:
            raise ValueError(f"at most 2^m = {1 << self.m} relations, got {n_relations}")
        messages = np.arange(n_relations)
        words = bch.trace_words(messages, self.m, [2 * self.t + 1])
        signs = np.ones((n_relations, code_length))
        signs[:, : self.length] = 1.0 - 2.0 * words
        return signs


@dataclass(frozen=True, eq=False)
class Codebook:
    """The codes of one construction.

    Attributes
    ----------
    family : str
        ``"grid"``, ``"gaussian"`` or ``"rademacher"``.
    codes : ndarray, shape [n_codes, code_length]
        Row ``a`` is ``u_a``; read-only.
    decoding : {"inner_product", "nearest_neighbour"}
        How the unembedding reads a code: ``argmax_a ⟨u_a, y⟩`` or ``argmin_a ‖y - u_a‖``.
    unit_norm : bool
        Whether every code has norm 1 (required by the superposed layout).
    coordinate_bound : float
        A bound on ``|u[j]|`` for every code the family can produce at this length (``2^(p-1)``
        for grid codes, 1 for unit codes): it depends on the family, not on the draw.
    trace_code : TraceCode, optional
        For ``bch`` codes, the field and degree that generate them.
    """

    family: str
    codes: FloatArray
    decoding: Decoding
    unit_norm: bool
    coordinate_bound: float
    trace_code: TraceCode | None = None

    @property
    def norm_bound(self) -> float:
        """A bound on ``‖u‖`` for every code the family can produce at this length."""
        return 1.0 if self.unit_norm else self.coordinate_bound * math.sqrt(self.code_length)

    @property
    def n_codes(self) -> int:
        """M, the number of attributes."""
        return int(self.codes.shape[0])

    @property
    def code_length(self) -> int:
        """k, the length of every code."""
        return int(self.codes.shape[1])

    def unembedding_bias(self) -> FloatArray:
        """``b_U`` on attribute tokens: 0 for inner product, ``-‖u_a‖²/2`` for nearest neighbour.

        With this bias ``argmax_a ⟨u_a, y⟩ + b_U[a]`` is the decoding rule of the codebook.
        """
        if self.decoding == "inner_product":
            return np.zeros(self.n_codes)
        bias: FloatArray = -0.5 * (self.codes**2).sum(axis=1)
        return bias

    def decode(self, outputs: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Decode output vectors ``y`` of shape [n, k] to attribute ids [n] (a reference decoder).

        Examples
        --------
        >>> book = GridCodes(bits=2).build(10, 2, np.random.default_rng(0))
        >>> book.decode(book.codes[[3, 7]] + 0.3).tolist()
        [3, 7]
        """
        y = np.atleast_2d(np.asarray(outputs, dtype=np.float64))
        scores = y @ self.codes.T + self.unembedding_bias()
        decoded: npt.NDArray[np.int64] = np.argmax(scores, axis=1).astype(np.int64)
        return decoded

    def coherence(self) -> float:
        """``max_{a≠b} |⟨u_a, u_b⟩| / (‖u_a‖·‖u_b‖)``; see :func:`coherence`."""
        return coherence(self.codes)


GRAM_BLOCK_ROWS = 4096
"""Rows of the Gram matrix :func:`coherence` forms at once."""


def draw_bytes(
    family: CodebookFamily, n_codes: int, code_length: int, *, coherence_checked: bool
) -> int:
    """Bytes a family's ``build`` holds at its peak: the float64 codes, the draw's temporaries,
    and, where the coherence is checked, a block of the Gram matrix and its absolute values.

    Examples
    --------
    >>> draw_bytes(GaussianCodes(), 1000, 100, coherence_checked=True) // 2**20
    16
    """
    floats = n_codes * code_length  # the codes
    if isinstance(family, BCHCodes):  # message bits times the generator, rounded, reduced
        floats += 3 * n_codes * code_length
    elif isinstance(family, GaussianCodes):  # the squares the norms sum, a block of rows
        floats += min(n_codes, _NORM_ROWS) * code_length
    elif family.unit_norm:  # the integer signs and their float copy
        floats += 2 * n_codes * code_length
    if coherence_checked:
        floats += 2 * min(n_codes, GRAM_BLOCK_ROWS) * n_codes
    return int(floats * 8)


def coherence(codes: npt.ArrayLike, *, block_rows: int = GRAM_BLOCK_ROWS) -> float:
    """Largest absolute cosine between two distinct rows of ``codes``.

    Computed in row blocks so that memory stays at ``block_rows × n_codes`` floats.

    Parameters
    ----------
    codes : array_like, shape [n_codes, k]
        Non-zero rows.
    block_rows : int
        Rows of the Gram matrix formed at once.

    Returns
    -------
    float
        0.0 when there is a single code.

    Examples
    --------
    >>> coherence([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # doctest: +ELLIPSIS
    0.7071...
    """
    vectors = np.asarray(codes, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    if np.any(norms == 0):
        raise ValueError("coherence is undefined for a zero code")
    unit = vectors / norms[:, None]
    largest = 0.0
    for start in range(0, unit.shape[0], block_rows):
        stop = min(start + block_rows, unit.shape[0])
        gram = np.abs(unit[start:stop] @ unit.T)
        gram[np.arange(stop - start), np.arange(start, stop)] = 0.0
        largest = max(largest, float(gram.max(initial=0.0)))
    return largest


SIGNIFICAND_BITS = {"float64": 53, "float32": 24}
"""Significand bits (with the implicit bit) of the dtypes a construction runs in."""


def exact_grid_logits(bits: int, code_length: int, significand: int) -> bool:
    """Whether grid-code logits are exact with an m-bit significand: ``3k·2^(2p−2) <= 2^m``.

    Examples
    --------
    >>> exact_grid_logits(11, 2, 24), exact_grid_logits(12, 2, 24), exact_grid_logits(12, 1, 24)
    (True, False, True)
    """
    return bool(3 * code_length * 4 ** (bits - 1) <= 2**significand)


class CodebookFamily(Protocol):
    """A rule that builds a codebook of any size: what a construction needs from a family."""

    @property
    def name(self) -> str: ...

    @property
    def unit_norm(self) -> bool: ...

    @property
    def coherence_bound(self) -> float | None:
        """The coherence every built codebook is guaranteed not to exceed (None: no such bound)."""
        ...

    def min_code_length(self, n_codes: int) -> int:
        """Smallest k for which :meth:`build` accepts ``n_codes`` codes."""
        ...

    def check_dtype(self, code_length: int, dtype: str) -> None:
        """Raise ``ValueError`` if codes of this length cannot be decoded as promised in dtype."""
        ...

    def shortest_code_length(self, n_codes: int) -> int:
        """Smallest k at which :meth:`build` can produce ``n_codes`` codes at all."""
        ...

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Whether codes built at this length carry the family's decoding guarantee."""
        ...

    def build(self, n_codes: int, code_length: int, rng: np.random.Generator) -> Codebook:
        """Build ``n_codes`` codes of length ``code_length`` (>= ``min_code_length``)."""
        ...


MAX_GRID_BITS = 16
"""The widest grid digit: codes are two's-complement integers of at most this many bits."""


@dataclass(frozen=True)
class GridCodes:
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

    def __post_init__(self) -> None:
        require_int("bits", self.bits, minimum=1)
        if self.bits > MAX_GRID_BITS:
            raise ValueError(f"bits must be at most {MAX_GRID_BITS}, got {self.bits}")

    @property
    def name(self) -> str:
        return "grid"

    @property
    def unit_norm(self) -> bool:
        return False

    @property
    def coherence_bound(self) -> float | None:
        return None

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

    def shortest_code_length(self, n_codes: int) -> int:
        """Distinct integer codes must fit: the structural minimum is :meth:`min_code_length`."""
        return self.min_code_length(n_codes)

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Grid codes are distinct at every length they are built at: their margin always holds."""
        return True

    def min_code_length(self, n_codes: int) -> int:
        """Smallest k with ``2^(bits·k) >= n_codes`` (at least 1)."""
        n_codes = require_int("n_codes", n_codes, minimum=1)
        length = 1
        while (1 << (self.bits * length)) < n_codes:
            length += 1
        return length

    def build(self, n_codes: int, code_length: int, rng: np.random.Generator) -> Codebook:
        """Codes ``u_a[j]`` = the j-th base-``2^bits`` digit of ``a``, read as two's complement.

        The codebook is deterministic; ``rng`` is accepted for a uniform interface and not used.
        """
        _check_length(self, n_codes, code_length)
        radix = 1 << self.bits
        digits = np.zeros((n_codes, code_length), dtype=np.int64)
        remaining = np.arange(n_codes, dtype=np.int64)
        for j in range(code_length):  # base-2^bits digits, least significant first
            digits[:, j] = remaining % radix
            remaining //= radix
        signed = np.where(digits >= radix // 2, digits - radix, digits)
        codes = signed.astype(np.float64)
        return _frozen_codebook("grid", codes, "nearest_neighbour", False, float(radix // 2))


@dataclass(frozen=True)
class _UnitCodes:
    """What every unit-code family shares: unit norm and a coherence bound ``max_coherence``."""

    max_coherence: float = 0.5

    def __post_init__(self) -> None:
        require_probability("max_coherence", self.max_coherence)

    def check_dtype(self, code_length: int, dtype: str) -> None:
        """Unit codes claim a margin, not exactness: every dtype is accepted (the certificate
        and the forward pass account for rounding)."""

    def shortest_code_length(self, n_codes: int) -> int:
        """Random codes can be drawn at any length; below :meth:`min_code_length` without the
        coherence guarantee (a single draw, no rejection)."""
        require_int("n_codes", n_codes, minimum=1)
        return 1

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Whether a codebook of this length comes with the coherence bound μ."""
        return code_length >= self.min_code_length(n_codes)  # type: ignore[attr-defined,no-any-return]

    def _draw(self, n_codes: int, code_length: int, draw: _Draw, coherent: bool | None) -> Codebook:
        name: str = self.name  # type: ignore[attr-defined]
        if coherent is None:
            coherent = self.coherent_at(n_codes, code_length)
        if not coherent:
            return _frozen_codebook(name, draw(), "inner_product", True, 1.0)
        return _draw_until_coherent(name, draw, self.max_coherence)

    @property
    def unit_norm(self) -> bool:
        return True

    @property
    def coherence_bound(self) -> float | None:
        return self.max_coherence


@dataclass(frozen=True)
class _RandomUnitCodes(_UnitCodes):
    """Unit codes drawn at random: until coherent where that is asked for, else once."""

    def min_code_length(self, n_codes: int) -> int:
        return _unit_code_length(n_codes, self.max_coherence)

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        coherent: bool | None = None,
    ) -> Codebook:
        """Draw until the coherence is at most μ, or once where k is too short for that (or
        ``coherent=False``: where no proof uses the bound, its O(N²k) check is not paid)."""
        _check_length(self, n_codes, code_length)  # type: ignore[arg-type]  # subclasses name it
        return self._draw(
            n_codes, code_length, lambda: self._sample(n_codes, code_length, rng), coherent
        )

    def _sample(self, n_codes: int, code_length: int, rng: np.random.Generator) -> FloatArray:
        raise NotImplementedError


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

    @property
    def name(self) -> str:
        return "gaussian"

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

    @property
    def name(self) -> str:
        return "rademacher"

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

    @property
    def name(self) -> str:
        return "bch"

    def design(
        self, n_codes: int, n_relations: int = 1, max_length: int | None = None
    ) -> TraceCode:
        """The shortest trace code for ``n_codes`` (and R relations superposed) within the bound.

        With ``max_length``, the longest one that fits instead (a larger ``d`` buys a longer
        code with a smaller coherence).
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

    def shortest_code_length(self, n_codes: int) -> int:
        """A trace code is built whole: the structural minimum is :meth:`min_code_length`."""
        return self.min_code_length(n_codes)

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Every trace code this family builds meets its closed-form coherence bound."""
        return True

    def superposed_code_length(self, n_codes: int, n_relations: int) -> int:
        """Smallest code length whose superposition of R relations keeps the bound."""
        return self.design(n_codes, n_relations).length

    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        n_relations: int = 1,
    ) -> Codebook:
        """The longest fitting trace code's first ``n_codes`` words, zero-padded to the length.

        Deterministic; ``rng`` is accepted for a uniform interface and not used.
        """
        _check_length(self, n_codes, code_length)
        code = self.design(n_codes, n_relations, max_length=code_length)
        codes = np.ascontiguousarray(code.codes(n_codes, code_length))
        codes.flags.writeable = False
        return Codebook("bch", codes, "inner_product", True, 1.0, trace_code=code)


def resolve_codebook(codebook: str | CodebookFamily) -> CodebookFamily:
    """Turn a name into its default family; pass a family object through.

    Examples
    --------
    >>> resolve_codebook("grid")
    GridCodes(bits=8)
    >>> resolve_codebook(GaussianCodes(max_coherence=0.25))
    GaussianCodes(max_coherence=0.25)
    """
    if isinstance(codebook, GridCodes | GaussianCodes | RademacherCodes | BCHCodes):
        return codebook
    name = require_choice("codebook", codebook, CODEBOOK_NAMES)
    families: dict[str, CodebookFamily] = {
        "grid": GridCodes(),
        "gaussian": GaussianCodes(),
        "rademacher": RademacherCodes(),
        "bch": BCHCodes(),
    }
    return families[name]


def _unit_code_length(n_codes: int, max_coherence: float) -> int:
    """``⌈2·ln(2N(N-1)) / μ²⌉``: a random draw then has coherence <= μ with probability >= 1/2."""
    n_codes = require_int("n_codes", n_codes, minimum=1)
    if n_codes == 1:
        return 1
    return math.ceil(2.0 * math.log(2.0 * n_codes * (n_codes - 1)) / max_coherence**2)


def _check_length(family: CodebookFamily, n_codes: int, code_length: int) -> None:
    n_codes = require_int("n_codes", n_codes, minimum=1)
    code_length = require_int("code_length", code_length, minimum=1)
    shortest = family.shortest_code_length(n_codes)
    if code_length < shortest:
        raise ValueError(
            f"{family.name} codes for {n_codes} attributes require code_length >= {shortest}, "
            f"got {code_length}"
        )


def _draw_until_coherent(
    family: str, draw: _Draw, max_coherence: float, max_draws: int = MAX_DRAWS
) -> Codebook:
    for _ in range(max_draws):
        codes = draw()
        if coherence(codes) <= max_coherence:
            return _frozen_codebook(family, codes, "inner_product", True, 1.0)
    raise NoResultError(
        f"no {family} codebook with coherence <= {max_coherence} in {max_draws} draws; "
        "each draw succeeds with probability >= 1/2 at the documented code length"
    )


class _Draw(Protocol):
    def __call__(self) -> FloatArray: ...


def _frozen_codebook(
    family: str, codes: FloatArray, decoding: Decoding, unit_norm: bool, coordinate_bound: float
) -> Codebook:
    codes = np.ascontiguousarray(codes, dtype=np.float64)
    codes.flags.writeable = False
    return Codebook(family, codes, decoding, unit_norm, coordinate_bound)
