"""What a construction asks of codes: a built :class:`Codebook`, and the :class:`CodebookFamily`
rule that builds one at any size.

The families themselves live in :mod:`~geoconstruct.codes.codebooks`, and
:mod:`~geoconstruct.codes.registry` names them (``CODEBOOK_NAMES``). Everything outside
``codes/`` talks to a family through :class:`CodebookFamily`'s attributes and never imports its
class (an import-linter contract).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int
from geoconstruct.codes.bch import TraceCode

__all__ = [
    "GRAM_BLOCK_ROWS",
    "Codebook",
    "CodebookFamily",
    "Decoding",
    "InnerProductLaw",
    "check_code_length",
    "coherence",
    "frozen_codebook",
]

FloatArray = npt.NDArray[np.float64]
Decoding = Literal["inner_product", "nearest_neighbour"]
InnerProductLaw = Literal["sphere", "signs"]


@dataclass(frozen=True, eq=False)
class Codebook:
    """The codes of one construction.

    Attributes
    ----------
    family : str
        The family's name (one of ``codes.registry.CODEBOOK_NAMES``).
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

        Parameters
        ----------
        outputs : array_like, shape [..., k]
            Vectors in the output subspace.

        Examples
        --------
        >>> from geoconstruct.codes.codebooks import GridCodes
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

    def to_manifest(self) -> dict[str, Any]:
        """Everything but the codes, as JSON values (a file's manifest; the codes are an array).

        Examples
        --------
        >>> from geoconstruct.codes.codebooks import BCHCodes
        >>> book = BCHCodes().build(100, 31, np.random.default_rng(0))
        >>> manifest = book.to_manifest()
        >>> manifest["trace_code"]
        {'m': 5, 't': 2}
        >>> Codebook.from_manifest(manifest, book.codes).trace_code == book.trace_code
        True
        """
        trace = self.trace_code
        return {
            "family": self.family,
            "decoding": self.decoding,
            "unit_norm": self.unit_norm,
            "coordinate_bound": self.coordinate_bound,
            "trace_code": None if trace is None else {"m": trace.m, "t": trace.t},
        }

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], codes: npt.NDArray[Any]) -> Codebook:
        """The codebook :meth:`to_manifest` described, with its codes."""
        trace = manifest.get("trace_code")
        return cls(
            family=str(manifest["family"]),
            codes=codes,
            decoding=manifest["decoding"],
            unit_norm=bool(manifest["unit_norm"]),
            coordinate_bound=float(manifest["coordinate_bound"]),
            trace_code=None if trace is None else TraceCode(m=int(trace["m"]), t=int(trace["t"])),
        )


GRAM_BLOCK_ROWS = 4096
"""Rows of the Gram matrix :func:`coherence` forms at once."""


