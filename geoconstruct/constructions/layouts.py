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
    subspace itself: ``d = k + R``. For random codes (gaussian, rademacher) and ``R >= 2``, at
    every k where :func:`~geoconstruct.constructions.superposed_bound.superposed_failure_bound`
    is at most ``δ = 1/100`` (from :func:`superposed_code_length` on), every fact is recalled,
    with an exact logit margin of at least γ = :data:`ROUNDING_MARGIN`, with probability at least
    ``1 - δ`` over the draw of the codes and the ``B_r``, for facts drawn independently of them
    (``proofs/superposed_recall.md``, ``proofs/in_place_readout.md``). The codes are drawn once:
    the proof needs no coherence check.
``block``
    ``B_r`` puts relation r's code in its own k-dimensional slot: ``d_s = R·k``, no crosstalk,
    ``y = u_{π_r(s)}`` exactly, read out in place at slot 0: ``d = R·(k + 1)``. With grid codes,
    the exact-regime construction.
``superposed_separate``, ``block_separate``
    The same read maps with a separate k-dimensional output subspace: ``d = 2k + R`` and
    ``d = (R+1)·k + R``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_choice
from geoconstruct.codes.codebooks import Codebook, CodebookFamily
from geoconstruct.constructions import superposed_bound as theorem
from geoconstruct.constructions.construction import Guarantee
from geoconstruct.constructions.superposed_bound import (
    ROUNDING_MARGIN,
    SUPERPOSED_FAILURE_PROBABILITY,
    superposed_code_length,
    superposed_failure_bound,
)
from geoconstruct.model.assembly import ResidualMap

__all__ = [
    "LAYOUTS",
    "ROUNDING_MARGIN",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "Layout",
    "block_read_maps",
    "resolve_layout",
    "superposed_code_length",
    "superposed_failure_bound",
]

FloatArray = npt.NDArray[np.float64]
Rng = np.random.Generator
Subspace = Literal["shared", "per_relation"]
Output = Literal["in_place", "separate"]

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

    def check_codebook(self, family: CodebookFamily, n_relations: int | None = None) -> None:
        """Raise ``ValueError`` if the layout cannot use codes of this family, or if a coherence
        bound was asked of random codes that the superposed theorem (``R >= 2``) does not use.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        n_relations : int, optional
            R, where known: a ``max_coherence`` other than the family's default is refused for
            the superposed layout with ``R >= 2``, where nothing reads it.
        """
        if not self.superposed:
            return
        fields: tuple[dataclasses.Field[Any], ...] = (
            dataclasses.fields(family) if dataclasses.is_dataclass(family) else ()
        )
        default: dict[str, object] = {field.name: field.default for field in fields}
        asked = getattr(family, "max_coherence", None)
        if (
            n_relations is not None
            and n_relations >= 2
            and family.random
            and "max_coherence" in default
            and asked != default["max_coherence"]
        ):
            raise ValueError(
                f"max_coherence={asked} (--max-coherence) has no effect on the {self.name} "
                f"layout with R = {n_relations}: its theorem averages over the codes' draw and "
                "uses no coherence bound; use layout='block' (--layout block), where it sets the "
                "margin 1 - μ"
            )
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
        law = family.inner_product_law
        if law is None or _without_crosstalk_theorem(n_subjects, n_relations, family):
            return family.min_code_length(n_subjects)
        return max(
            family.shortest_code_length(n_subjects),
            theorem.superposed_code_length(n_subjects, n_relations, inner_products=law),
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
            if self._bound_holds(n_subjects, n_relations, family, code_length):
                return self.proved_guarantee(n_subjects, n_relations, family, code_length)
            reason = f"the theorem's bound evaluated at k = {code_length} exceeds δ"
        else:
            reason = f"k = {code_length} is below the {proven} the {self.name} layout's proof needs"
        return Guarantee(
            "none",
            None,
            f"nothing proved: {reason}; codes drawn once, without rejection (no coherence bound "
            "is used at this length); recall is measured",
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
        delta = theorem.SUPERPOSED_FAILURE_PROBABILITY
        exponent = round(math.log2(theorem.ROUNDING_MARGIN))
        return Guarantee(
            "with_probability",
            delta,
            f"every fact with probability >= {1 - delta:g} over the draw of the codes and the "
            "read maps, for facts drawn independently of them, with exact logit margins >= "
            f"2^{exponent}, so also by any pass whose logits are within 2^{exponent - 1} of "
            "exact (proofs/superposed_recall.md)",
        )

    def _bound_holds(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> bool:
        """Whether the superposed failure bound is at most δ at this k (it need not fall with k
        exactly, so a k above the shortest is evaluated, not assumed); other cases: True."""
        if not self.superposed or family.sign_read_maps:
            return True
        if _without_crosstalk_theorem(n_subjects, n_relations, family):
            return True
        law = family.inner_product_law
        assert law is not None  # _without_crosstalk_theorem covers the families without one
        delta = theorem.SUPERPOSED_FAILURE_PROBABILITY
        if code_length >= theorem.exponential_code_length(n_subjects, n_relations):
            return True  # Theorem 1's bound falls with k
        bound = theorem.superposed_failure_bound(
            n_subjects, n_relations, code_length, inner_products=law
        )
        return bound <= delta

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

    def uncertifiable(self, family: CodebookFamily, n_relations: int) -> str | None:
        """Why the certificate can prove no fact of this layout and family, known before it
        runs; None where it may (clean read-outs, or a trace code's sign read maps).

        Parameters
        ----------
        family : CodebookFamily
            The attribute codes' family.
        n_relations : int
            R; with one relation a superposed read-out is clean.

        Examples
        --------
        >>> from geoconstruct.codes.codebooks import resolve_codebook
        >>> resolve_layout("superposed").uncertifiable(resolve_codebook("gaussian"), 2)
        "random superposed codes: the other relations' crosstalk has no bound the certificate uses"
        >>> resolve_layout("block").uncertifiable(resolve_codebook("gaussian"), 2) is None
        True
        """
        if self.superposed and n_relations >= 2 and not family.sign_read_maps:
            return (
                "random superposed codes: the other relations' crosstalk has no bound the "
                "certificate uses"
            )
        return None

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
