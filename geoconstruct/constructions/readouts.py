"""Where the read-out lands, the second of a layout's two choices: in place, over the subject
subspace's first k coordinates (:class:`InPlace`), or in a separate output subspace
(:class:`Separate`). Each answers the output's width in ``d``, where it sits, and what the
selector reads so that the output holds ``y = B_rᵀ e_s`` (``proofs/in_place_readout.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geoconstruct.model.assembly import ResidualMap

__all__ = ["READOUTS", "InPlace", "Readout", "Separate"]

FloatArray = npt.NDArray[np.float64]


class Readout:
    """Where the selector's read-out lands: in place (the subject subspace's first k
    coordinates) or in a separate k-dimensional output subspace. Subclasses answer."""

    name: str
    in_place: bool
    copies: float  # read-outs the selector writes the difference of (the gate scale's factor)

    def output_dim(self, code_length: int) -> int:
        """The output subspace's own width in ``d``: 0 in place, k separate."""
        raise NotImplementedError

    def residual_map(self, subject: int, n_relations: int, code_length: int, d: int) -> ResidualMap:
        """``| subject | relation | output | unused |``, output overlapping subject in place.

        Parameters
        ----------
        subject : int
            ``d_s``.
        """
        raise NotImplementedError

    def selector_reads(self, residual: ResidualMap, read_maps: FloatArray) -> FloatArray:
        """What selector key c reads from the residual stream, [n_keys, d_model, k].

        Parameters
        ----------
        residual : ResidualMap
            The residual stream's named subspaces.
        read_maps : ndarray, shape [n_keys, subject_dim, k]
            B_c in the subject subspace.
        """
        return residual.lift("subject", read_maps)  # B_c, lifted: the MLP writes B_cᵀ e_s


@dataclass(frozen=True)
class Separate(Readout):
    """A separate k-dimensional output subspace."""

    name, in_place, copies = "separate", False, 1.0

    def output_dim(self, code_length: int) -> int:
        return code_length

    def residual_map(self, subject: int, n_relations: int, code_length: int, d: int) -> ResidualMap:
        return ResidualMap.stack(
            [("subject", subject), ("relation", n_relations), ("output", code_length)], d_model=d
        )


@dataclass(frozen=True)
class InPlace(Readout):
    """The read-out written over the subject subspace's first k coordinates: the selector reads
    ``B_c − P``, the read-out minus what those coordinates hold, so that they hold ``B_cᵀ e_s``
    after the MLP, a difference of two read-outs (``proofs/in_place_readout.md``)."""

    name, in_place, copies = "in_place", True, 2.0

    def output_dim(self, code_length: int) -> int:
        return 0

    def residual_map(self, subject: int, n_relations: int, code_length: int, d: int) -> ResidualMap:
        if subject + n_relations > d:
            raise ValueError(f"the subspaces need {subject + n_relations} dimensions, d is {d}")
        spans = (
            ("subject", slice(0, subject)),
            ("relation", slice(subject, subject + n_relations)),
            ("output", slice(0, code_length)),
        )
        return ResidualMap(spans, d)

    def selector_reads(self, residual: ResidualMap, read_maps: FloatArray) -> FloatArray:
        held = residual.basis("output").T  # [d_model, k]
        return super().selector_reads(residual, read_maps) - held[None, :, :]


READOUTS: dict[str, Readout] = {"in_place": InPlace(), "separate": Separate()}
