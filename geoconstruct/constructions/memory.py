"""How much memory a construction needs: one plan, assembled from shared parts.

Every recipe allocates in the same two phases. First the codes are drawn (and, where a proof
uses the bound, checked for coherence): :meth:`~geoconstruct.codes.protocol.CodebookFamily.
draw_bytes`. Then the weights are allocated and written, while the codes, the facts and the read
maps stay alive, and the selector MLP is formed in float64 before it is cast into the weights.
The peak is the larger of the two phases; :class:`MemoryPlan` holds the parts and
``tests/test_memory_plan.py`` checks, for every recipe, that the peak tracemalloc measures is at
most :attr:`MemoryPlan.total` and that the total is at most 1.5 times the peak plus 64 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.model.transformer import TransformerConfig

__all__ = [
    "FLOAT64",
    "HEADROOM",
    "SMALL_ARRAYS",
    "MemoryPlan",
    "selector_bytes",
    "single_hop_plan",
    "weight_bytes",
]

FLOAT64 = 8
"""Bytes of one float64 (or int64) work value."""

SMALL_ARRAYS = 2**20
"""Bytes for what no part names: token ids, biases, index vectors, Python objects."""

HEADROOM = 1.1
"""The plan's factor for temporaries of the libraries it calls (BLAS work, allocator rounding),
which no part names and which may change between numpy versions."""


@dataclass(frozen=True)
class MemoryPlan:
    """The peak bytes of one construction, by part.

    Attributes
    ----------
    draw : int
        The codes' draw at its peak, with the facts drawn before it.
    kept : int
        What lives through assembly: the facts, the codes and the read maps.
    weights : int
        Every weight array, in the construction's dtype.
    work : int
        Float64 temporaries while the weights are written (the selector, a chunk of rows).
    """

    draw: int
    kept: int
    weights: int
    work: int

    @property
    def total(self) -> int:
        """The larger of the two phases, drawing the codes and writing the weights, with
        :data:`HEADROOM`, and :data:`SMALL_ARRAYS`."""
        peak = max(self.draw, self.kept + self.weights + self.work)
        return int(HEADROOM * peak) + SMALL_ARRAYS


def weight_bytes(config: TransformerConfig) -> int:
    """Every weight array in the config's dtype (zero pages are counted though never touched)."""
    return int(config.n_params() * np.dtype(config.dtype).itemsize)


def selector_bytes(d_model: int, n_keys: int, code_length: int, *, in_place: bool) -> int:
    """The selector's float64 temporaries: its read maps lifted to the residual stream (twice
    when the read-out is in place: the lift and the difference), its gates and output map,
    ``W_in`` with the product it is formed from, and ``W_out`` (``d_mlp = 2·n_keys·k``).

    Parameters
    ----------
    d_model : int
        The residual width.
    n_keys : int
        The selector's keys (relations, or chain keys).
    in_place : bool
        Whether the selector reads out in the subject subspace (the read maps lifted twice).
    """
    d_mlp = 2 * n_keys * code_length
    lifted = (2 if in_place else 1) * n_keys * d_model * code_length
    maps = (n_keys + code_length) * d_model
    return FLOAT64 * (lifted + maps + 3 * d_model * d_mlp)


def single_hop_plan(
    family: CodebookFamily,
    config: TransformerConfig,
    n_subjects: int,
    code_length: int,
    *,
    coherence_checked: bool,
    read_map_work: int,
    in_place: bool,
    chunk: int,
) -> MemoryPlan:
    """The geometric recipe's plan: the draw (and its coherence check where the layout checks
    it); then the facts, codes and read maps (with the work of drawing them) kept while the
    weights are written with the selector's float64 temporaries or the embeddings of ``chunk``
    subjects at a time, whichever is larger.

    Parameters
    ----------
    family : CodebookFamily
        The codes' family.
    coherence_checked : bool
        Whether the codes are drawn until coherent.
    read_map_work : int
        Bytes of drawing the read maps beyond the maps.
    in_place : bool
        Whether the read-out is in place (the selector's reads lifted twice).
    chunk : int
        Subjects embedded at once.
    """
    n_relations = config.d_mlp // (2 * code_length)
    subject_dim = config.d_head
    facts = FLOAT64 * n_relations * n_subjects
    codes = FLOAT64 * n_subjects * code_length
    read_maps = FLOAT64 * n_relations * subject_dim * code_length
    d = config.d_model
    selector = selector_bytes(d, n_relations, code_length, in_place=in_place)
    embeddings = FLOAT64 * 3 * chunk * max(subject_dim, code_length)  # gathered, product, sum
    return MemoryPlan(
        draw=facts
        + max(
            family.draw_bytes(n_subjects, code_length, coherence_checked=coherence_checked),
            codes + read_maps + read_map_work,
        ),
        kept=facts + codes + read_maps,
        weights=weight_bytes(config),
        work=max(selector, embeddings),
    )
