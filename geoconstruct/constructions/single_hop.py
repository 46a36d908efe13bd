"""The paper's construction, ``construct_single_hop``, read top to bottom.

A prompt is ``[s, r]``; the answer is the attribute token ``π_r(s)``. The residual stream is a
direct sum of named subspaces, laid out by the :class:`~geoconstruct.constructions.layouts.Layout`
(the paper's, ``superposed``: ``| subject = output (k) | relation (R) |``, ``d = k + R``):

* **Embedding**: ``e_s = Σ_r B_r u_{π_r(s)}``, the superposition of the subject's attribute
  codes through random orthogonal read maps ``B_r``; relation ``r`` embeds one-hot.
* **Attention** (one head, ``W_Q = W_K = 0``): the last position holds ``e_s + x_rel`` exactly.
* **Selector MLP** (:mod:`~geoconstruct.model.selector`): ``2·R·k`` hidden units write
  ``y = B_rᵀ e_s`` into the output subspace for the prompted relation only.
* **Unembedding**: ``W_U[:, a] = u_a`` on the output subspace; other tokens sit below.

The build pipeline (:mod:`~geoconstruct.constructions.pipeline`) asks :class:`GeometricRecipe`
for its sizes (:mod:`~geoconstruct.constructions.single_hop_sizes`), draw and assembly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET
from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction, Guarantee
from geoconstruct.constructions.layouts import Layout, resolve_layout
from geoconstruct.constructions.pipeline import Recipe, Sizes, build, sizes
from geoconstruct.constructions.queries import SingleHopQueries
from geoconstruct.constructions.single_hop_sizes import (
    DEFAULT_CODEBOOK,
    DEFAULT_LAYOUT,
    SUBJECT_CHUNK,
    SingleHopSizes,
    model_config,
)
from geoconstruct.facts import Facts, SeedStreams
from geoconstruct.model.assembly import (
    freeze,
    write_codebook_unembedding,
    write_copy_head,
    write_embedding,
    write_one_hot_embedding,
    write_selector,
)
from geoconstruct.model.transformer import zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = ["GeometricRecipe", "SingleHopMetadata", "assemble", "construct_single_hop", "superpose"]

FloatArray = npt.NDArray[np.float64]


def construct_single_hop(
    n_subjects: int,
    n_relations: int,
    d: int | None = None,
    *,
    layout: str | Layout = DEFAULT_LAYOUT,
    codebook: str | CodebookFamily = DEFAULT_CODEBOOK,
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[SingleHopMetadata]:
    """Build, in closed form, a one-layer transformer that recalls R bijections over N subjects.

    Returns
    -------
    Construction
        ``kind="single_hop"``, with :class:`SingleHopMetadata`.

    Raises
    ------
    TypeError, ValueError, MemoryBudgetError
        A bad argument; ``d`` below the minimum (``requires d >= <minimum>``); over budget.

    Examples
    --------
    >>> c = construct_single_hop(1000, 4, seed=0)  # at the proved d
    >>> c.config.d_model, c.config.d_mlp, c.guarantee.scope, c.recall().accuracy
    (215, 1688, 'with_probability', 1.0)
    >>> construct_single_hop(1000, 4, d=11, layout="block", codebook="grid")
    Traceback (most recent call last):
    ...
    ValueError: the block layout with grid codes for N=1000, R=4 requires d >= 12, got d=11
    """
    request = sizes(n_subjects, n_relations, codebook, dtype)
    recipe = GeometricRecipe(resolve_layout(layout))
    return build(recipe, request, d, seed=seed, facts=facts, memory_budget=memory_budget)


@dataclass(frozen=True)
class GeometricRecipe(SingleHopSizes, Recipe):
    """The recipe's draw and assembly; its sizes are :class:`SingleHopSizes`'."""

    def draw(
        self, request: Sizes, code_length: int, streams: SeedStreams
    ) -> tuple[Codebook, SingleHopMetadata]:
        n, r, family, layout = request.n_subjects, request.n_relations, request.family, self.layout
        codes = layout.build_codebook(family, n, code_length, r, streams.codes)  # u_a: [N, k]
        read_maps = layout.relations.read_maps(r, codes, streams.read_maps)  # B_r: [R, d_s, k]
        read_maps.flags.writeable = False
        guarantee = layout.guarantee(n, r, family, code_length)
        return codes, SingleHopMetadata(layout, read_maps, layout.gate_scale(codes, r), guarantee)

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[SingleHopMetadata]:
        return assemble(facts, codes, metadata, d, dtype, seed)


def assemble(
    facts: Facts, codebook: Codebook, metadata: SingleHopMetadata, d: int, dtype: str, seed: int
) -> Construction[SingleHopMetadata]:
    """Write every weight from the parts (float64 values, rounded once to ``dtype``).

    Parameters
    ----------
    codebook : Codebook
        The attribute codes drawn.
    metadata : SingleHopMetadata
        The layout, read maps, gate scale and guarantee.
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    layout, read_maps = metadata.layout, metadata.read_maps
    code_length = codebook.code_length
    residual = layout.residual_map(n_relations, code_length, d)
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = model_config(vocab, d, residual.size("subject"), code_length, dtype)
    W = zero_weights(config)
    subject_tokens = np.arange(n_subjects)
    relation_tokens = vocab.relation_offset + np.arange(n_relations)
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)

    # Embedding: e_s = Σ_r B_r u_{π_r(s)}, SUBJECT_CHUNK subjects at a time; relation r is one-hot.
    for start in range(0, n_subjects, SUBJECT_CHUNK):
        rows = slice(start, start + SUBJECT_CHUNK)
        embeddings = superpose(facts, codebook.codes, read_maps, rows)  # [chunk, d_s]
        write_embedding(W, subject_tokens[rows], residual["subject"], embeddings)
        del embeddings  # freed before the next chunk, and before the selector
    write_one_hot_embedding(W, relation_tokens, residual["relation"])

    # Attention: uniform over [s, r], copying the subject subspace to the last position.
    write_copy_head(W, 0, residual["subject"], n_positions=2)

    # Selector MLP: y = B_rᵀ e_s for the prompted relation r, into the output subspace.
    write_selector(
        W,
        layout.readout.selector_reads(residual, read_maps),  # [R, d_model, k]
        residual.basis("relation"),  # key r opens on relation r: [R, d_model]
        residual.basis("output"),  # [k, d_model]
        gate_threshold=1.0,  # one condition: the prompt's relation
        gate_scale=metadata.gate_scale,  # λ, doubled in place (layouts.py)
    )

    # Unembedding: decode the output subspace; every other token sits below all attributes.
    output_norm = layout.relations.output_norm(codebook, n_relations)
    write_codebook_unembedding(
        W, residual["output"], attribute_tokens, codebook, output_norm=output_norm
    )

    family = resolve_codebook(codebook.family)
    return Construction(
        kind="single_hop",
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=SingleHopQueries(
            residual["output"],
            layout.relations.sign_read_maps(codebook),
            layout.relations.uncertifiable(family, n_relations),
        ),
        metadata=metadata,
        seed=seed,
    )


