"""The sizes of the single-hop construction: its minimum, proved and configured dimensions, code
length, model config and memory plan, computed without building anything.

:class:`SingleHopSizes` gives the build pipeline these answers for the recipe
(:mod:`~geoconstruct.constructions.single_hop`, which re-exports the functions below); the
functions ask it too, so a size is computed at one site.
"""

from __future__ import annotations

from dataclasses import dataclass

from geoconstruct._validation import require_int
from geoconstruct.codes.protocol import CodebookFamily
from geoconstruct.constructions.layouts import (
    LAYOUTS,
    SUPERPOSED_FAILURE_PROBABILITY,
    Layout,
    resolve_layout,
)
from geoconstruct.constructions.memory import MemoryPlan, single_hop_plan
from geoconstruct.constructions.pipeline import Sizes, sizes
from geoconstruct.constructions.queries import RECALL_METHODS
from geoconstruct.model.transformer import TransformerConfig
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "DEFAULT_CODEBOOK",
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "RECALL_METHODS",
    "SUBJECT_CHUNK",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "code_length_for",
    "memory_plan",
    "model_config",
    "proven_dimension",
    "required_dimension",
    "single_hop_config",
]

DEFAULT_LAYOUT = "superposed"
"""The paper's construction: every relation superposed in one k-dimensional subspace."""
DEFAULT_CODEBOOK = "gaussian"
"""The paper's codes: independent Gaussian directions, normalised."""

SUBJECT_CHUNK = 65_536
"""Subjects whose embeddings are computed at once (a [chunk, d_s] float64 temporary)."""


@dataclass(frozen=True)
class SingleHopSizes:
    """The single-hop recipe's sizes, for one layout: what the build pipeline asks first (the
    methods of :class:`~geoconstruct.constructions.pipeline.Recipe`)."""

    layout: Layout

    def check(self, request: Sizes) -> None:
        self.layout.relations.check_codebook(request.family, request.n_relations)

    def describe(self, request: Sizes) -> str:
        return (
            f"the {self.layout.name} layout with {request.family.name} codes for "
            f"N={request.n_subjects}, R={request.n_relations}"
        )

    def minimum_dimension(self, request: Sizes) -> int:  # assembled; nothing proved below
        k = self.layout.relations.shortest_code_length(
            *request.n_subjects_relations, request.family
        )
        return self.layout.dimension(request.n_relations, k)

    def default_dimension(self, request: Sizes) -> int:  # the smallest with a proof
        k = self.layout.relations.min_code_length(*request.n_subjects_relations, request.family)
        return self.layout.dimension(request.n_relations, k)

    def code_length_at(self, request: Sizes, d: int) -> int:
        return self.layout.code_length_at(request.n_relations, d)

    def model_config(self, request: Sizes, d: int, code_length: int) -> TransformerConfig:
        """The config built at ``d`` and ``code_length`` (see :func:`model_config`)."""
        n, r = request.n_subjects_relations
        vocab = Vocabulary(n, r, n_attributes=n)
        subject_dim = self.layout.relations.subject_dim(r, code_length)
        return model_config(vocab, d, subject_dim, code_length, request.dtype)

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        config = self.model_config(request, d, code_length)
        (n, r), family, layout = request.n_subjects_relations, request.family, self.layout
        return single_hop_plan(
            family,
            config,
            n,
            code_length,
            coherence_checked=layout.checks_coherence(n, r, family, code_length),
            read_map_work=layout.relations.read_map_bytes(r, code_length, family),
            in_place=layout.readout.in_place,
            chunk=min(n, SUBJECT_CHUNK),
        )


def model_config(
    vocab: Vocabulary, d: int, subject_dim: int, code_length: int, dtype: str
) -> TransformerConfig:
    """One layer, one head copying the subject subspace, a ``2·R·k``-unit selector, 2 positions.

    Parameters
    ----------
    vocab : Vocabulary
        Token ids of subjects, relations and attributes.
    subject_dim : int
        ``d_s``, the head's ``d_head``.
    """
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=1,
        d_head=subject_dim,
        d_mlp=2 * vocab.n_relations * code_length,
        d_vocab=vocab.d_vocab,
        n_ctx=2,
        dtype=dtype,
    )


