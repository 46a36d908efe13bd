"""A layout as two independent choices: where the relations live, and where the read-out lands.

:class:`Relations` (``shared`` or ``slots``) decides everything that depends on where the
relations' codes sit in the subject embedding: ``d_s``, the read maps ``B_r``, which codebooks
it accepts, the shortest code and the proved one, the guarantee, and the bounds on what the
selector reads. :class:`Readout` (``in_place`` or ``separate``) decides where the selector writes
``y = B_rᵀ e_s``: the output subspace's width in ``d``, where it sits, and what the selector
subtracts so that the output holds ``y`` (``proofs/in_place_readout.md``). A :class:`Layout` is
the pair; what depends on one choice is asked of that choice (``layout.relations``,
``layout.readout``), and nothing branches on either outside these three modules.
:func:`resolve_layout` turns a name into its object.

``superposed`` (shared, in place: the default)
    ``B_r`` is a random ``k×k`` orthogonal matrix (for dual-BCH codes: the trace code's ±1 sign
    diagonals) and all relations share ``d_s = k`` dimensions; the read-out carries crosstalk from
    the other relations. Unit codes only. ``d = k + R``. For random codes (gaussian, rademacher)
    and ``R >= 2``, at every k where
    :func:`~geoconstruct.constructions.superposed_bound.superposed_failure_bound` is at most
    ``δ = 1/100`` (from :func:`superposed_code_length` on), every fact is recalled, with an exact
    logit margin of at least γ = :data:`ROUNDING_MARGIN`, with probability at least ``1 - δ`` over
    the draw of the codes and the ``B_r``, for facts drawn independently of them
    (``proofs/superposed_recall.md``). The codes are drawn once: the proof needs no coherence
    check.
``block`` (slots, in place)
    ``B_r`` puts relation r's code in its own k-dimensional slot: ``d_s = R·k``, no crosstalk,
    ``y = u_{π_r(s)}`` exactly: ``d = R·(k + 1)``. With grid codes, the exact regime.
``superposed_separate``, ``block_separate``
    The same relations with a separate k-dimensional output subspace: ``d = 2k + R`` and
    ``d = (R+1)·k + R``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geoconstruct._validation import require_choice
from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.constructions.construction import Guarantee
from geoconstruct.constructions.readouts import READOUTS, InPlace, Readout, Separate
from geoconstruct.constructions.relations import (
    RELATIONS,
    Relations,
    Shared,
    Slots,
    block_read_maps,
)
from geoconstruct.constructions.superposed_bound import (
    ROUNDING_MARGIN,
    SUPERPOSED_FAILURE_PROBABILITY,
    superposed_code_length,
    superposed_failure_bound,
)
from geoconstruct.model.assembly import ResidualMap

__all__ = [
    "LAYOUTS",
    "READOUTS",
    "RELATIONS",
    "ROUNDING_MARGIN",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "InPlace",
    "Layout",
    "Readout",
    "Relations",
    "Separate",
    "Shared",
    "Slots",
    "block_read_maps",
    "resolve_layout",
    "superposed_code_length",
    "superposed_failure_bound",
]

Rng = np.random.Generator

_NAMES = {
    ("shared", "in_place"): "superposed",
    ("per_relation", "in_place"): "block",
    ("shared", "separate"): "superposed_separate",
    ("per_relation", "separate"): "block_separate",
}


@dataclass(frozen=True)
class Layout:
    """Where the relations live (:class:`Relations`) and where the read-out lands
    (:class:`Readout`): two independent choices. What depends on one choice only, ask it
    (``layout.relations.min_code_length(...)``, ``layout.readout.selector_reads(...)``); the
    methods here are the ones that need both.

    Examples
    --------
    >>> layout = Layout(Shared(), InPlace())
    >>> layout.name, layout.dimension(4, 100), layout.code_length_at(4, 104)
    ('superposed', 104, 100)
    >>> block = Layout(Slots(), Separate())
    >>> block.name, block.dimension(8, 2), block.code_length_at(8, 26), block.code_length_at(8, 34)
    ('block_separate', 26, 2, 2)
    >>> [Layout(Slots(), InPlace()).code_length_at(4, d) for d in (12, 15)]
    [2, 2]
    """

    relations: Relations
    readout: Readout
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _NAMES[(self.relations.name, self.readout.name)])

    def dimension(self, n_relations: int, code_length: int) -> int:
        """``d_model`` at code length k: ``d_s + R`` and the output's own width."""
        subject = self.relations.subject_dim(n_relations, code_length)
        return subject + n_relations + self.readout.output_dim(code_length)

    def code_length_at(self, n_relations: int, d: int) -> int:
        """The largest code length whose :meth:`dimension` fits in ``d`` (its inverse; every
        width is linear in k)."""
        per_k = self.dimension(n_relations, 1) - self.dimension(n_relations, 0)
        return (d - self.dimension(n_relations, 0)) // per_k

    def residual_map(self, n_relations: int, code_length: int, d: int) -> ResidualMap:
        """The named subspaces (:meth:`Readout.residual_map`)."""
        subject = self.relations.subject_dim(n_relations, code_length)
        return self.readout.residual_map(subject, n_relations, code_length, d)

    def checks_coherence(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> bool:
        """Whether random codes are drawn until their coherence is at most μ: where a proof uses
        the bound, from :meth:`Relations.min_code_length` on.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        if not family.random or not self.relations.uses_coherence(n_relations):
            return False
        return code_length >= self.relations.min_code_length(n_subjects, n_relations, family)

    def build_codebook(
        self, family: CodebookFamily, n_codes: int, code_length: int, n_relations: int, rng: Rng
    ) -> Codebook:
        """The attribute codes, drawn from ``rng`` (checked for coherence only where
        :meth:`checks_coherence`).

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        rng : numpy.random.Generator
            The codes' random stream (unused by deterministic families).
        """
        return family.build(
            n_codes,
            code_length,
            rng,
            superposed_relations=n_relations if self.relations.superposed else 1,
            coherent=self.checks_coherence(n_codes, n_relations, family, code_length),
        )

    def guarantee(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> Guarantee:
        """What is proved at code length k (``"none"`` below the proof, saying why).

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        proven = self.relations.min_code_length(n_subjects, n_relations, family)
        if code_length >= proven:
            proved = self.relations.proved_guarantee(n_subjects, n_relations, family, code_length)
            if proved is not None:
                return proved
            reason = f"the theorem's bound evaluated at k = {code_length} exceeds δ"
        else:
            reason = f"k = {code_length} is below the {proven} the {self.name} layout's proof needs"
        return Guarantee(
            "none",
            None,
            f"nothing proved: {reason}; codes drawn once, without rejection (no coherence bound "
            "is used at this length); recall is measured",
        )

    def gate_scale(self, codebook: Codebook, n_relations: int) -> float:
        """λ, the selector's gate scale: the relations' bound on a selected coordinate, times
        the read-outs the selector writes the difference of (two in place).

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        """
        return self.readout.copies * self.relations.selected_bound(codebook, n_relations)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout(Shared(), InPlace()),
        Layout(Slots(), InPlace()),
        Layout(Shared(), Separate()),
        Layout(Slots(), Separate()),
    )
}
"""Every layout by name; the first, ``superposed``, is the default."""


def resolve_layout(layout: str | Layout) -> Layout:
    """Turn a layout name into its object; pass a :class:`Layout` through.

    Examples
    --------
    >>> resolve_layout("block")
    Layout(relations=Slots(), readout=InPlace(), name='block')
    """
    if isinstance(layout, Layout):
        return layout
    return LAYOUTS[require_choice("layout", layout, tuple(LAYOUTS))]