def coherence(codes: npt.ArrayLike, *, block_rows: int = GRAM_BLOCK_ROWS) -> float:
    """Largest absolute cosine between two distinct rows of ``codes``.

    Computed in row blocks so that memory stays at ``block_rows × n_codes`` floats beside a
    normalised copy of the codes.

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
        gram = unit[start:stop] @ unit.T
        np.abs(gram, out=gram)  # in place: one block alive at a time
        gram[np.arange(stop - start), np.arange(start, stop)] = 0.0
        largest = max(largest, float(gram.max(initial=0.0)))
        del gram  # before the next block is formed
    return largest


class CodebookFamily(ABC):
    """A rule that builds a codebook of any size: everything a construction asks of a family.

    The one place where families differ. Constructions, layouts, tables and the command line ask
    these attributes and never test a family's class, so a new family is a subclass (a frozen
    dataclass) and an entry in :data:`~geoconstruct.codes.registry.FAMILIES`.

    Attributes
    ----------
    name : str
        The family's name, as :func:`~geoconstruct.codes.registry.resolve_codebook` and
        ``--codebook`` spell it.
    options : tuple of str
        The keyword arguments its constructor takes (the command line's ``--bits`` and
        ``--max-coherence``).
    unit_norm : bool
        Whether every code has norm 1 (the superposed layout needs it).
    random : bool
        Whether codes are drawn from the generator (and so can be checked for coherence, or
        averaged over by a proof).
    inner_product_law : {"sphere", "signs"} or None
        For random families, the law of the inner product of two independent codes: a sphere
        coordinate, or a mean of k random signs (the superposed theorem averages over it).
    sign_read_maps : bool
        Whether the family brings its own sign read maps for the superposed layout, with a
        closed-form crosstalk bound (:meth:`superposed_code_length`).
    """

    name: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()
    unit_norm: ClassVar[bool]
    random: ClassVar[bool] = False
    inner_product_law: ClassVar[InnerProductLaw | None] = None
    sign_read_maps: ClassVar[bool] = False

    @property
    def coherence_bound(self) -> float | None:
        """The coherence every built codebook is guaranteed not to exceed (None: no such bound)."""
        return None

    @property
    def digit_bits(self) -> int | None:
        """For integer codes, the bits of one coordinate (None for real-valued codes)."""
        return None

    def for_integer_format(self, bits: int) -> CodebookFamily:
        """The family a construction stored in a ``bits``-bit integer format builds (itself,
        unless its codes are integers whose width can follow the format).

        """
        return self

    @abstractmethod
    def min_code_length(self, n_codes: int) -> int:
        """Smallest k at which codes built carry the family's decoding guarantee."""

    def shortest_code_length(self, n_codes: int) -> int:
        """Smallest k at which :meth:`build` can produce ``n_codes`` codes at all."""
        return self.min_code_length(n_codes)

    def coherent_at(self, n_codes: int, code_length: int) -> bool:
        """Whether codes built at this length carry the family's decoding guarantee."""
        return code_length >= self.min_code_length(n_codes)

    def check_dtype(self, code_length: int, dtype: str) -> None:  # noqa: B027 - accepts any
        """Raise ``ValueError`` if codes of this length cannot be decoded as promised in dtype."""

    def superposed_code_length(self, n_codes: int, n_relations: int) -> int:
        """For families with :attr:`sign_read_maps`: the shortest code whose own structure
        bounds the crosstalk of ``n_relations`` superposed relations in closed form.

        """
        raise NotImplementedError(f"{self.name} codes bring no sign read maps")

    def draw_bytes(self, n_codes: int, code_length: int, *, coherence_checked: bool) -> int:
        """Bytes :meth:`build` holds at its peak: the float64 codes and the draw's temporaries
        (``_temporary_floats``); where the coherence is checked, a redraw beside the codes
        it replaces, their normalised copy and one block of the Gram matrix (:func:`coherence`).

        Parameters
        ----------
        coherence_checked : bool
            Whether the draw checks the coherence (a Gram block beside the codes).

        Examples
        --------
        >>> from geoconstruct.codes.codebooks import GaussianCodes
        >>> GaussianCodes().draw_bytes(1000, 100, coherence_checked=True) // 2**20
        10
        """
        floats = n_codes * code_length + self._temporary_floats(n_codes, code_length)
        if coherence_checked:
            floats += 2 * n_codes * code_length + min(n_codes, GRAM_BLOCK_ROWS) * n_codes
        return int(floats * 8)

    def _temporary_floats(self, n_codes: int, code_length: int) -> int:
        """Floats the draw holds beside the codes."""
        return 0

    @abstractmethod
    def build(
        self,
        n_codes: int,
        code_length: int,
        rng: np.random.Generator,
        *,
        superposed_relations: int = 1,
        coherent: bool | None = None,
    ) -> Codebook:
        """Build ``n_codes`` codes of length ``code_length`` (>= :meth:`shortest_code_length`).

        Parameters
        ----------
        n_codes, code_length : int
        rng : numpy.random.Generator
            The codes' stream (deterministic families do not draw from it).
        superposed_relations : int
            Relations that will be superposed on these codes through the family's own sign
            read maps (used where :attr:`sign_read_maps`).
        coherent : bool, optional
            Random families: whether to draw until the coherence is at most the bound (default:
            where :meth:`coherent_at`); ``False`` draws once, where no proof uses the bound.
        """


def check_code_length(family: CodebookFamily, n_codes: int, code_length: int) -> None:
    """Refuse a code length shorter than the family's shortest for ``n_codes`` codes.

    Parameters
    ----------
    family : CodebookFamily
        The family asked.

    Raises
    ------
    ValueError
        Naming the shortest length that can be built.
    """
    n_codes = require_int("n_codes", n_codes, minimum=1)
    code_length = require_int("code_length", code_length, minimum=1)
    shortest = family.shortest_code_length(n_codes)
    if code_length < shortest:
        raise ValueError(
            f"{family.name} codes for {n_codes} attributes require code_length >= {shortest}, "
            f"got {code_length}"
        )


def frozen_codebook(
    family: str, codes: FloatArray, decoding: Decoding, unit_norm: bool, coordinate_bound: float
) -> Codebook:
    """A :class:`Codebook` whose codes are a read-only float64 copy.

    Parameters
    ----------
    family : str
        The family's name.
    codes : ndarray, shape [n_codes, code_length]
        One code a row.
    decoding : Decoding
        How the unembedding decodes (nearest code, or nearest grid point).
    unit_norm : bool
        Whether every code has norm 1.
    coordinate_bound : float
        The largest absolute coordinate.
    """
    codes = np.ascontiguousarray(codes, dtype=np.float64)
    codes.flags.writeable = False
    return Codebook(family, codes, decoding, unit_norm, coordinate_bound)