def superpose(
    facts: Facts, codes: npt.ArrayLike, read_maps: npt.ArrayLike, subjects: slice = slice(None)
) -> FloatArray:
    """Subject embeddings ``e_s = Σ_r B_r u_{π_r(s)}``: [N, d_s], or the ``subjects`` rows.

    Parameters
    ----------
    codes, read_maps : array_like
        ``u_a`` [M, k] and ``B_r`` [R, d_s, k].
    subjects : slice
        Which subjects' rows.

    Examples
    --------
    >>> slots = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])  # block layout, k = 1
    >>> superpose(Facts([[1, 0], [0, 1]]), [[10.0], [20.0]], slots).tolist()
    [[20.0, 10.0], [10.0, 20.0]]
    """
    code_table = np.asarray(codes, dtype=np.float64)
    maps = np.asarray(read_maps, dtype=np.float64)
    permutations = facts.permutations[:, subjects]  # [R, n_rows]
    embeddings = np.zeros((permutations.shape[1], maps.shape[1]))
    for relation, permutation in enumerate(permutations):
        embeddings += code_table[permutation] @ maps[relation].T
    return embeddings


@dataclass(frozen=True, eq=False)
class SingleHopMetadata:
    """How a single-hop construction stores its facts: its ``layout``, the read maps ``B_r``
    (``read_maps`` [R, d_s, k], float64, read-only), the selector's ``gate_scale`` λ (valid for
    every set of facts) and the ``guarantee`` proved at this code length."""

    layout: Layout
    read_maps: FloatArray
    gate_scale: float
    guarantee: Guarantee

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        guarantee = dataclasses.asdict(self.guarantee)
        fields = {"layout": self.layout.name, "gate_scale": self.gate_scale, "guarantee": guarantee}
        return fields, {"read_maps": self.read_maps}

    @classmethod
    def from_manifest(cls, fields: dict[str, Any], arrays: dict[str, Any]) -> SingleHopMetadata:
        layout, guarantee = resolve_layout(fields["layout"]), Guarantee(**fields["guarantee"])
        return cls(layout, arrays["read_maps"], fields["gate_scale"], guarantee)
