"""Where the relations live, the first of a layout's two choices: one shared subspace
(:class:`Shared`, superposed through random orthogonal read maps) or a k-slot each
(:class:`Slots`). Each answers what depends on it: ``d_s``, the read maps, the codebooks it
accepts, the shortest and the proved code length, the guarantee, and the bounds on what the
selector reads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.constructions import superposed_bound as theorem
from geoconstruct.constructions.construction import Guarantee
from geoconstruct.constructions.memory import FLOAT64

__all__ = ["RELATIONS", "Relations", "Shared", "Slots", "block_read_maps"]

FloatArray = npt.NDArray[np.float64]
Rng = np.random.Generator


class Relations:
    """Where the relations live: one shared subspace, or a k-slot each. Subclasses answer."""

    name: str
    superposed: bool

    def subject_dim(self, n_relations: int, code_length: int) -> int:
        """``d_s``, the subject subspace's width at code length k."""
        raise NotImplementedError

    def check_codebook(self, family: CodebookFamily, n_relations: int | None) -> None:
        """Raise ``ValueError`` for codes these relations cannot use.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """

    def min_code_length(self, n_subjects: int, n_relations: int, family: CodebookFamily) -> int:
        """The shortest code with a proof.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        return family.min_code_length(n_subjects)

    def shortest_code_length(
        self, n_subjects: int, n_relations: int, family: CodebookFamily
    ) -> int:
        """The shortest code the construction can be assembled with.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        return family.shortest_code_length(n_subjects)

    def uses_coherence(self, n_relations: int) -> bool:
        """Whether a proof reads the codes' coherence bound."""
        return True

    def proved_guarantee(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> Guarantee | None:
        """What the proof gives at ``code_length`` (at or above :meth:`min_code_length`), or None
        where its bound evaluated there exceeds δ.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        return Guarantee("every_draw", None, "every fact, for every draw (proofs/block_recall.md)")

    def read_maps(self, n_keys: int, codebook: Codebook, rng: Rng) -> FloatArray:
        """``B_c`` for every selector key, [n_keys, d_s, k], drawn from ``rng``.

        Parameters
        ----------
        n_keys : int
            How many read maps (relations, or chain keys).
        codebook : Codebook
            The attribute codes, drawn.
        rng : numpy.random.Generator
            The read maps' random stream.
        """
        return block_read_maps(n_keys, codebook.code_length)

    def read_map_bytes(self, n_relations: int, code_length: int, family: CodebookFamily) -> int:
        """Work bytes of drawing the read maps beyond the maps themselves (memory plan).

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        return 0  # slots are written in place

    def selected_bound(self, codebook: Codebook, n_relations: int) -> float:
        """A bound on ``|(B_rᵀ e_s)_j|`` over every set of facts: a coordinate of some code.

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        """
        return codebook.coordinate_bound

    def output_norm(self, codebook: Codebook, n_relations: int) -> float:
        """A bound on ``‖y‖ = ‖B_rᵀ e_s‖`` over every set of facts: the norm of some code.

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        """
        return codebook.norm_bound

    def uncertifiable(self, family: CodebookFamily, n_relations: int) -> str | None:
        """Why the certificate can prove no fact here, known before it runs; None where it may.

        Parameters
        ----------
        family : CodebookFamily
            The codes' family.
        """
        return None

    def sign_read_maps(self, codebook: Codebook) -> bool:
        """Whether the read maps are a trace code's relation signs (a certificate hint).

        Parameters
        ----------
        codebook : Codebook
            The attribute codes, drawn.
        """
        return False


@dataclass(frozen=True)
class Slots(Relations):
    """Relation r's code in its own k-slot: ``d_s = R·k``, ``y = u_{π_r(s)}`` exactly."""

    name, superposed = "per_relation", False

    def subject_dim(self, n_relations: int, code_length: int) -> int:
        return n_relations * code_length


@dataclass(frozen=True)
class Shared(Relations):
    """Every relation read from the same k dimensions through its own orthogonal ``B_r``."""

    name, superposed = "shared", True

    def subject_dim(self, n_relations: int, code_length: int) -> int:
        return code_length

    def check_codebook(self, family: CodebookFamily, n_relations: int | None) -> None:
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
                f"max_coherence={asked} (--max-coherence) has no effect on the superposed "
                f"layouts with R = {n_relations}: their theorem averages over the codes' draw and "
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
        # a trace code's sign read maps bound the crosstalk in closed form, for every fact set;
        # one relation (no crosstalk): the coherent length; otherwise the exact-tail theorem
        if family.sign_read_maps:
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
        if family.sign_read_maps:  # a trace code long enough for R sign read maps, built whole
            return family.superposed_code_length(n_subjects, n_relations)
        return family.shortest_code_length(n_subjects)

    def uses_coherence(self, n_relations: int) -> bool:
        return n_relations == 1  # the crosstalk theorem averages over the draw

    def proved_guarantee(
        self, n_subjects: int, n_relations: int, family: CodebookFamily, code_length: int
    ) -> Guarantee | None:
        if family.sign_read_maps:
            return Guarantee(
                "every_draw", None, "every fact, for every set of facts (proofs/bch_codes.md)"
            )
        if _without_crosstalk_theorem(n_subjects, n_relations, family):  # y = u_t, coherent
            return Guarantee(
                "every_draw", None, "every fact, for every draw (proofs/superposed_recall.md)"
            )
        law = family.inner_product_law
        assert law is not None  # _without_crosstalk_theorem covers the families without one
        delta = theorem.SUPERPOSED_FAILURE_PROBABILITY
        # Theorem 1's bound falls with k; below its length, Theorem 2 is evaluated at this k
        if code_length < theorem.exponential_code_length(n_subjects, n_relations):
            bound = theorem.superposed_failure_bound(
                n_subjects, n_relations, code_length, inner_products=law
            )
            if bound > delta:
                return None
        exponent = round(math.log2(theorem.ROUNDING_MARGIN))
        return Guarantee(
            "with_probability",
            delta,
            f"every fact with probability >= {1 - delta:g} over the draw of the codes and the "
            "read maps, for facts drawn independently of them, with exact logit margins >= "
            f"2^{exponent}, so also by any pass whose logits are within 2^{exponent - 1} of "
            "exact (proofs/superposed_recall.md)",
        )

    def read_maps(self, n_keys: int, codebook: Codebook, rng: Rng) -> FloatArray:
        if codebook.trace_code is not None:
            signs = codebook.trace_code.relation_signs(n_keys, codebook.code_length)
            return np.stack([np.diag(relation_signs) for relation_signs in signs])
        return np.stack([_haar_orthogonal(codebook.code_length, rng) for _ in range(n_keys)])

    def read_map_bytes(self, n_relations: int, code_length: int, family: CodebookFamily) -> int:
        if family.sign_read_maps:  # stacked from a list of sign diagonals
            return FLOAT64 * n_relations * code_length**2
        return FLOAT64 * 3 * code_length**2  # one Haar map's Gaussian draw and QR

    def selected_bound(self, codebook: Codebook, n_relations: int) -> float:
        return n_relations * codebook.norm_bound  # ‖e_s‖ <= R·max‖u‖

    def output_norm(self, codebook: Codebook, n_relations: int) -> float:
        return n_relations * codebook.norm_bound

    def uncertifiable(self, family: CodebookFamily, n_relations: int) -> str | None:
        if n_relations >= 2 and not family.sign_read_maps:
            return (
                "random superposed codes: the other relations' crosstalk has no bound the "
                "certificate uses"
            )
        return None

    def sign_read_maps(self, codebook: Codebook) -> bool:
        return codebook.trace_code is not None


RELATIONS: dict[str, Relations] = {"shared": Shared(), "per_relation": Slots()}


def _without_crosstalk_theorem(n_subjects: int, n_relations: int, family: CodebookFamily) -> bool:
    """Superposed codes that need no crosstalk theorem: one relation or one subject (``y = u_t``),
    or a family with no inner-product law to average over (which :meth:`Shared.check_codebook`
    refuses for the superposed layout); the codebook's coherent length is then the proof's."""
    return n_relations == 1 or n_subjects == 1 or family.inner_product_law is None


def block_read_maps(n_keys: int, code_length: int) -> FloatArray:
    """``n_keys`` k-slots: ``B_c`` is the identity on rows ``c·k … (c+1)·k``, [n_keys, n_keys·k, k].

    Parameters
    ----------
    n_keys : int
        How many k-slots (relations, or chain keys).

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