def _recipe(
    n_subjects: int,
    n_relations: int,
    layout: str | Layout,
    codebook: str | CodebookFamily,
    dtype: str = "float64",
) -> tuple[SingleHopSizes, Sizes]:
    """The sizes and the validated request, as ``construct_single_hop`` makes them."""
    request = sizes(n_subjects, n_relations, codebook, dtype)
    recipe = SingleHopSizes(resolve_layout(layout))
    recipe.check(request)
    return recipe, request


def memory_plan(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    dtype: str = "float64",
) -> MemoryPlan:
    """The peak bytes ``construct_single_hop`` allocates, by part
    (:func:`~geoconstruct.constructions.memory.single_hop_plan`).

    Examples
    --------
    >>> memory_plan(10_000, 8, 24, layout="block", codebook="grid").total < 50 * 2**20
    True
    """
    recipe, request = _recipe(n_subjects, n_relations, layout, codebook, dtype)
    d = require_int("d", d, minimum=1)
    code_length = max(1, recipe.code_length_at(request, d))
    return recipe.memory_plan(request, d, code_length)


def code_length_for(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest code length k with a proof, for N subjects and R relations.

    Block: the codebook's minimum for N codes. Superposed with random codes and ``R >= 2``: the
    smallest k at which the exact-tail union bound is at most δ
    (:func:`~geoconstruct.constructions.superposed_bound.superposed_code_length`).

    Examples
    --------
    >>> code_length_for(10_000, 8, layout="block", codebook="grid"), code_length_for(10_000, 8)
    (2, 634)
    """
    recipe, request = _recipe(n_subjects, n_relations, layout, codebook)
    return recipe.layout.relations.min_code_length(n_subjects, n_relations, request.family)


def required_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest ``d`` (``d_model``) at which ``construct_single_hop`` can be assembled.

    Grid and dual-BCH codes have a structural minimum (distinct codes must fit; a trace code is
    built whole), equal to :func:`proven_dimension`. Random unit codes can be drawn at any length,
    so their construction can be assembled at code length 1; below :func:`proven_dimension`
    nothing is proved and recall is measured (``construction.guarantee`` says so).

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, an unknown layout or codebook, or grid codes
        with the superposed layout.

    Examples
    --------
    >>> required_dimension(10_000, 8, layout="block", codebook="grid")   # 8-bit digits: k = 2
    24
    >>> required_dimension(1000, 4)   # gaussian codes, superposed: k = 1
    5
    """
    recipe, request = _recipe(n_subjects, n_relations, layout, codebook)
    return recipe.minimum_dimension(request)


def proven_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
) -> int:
    """The smallest ``d`` at which recall is proved (``construction.guarantee.proved``).

    ``k + R`` for the superposed layout and ``R(k + 1)`` for the block one (``2k + R`` and
    ``(R+1)·k + R`` with a separate output subspace), with k from :func:`code_length_for`.

    Examples
    --------
    >>> proven_dimension(10_000, 8, layout="block", codebook="grid")
    24
    >>> proven_dimension(1000, 4), proven_dimension(1000, 4, layout="superposed_separate")
    (215, 426)
    """
    recipe, request = _recipe(n_subjects, n_relations, layout, codebook)
    return recipe.default_dimension(request)


def single_hop_config(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    dtype: str = "float64",
) -> TransformerConfig:
    """The config ``construct_single_hop`` builds at ``d`` (nothing is built).

    Examples
    --------
    >>> single_hop_config(10_000, 8, 24, layout="block", codebook="grid").d_mlp   # 2·R·k, k = 2
    32
    """
    recipe, request = _recipe(n_subjects, n_relations, layout, codebook, dtype)
    return recipe.model_config(request, d, max(1, recipe.code_length_at(request, d)))
