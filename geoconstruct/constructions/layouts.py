"""How relations share the subject subspace: the single-hop layouts, as objects.

A layout decides everything about a single-hop construction that depends on where the relations'
codes sit in the subject embedding: the residual map, the dimension formula and its inverse, the
read maps ``B_r``, which codebooks it accepts, the shortest code it needs, and the bounds the
selector and the unembedding are written with. Nothing outside this module branches on a layout's
name; :func:`resolve_layout` turns a name into its object.

``superposed`` (the default)
    ``B_r`` is a random ``k×k`` orthogonal matrix (for dual-BCH codes: the trace code's ±1 sign
    diagonals) and all relations share ``d_s = k`` dimensions; the read-out carries crosstalk from
    the other relations. Unit codes only. The read-out is written in place, into the subject
    subspace itself: ``d = k + R``. For random codes (gaussian, rademacher) and ``R >= 2``, with
    ``k >= ⌈32(R-1)² / (8R - 9 - 16γ(R-1)) · ln(N(N-1)R/δ)⌉`` (:func:`superposed_code_length`,
    ``δ = 1/100``, ``γ`` = :data:`ROUNDING_MARGIN`), every fact is recalled, with an exact logit
    margin of at least γ, with probability at least ``1 - δ`` over the draw of the codes and the
    ``B_r``, for facts drawn independently of them (``proofs/superposed_recall.md``,
    ``proofs/in_place_readout.md``). The codes are drawn once: the proof needs no coherence check.
``block``
    ``B_r`` puts relation r's code in its own k-dimensional slot: ``d_s = R·k``, no crosstalk,
    ``y = u_{π_r(s)}`` exactly, read out in place at slot 0: ``d = R·(k + 1)``. With grid codes,
    the exact-regime construction.
``superposed_separate``, ``block_separate``
    The same read maps with a separate k-dimensional output subspace: ``d = 2k + R`` and
    ``d = (R+1)·k + R``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from geoconstruct._validation import require_choice
from geoconstruct.codes.codebooks import Codebook, CodebookFamily
from geoconstruct.codes.sphere import coordinate_tail
from geoconstruct.constructions.construction import Guarantee
from geoconstruct.model.assembly import ResidualMap

__all__ = [
    "LAYOUTS",
    "ROUNDING_MARGIN",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "Layout",
    "block_read_maps",
    "pair_failure_r2",
    "resolve_layout",
    "superposed_code_length",
    "superposed_failure_bound",
]

FloatArray = npt.NDArray[np.float64]
Rng = np.random.Generator
Subspace = Literal["shared", "per_relation"]
Output = Literal["in_place", "separate"]

SUPERPOSED_FAILURE_PROBABILITY = 0.01
"""δ in the superposed dimension formula: recall fails with probability at most δ."""

ROUNDING_MARGIN = 2.0**-16
"""The exact logit margin (gamma in the proof) the superposed theorem guarantees beside recall, so
that a computed forward pass whose every logit is within half of it of the exact one recalls the
same facts (``proofs/superposed_recall.md``, Rounding). It costs at most one code coordinate."""

_NAMES: dict[tuple[Subspace, Output], str] = {
    ("shared", "in_place"): "superposed",
    ("per_relation", "in_place"): "block",
    ("shared", "separate"): "superposed_separate",
    ("per_relation", "separate"): "block_separate",
}


@dataclass(frozen=True)
class Layout:
    """Where the relations' codes sit in the subject subspace, and what follows from it.

    Two independent choices:

    ``subspace``
        ``"shared"``: every relation's code is read from the same ``d_s = k`` dimensions through
        its own orthogonal ``B_r`` (superposed, with crosstalk); ``"per_relation"``: relation r's
        code has its own k-slot, ``d_s = R·k`` (block, no crosstalk).
    ``output``
        ``"in_place"``: the read-out is written into the subject subspace's first k coordinates;
        ``"separate"``: into its own k-dimensional output subspace.

    Examples
    --------
    >>> layout = Layout("shared", "in_place")
    >>> layout.name, layout.dimension(4, 100), layout.code_length_at(4, 104)
    ('superposed', 104, 100)
    >>> block = Layout("per_relation", "separate")
    >>> block.name, block.dimension(8, 2), block.code_length_at(8, 26), block.code_length_at(8, 34)
    ('block_separate', 26, 2, 2)
    >>> [Layout("per_relation", "in_place").code_length_at(4, d) for d in (12, 15)]
    [2, 2]
    >>> Layout("shared", "separate").code_length_at(4, 205)
    100
    """

    subspace: Subspace
    output: Output

    def __post_init__(self) -> None:
        require_choice("subspace", self.subspace, ("shared", "per_relation"))
        require_choice("output", self.output, ("in_place", "separate"))

    @property
    def name(self) -> str:
        """``superposed``, ``block``, ``superposed_separate`` or ``block_separate``."""
        return _NAMES[(self.subspace, self.output)]

    @property
    def superposed(self) -> bool:
        """Whether the relations share the subject subspace."""
        return self.subspace == "shared"

    @property
    def in_place(self) -> bool:
        """Whether the read-out is written into the subject subspace itself."""
        return self.output == "in_place"

    # Dimensions --------------------------------------------------------------------------------

    def subject_dim(self, n_relations: int, code_length: int) -> int:
        """``d_s``, the width of the subject subspace: k shared, or R·k in slots.

        Parameters
        ----------
        n_relations : int
            R, the number of relations.
        code_length : int
            k, the length of each attribute code.
        """
        return code_length if self.superposed else n_relations * code_length

    def dimension(self, n_relations: int, code_length: int) -> int:
        """``d_model`` at code length k: the subject and relation subspaces, and the output
        subspace unless it is in place.

        Parameters
        ----------
        n_relations : int
            R, the number of relations.
        code_length : int
            k, the length of each attribute code.
        """
        output = 0 if self.in_place else code_length
        return self.subject_dim(n_relations, code_length) + n_relations + output

    def code_length_at(self, n_relations: int, d: int) -> int:
        """The largest code length whose :meth:`dimension` fits in ``d`` (its inverse).

        Parameters
        ----------
        n_relations : int
            R, the number of relations.
        d : int
            d_model, the residual width.
        """
        slots = 1 if self.superposed else n_relations  # copies of k in d_s
        if self.in_place:
            return (d - n_relations) // slots
        return (d - n_relations) // (slots + 1)

    def residual_map(self, n_relations: int, code_length: int, d: int) -> ResidualMap:
        """``| subject (d_s) | relation (R, one-hot) | output (k) | unused |``, the output
        subspace overlapping the subject subspace's first k coordinates when in place.

        Parameters
        ----------
        n_relations : int
            R, the number of relations.
        code_length : int
            k, the length of each attribute code.
        d : int
            d_model, the residual width.
        """
        subject = self.subject_dim(n_relations, code_length)
        if not self.in_place:
            return ResidualMap.stack(
                [("subject", subject), ("relation", n_relations), ("output", code_length)],
                d_model=d,
            )
        if subject + n_relations > d:
            raise ValueError(f"the subspaces need {subject + n_relations} dimensions, d is {d}")
        spans = (
            ("subject", slice(0, subject)),
            ("relation", slice(subject, subject + n_relations)),
            ("output", slice(0, code_length)),
        )
        return ResidualMap(spans, d)

    # Codes, and what is proved about them ------------------------------------------------------

    def check_codebook(self, family: CodebookFamily) -> None:
        """Raise ``ValueError`` if the layout cannot use codes of this family.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        if not self.superposed:
            return
        if not family.unit_norm:
            raise ValueError(
                f"codebook {family.name!r} cannot be used with the superposed layout: its "
                "crosstalk bound needs unit-norm codes (use 'gaussian' or 'rademacher')"
            )
        if family.inner_product_law is None and not family.sign_read_maps:
            raise ValueError(
                f"codebook {family.name!r} cannot be used with the superposed layout: its "
                "crosstalk theorem needs random codes (a known inner-product law) or the "
                "family's own sign read maps"
            )

    def min_code_length(self, n_subjects: int, n_relations: int, family: CodebookFamily) -> int:
        """The shortest code with a proof.

        Block: the codebook's own guaranteed minimum. Superposed: a family's closed-form sign
        read maps (dual-BCH); for ``R = 1`` the codebook's coherent length; otherwise
        :func:`superposed_code_length` with the law of the inner product of two of the family's
        codes (no coherence bound is used).

        Parameters
        ----------
        n_subjects : int
            N, the number of subjects (and of attributes).
        n_relations : int
            R, the number of relations.
        family : CodebookFamily
            The codes' family.
        """
        if not self.superposed:
            return family.min_code_length(n_subjects)
        if family.sign_read_maps:  # the crosstalk is bounded in closed form, for every fact set
            return family.superposed_code_length(n_subjects, n_relations)
        if _without_crosstalk_theorem(n_subjects, n_relations, family):
            return family.min_code_length(n_subjects)
        return max(
            family.shortest_code_length(n_subjects),
            superposed_code_length(
                n_subjects, n_relations, inner_products=family.inner_product_law
            ),
        )

    def shortest_code_length(
        self, n_subjects: int, n_relations: int, family: CodebookFamily
    ) -> int:
        """The shortest code the construction can be assembled with (no proof below
        :meth:`min_code_length`: recall is measured); a trace code long enough for R sign read
        maps is built whole.

        Parameters
        ----------
        n_subjects : int
            N, the number of subjects (and of attributes).
        n_relations : int
            R, the number of relations.
        family : CodebookFamily
            The codes' family.
        """
        if self.superposed and family.sign_read_maps:
            return family.superposed_code_length(n_subjects, n_relations)
        return family.shortest_code_length(n_subjects)

    def checks_coherence(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> bool:
        """Whether random codes are drawn until their coherence is at most μ: wherever a proof
        uses the bound, from :meth:`min_code_length` on; superposed, only for ``R = 1`` (the
        crosstalk theorem averages over the codes' draw and needs no coherence bound).

        Parameters
        ----------
        n_subjects : int
            N, the number of subjects (and of attributes).
        n_relations : int
            R, the number of relations.
        family : CodebookFamily
            The codes' family.
        code_length : int
            k, the length of each attribute code.
        """
        proved = code_length >= self.min_code_length(n_subjects, n_relations, family)
        uses_bound = not self.superposed or n_relations == 1
        return family.random and proved and uses_bound

    def build_codebook(
        self, family: CodebookFamily, n_codes: int, code_length: int, n_relations: int, rng: Rng
    ) -> Codebook:
        """The attribute codes, drawn from ``rng`` (checked for coherence only where
        :meth:`checks_coherence`).

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        n_codes : int
            How many codes (the attributes).
        code_length : int
            k, the length of each attribute code.
        n_relations : int
            R, the number of relations.
        rng : numpy.random.Generator
            The codes' random stream (unused by deterministic families).
        """
        return family.build(
            n_codes,
            code_length,
            rng,
            superposed_relations=n_relations if self.superposed else 1,
            coherent=self.checks_coherence(n_codes, n_relations, family, code_length),
        )

    def guarantee(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> Guarantee:
        """What is proved for a construction of this layout at code length k.

        Parameters
        ----------
        n_subjects : int
            N, the number of subjects (and of attributes).
        n_relations : int
            R, the number of relations.
        family : CodebookFamily
            The codes' family.
        code_length : int
            k, the length of each attribute code.
        """
        proven = self.min_code_length(n_subjects, n_relations, family)
        if code_length >= proven:
            return self.proved_guarantee(n_subjects, n_relations, family, code_length)
        return Guarantee(
            "none",
            None,
            f"nothing proved: k = {code_length} is below the {proven} the {self.name} layout's "
            "proof needs; codes drawn once, without rejection (no coherence bound is used at "
            "this length); recall is measured",
        )

    def proved_guarantee(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> Guarantee:
        """What the proof gives at or above :meth:`min_code_length`.

        Parameters
        ----------
        n_subjects : int
            N, the number of subjects (and of attributes).
        n_relations : int
            R, the number of relations.
        family : CodebookFamily
            The codes' family.
        code_length : int
            k, the length of each attribute code.
        """
        if not self.superposed:
            return Guarantee(
                "every_draw", None, "every fact, for every draw (proofs/block_recall.md)"
            )
        if family.sign_read_maps:
            return Guarantee(
                "every_draw", None, "every fact, for every set of facts (proofs/bch_codes.md)"
            )
        if _without_crosstalk_theorem(n_subjects, n_relations, family):
            # no crosstalk (y = u_t), codes checked coherent
            return Guarantee(
                "every_draw", None, "every fact, for every draw (proofs/superposed_recall.md)"
            )
        delta = SUPERPOSED_FAILURE_PROBABILITY
        exponent = round(math.log2(ROUNDING_MARGIN))
        return Guarantee(
            "with_probability",
            delta,
            f"every fact with probability >= {1 - delta:g} over the draw of the codes and the "
            "read maps, for facts drawn independently of them, with exact logit margins >= "
            f"2^{exponent}, so also by any pass whose logits are within 2^{exponent - 1} of "
            "exact (proofs/superposed_recall.md)",
        )

    # Read maps and the bounds the selector and unembedding are written with ---------------------

    def read_maps(self, n_keys: int, codebook: Codebook, rng: Rng) -> FloatArray:
        """``B_c`` for every selector key, shape [n_keys, d_s, k], drawn from ``rng``.

        Block: slot c is the identity on rows ``c·k … (c+1)·k``. Superposed: Haar-random
        orthogonal ``B_r``, or a trace code's ±1 relation signs on the diagonal.

        Parameters
        ----------
        n_keys : int
            How many read maps (relations, or chain keys).
        codebook : Codebook
            The attribute codes, drawn.
        rng : numpy.random.Generator
            The codes' random stream (unused by deterministic families).
        """
        if not self.superposed:
            return block_read_maps(n_keys, codebook.code_length)
        if codebook.trace_code is not None:
            signs = codebook.trace_code.relation_signs(n_keys, codebook.code_length)
            return np.stack([np.diag(relation_signs) for relation_signs in signs])
        return np.stack([_haar_orthogonal(codebook.code_length, rng) for _ in range(n_keys)])

    def sign_read_maps(self, codebook: Codebook) -> bool:
        """Whether the read maps are a trace code's relation signs (a certificate hint).

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        """
        return self.superposed and codebook.trace_code is not None

    def selector_reads(self, residual: ResidualMap, read_maps: FloatArray) -> FloatArray:
        """What selector key c reads from the residual stream, [n_keys, d_model, k].

        Separate: ``B_c`` lifted from the subject subspace (the MLP writes ``B_cᵀ e_s`` into
        ``output``). In place: ``B_c − P``, the selected read-out minus what the output
        coordinates already hold (``P`` their embedding), so that they hold ``B_cᵀ e_s`` after
        the MLP (``proofs/in_place_readout.md``).

        Parameters
        ----------
        residual : ResidualMap
            The residual stream's named subspaces.
        read_maps : ndarray, shape [n_keys, subject_dim, k]
            B_c in the subject subspace.
        """
        lifted = residual.lift("subject", read_maps)
        if not self.in_place:
            return lifted
        held = residual.basis("output").T  # [d_model, k]
        return lifted - held[None, :, :]

    def selected_bound(self, codebook: Codebook, n_relations: int) -> float:
        """A bound on every selected coordinate ``|(B_rᵀ e_s)_j|`` over every set of facts:
        block, a coordinate of some code; superposed, ``‖e_s‖ <= R·max‖u‖``.

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        n_relations : int
            R, the number of relations.
        """
        if self.superposed:
            return n_relations * codebook.norm_bound
        return codebook.coordinate_bound

    def gate_scale(self, codebook: Codebook, n_relations: int) -> float:
        """λ, the selector's gate scale: :meth:`selected_bound`, doubled in place, where the
        selector writes a difference of two read-outs each bounded by it.

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        n_relations : int
            R, the number of relations.
        """
        copies = 2.0 if self.in_place else 1.0
        return copies * self.selected_bound(codebook, n_relations)

    def output_norm(self, codebook: Codebook, n_relations: int) -> float:
        """A bound on ``‖y‖ = ‖B_rᵀ e_s‖`` over every set of facts (for the unembedding floor).

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        n_relations : int
            R, the number of relations.
        """
        if self.superposed:
            return n_relations * codebook.norm_bound
        return codebook.norm_bound


def _without_crosstalk_theorem(n_subjects: int, n_relations: int, family: CodebookFamily) -> bool:
    """Superposed codes that need no crosstalk theorem: one relation or one subject (``y = u_t``),
    or a family with no inner-product law to average over (which :meth:`Layout.check_codebook`
    refuses for the superposed layout); the codebook's coherent length is then the proof's."""
    return n_relations == 1 or n_subjects == 1 or family.inner_product_law is None


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("shared", "in_place"),
        Layout("per_relation", "in_place"),
        Layout("shared", "separate"),
        Layout("per_relation", "separate"),
    )
}
"""Every layout by name; the first, ``superposed``, is the default."""


def resolve_layout(layout: str | Layout) -> Layout:
    """Turn a layout name into its object; pass a :class:`Layout` through.

    Parameters
    ----------
    layout : str or Layout
        Where the relations' codes sit: ``"superposed"`` (the paper's) or ``"block"``.

    Examples
    --------
    >>> resolve_layout("block")
    Layout(subspace='per_relation', output='in_place')
    """
    if isinstance(layout, Layout):
        return layout
    return LAYOUTS[require_choice("layout", layout, tuple(LAYOUTS))]


TAIL_GRID = 16384
"""Intervals of the code inner product's range in the upper sum that bounds the ``R = 2`` tail."""


def superposed_failure_bound(
    n_subjects: int,
    n_relations: int,
    code_length: int,
    margin: float = ROUNDING_MARGIN,
    inner_products: str = "sphere",
) -> float:
    """A bound on the probability that some fact of the superposed layout (random codes,
    ``R >= 2``) has an exact logit margin below γ, capped at 1 (``proofs/superposed_recall.md``).

    ``R >= 3``: ``N(N−1)R·exp(−k(8R − 9 − 16γ(R−1)) / (32(R−1)²))``. ``R = 2``: ``N(N−1)·2`` times
    the exact tail of one wrong attribute, :func:`pair_failure_r2`.

    Parameters
    ----------
    n_subjects : int
        N, the number of subjects (and of attributes).
    n_relations : int
        R, the number of relations.
    code_length : int
        k, the length of each attribute code.
    margin : float
        γ, the logit margin asked of every fact.
    inner_products : str
        The codes' inner-product law: ``"sphere"`` (random unit codes) or ``"rademacher"``.

    Examples
    --------
    >>> superposed_failure_bound(4096, 4, 284) <= 0.01 < superposed_failure_bound(4096, 4, 283)
    True
    """
    pairs = n_subjects * (n_subjects - 1) * n_relations
    if n_relations == 2:
        return min(1.0, pairs * pair_failure_r2(code_length, margin, inner_products))
    n_relations_less_one = n_relations - 1
    rate = (8 * n_relations - 9 - 16 * margin * n_relations_less_one) / (
        32 * n_relations_less_one**2
    )
    return min(1.0, pairs * math.exp(-code_length * rate))


def pair_failure_r2(
    code_length: int, margin: float = ROUNDING_MARGIN, inner_products: str = "sphere"
) -> float:
    """``R = 2``: a bound on ``P(margin against one wrong attribute < γ)``, over the codes and
    the read maps.

    Given the codes, the crosstalk is one uniform unit vector, so the probability is exactly the
    sphere tail ``T_k(x(c))`` at ``x(c) = ‖z‖/2 − γ/‖z‖``, ``‖z‖ = √(2(1 − c))``, c the inner
    product of the two codes; it increases with c. For codes uniform on the sphere
    (``inner_products="sphere"``) c has the sphere coordinate's law and the average is bounded by
    the upper sum over :data:`TAIL_GRID` intervals of ``[−1, 1]``; for rademacher codes
    (``"signs"``) c = (k − 2j)/k with binomial weights and the average is a finite sum.

    Parameters
    ----------
    code_length : int
        k, the length of each attribute code.
    margin : float
        γ, the logit margin asked of every fact.
    inner_products : str
        The codes' inner-product law: ``"sphere"`` (random unit codes) or ``"rademacher"``.

    Examples
    --------
    >>> 0 < pair_failure_r2(75) < pair_failure_r2(74) < 1e-9
    True
    """
    if inner_products == "signs":
        flips = np.arange(code_length + 1)
        others = code_length - flips
        log_choose = gammaln(code_length + 1) - gammaln(flips + 1) - gammaln(others + 1)
        weights = np.exp(log_choose - code_length * math.log(2.0))  # C(k, j)·2^-k
        inner = (code_length - 2 * flips) / code_length
        return float(np.sum(weights * _r2_tail(code_length, inner, margin)))
    edges = np.linspace(-1.0, 1.0, TAIL_GRID + 1)
    # P(edge_i < c <= edge_i+1), each from the side where its terms are small (no 1 − tail):
    # P(c <= x) = T_k(−x) by symmetry, and P(c > x) = T_k(x).
    lower, upper = edges[:-1], edges[1:]
    below = coordinate_tail(code_length, -upper) - coordinate_tail(code_length, -lower)
    above = coordinate_tail(code_length, lower) - coordinate_tail(code_length, upper)
    weights = np.where(upper <= 0, below, above)
    return float(np.sum(np.maximum(weights, 0.0) * _r2_tail(code_length, upper, margin)))


def _r2_tail(code_length: int, inner: FloatArray, margin: float) -> FloatArray:
    """``T_k(‖z‖/2 − γ/‖z‖)`` at code inner products ``inner`` (1 where the codes coincide)."""
    distance = np.sqrt(np.maximum(2.0 * (1.0 - inner), 0.0))
    with np.errstate(divide="ignore"):
        threshold = np.where(distance > 0, distance / 2 - margin / distance, -np.inf)
    return coordinate_tail(code_length, threshold)


@functools.lru_cache(maxsize=256)
def superposed_code_length(
    n_subjects: int,
    n_relations: int,
    failure_probability: float = SUPERPOSED_FAILURE_PROBABILITY,
    margin: float = ROUNDING_MARGIN,
    inner_products: str = "sphere",
) -> int:
    """The shortest random code with which every fact of the superposed layout keeps a margin of
    γ with probability at least ``1 − δ`` (``R >= 2``, ``N >= 2``; ``proofs/superposed_recall.md``).

    ``R >= 3``: ``⌈32(R−1)² / (8R − 9 − 16γ(R−1)) · ln(N(N−1)R/δ)⌉``. ``R = 2``: the smallest k at
    which :func:`superposed_failure_bound`, with the exact tail, is at most δ (a bisection over
    sums of 16,384 sphere tails, so the answer is remembered: a build asks for it three times).

    Examples
    --------
    >>> [superposed_code_length(4096, relations) for relations in (2, 4, 8)]
    [75, 284, 665]
    """
    n_relations_less_one = n_relations - 1
    per_unit = (32 * n_relations_less_one**2) / (
        8 * n_relations - 9 - 16 * margin * n_relations_less_one
    )
    pairs = n_subjects * (n_subjects - 1) * n_relations
    exponential = math.ceil(per_unit * math.log(pairs / failure_probability))
    if n_relations != 2:
        return exponential
    # The exact tail is at most the exponential bound, so its k is at most that one; bisect
    # (the tail falls with k; the sympy checks confirm that one code length less fails).
    low, high = 1, exponential  # the bound fails at low (or low is below any code), holds at high
    while high - low > 1:
        middle = (low + high) // 2
        bound = superposed_failure_bound(n_subjects, 2, middle, margin, inner_products)
        low, high = (low, middle) if bound <= failure_probability else (middle, high)
    return high


def block_read_maps(n_keys: int, code_length: int) -> FloatArray:
    """``n_keys`` k-slots: ``B_c`` is the identity on rows ``c·k … (c+1)·k``, [n_keys, n_keys·k, k].

    Parameters
    ----------
    n_keys : int
        How many k-slots (relations, or chain keys).
    code_length : int
        k, the length of each attribute code.

    Examples
    --------
    >>> block_read_maps(2, 1)[:, :, 0].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    slots = np.zeros((n_keys, n_keys * code_length, code_length))
    for key in range(n_keys):
        slots[key, key * code_length : (key + 1) * code_length] = np.eye(code_length)
    return slots


def _haar_orthogonal(size: int, rng: Rng) -> FloatArray:
    """A Haar-random orthogonal matrix: QR of a Gaussian matrix, signs fixed by R's diagonal."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    orthogonal: FloatArray = q * np.sign(np.diag(r))
    return orthogonal
