"""Disjoint attribute sets per relation (the paper's appendix F): recall with no selector at all.

When every relation has its own N attributes, an answer token already says which relation it
belongs to, so the unembedding can do the selector's work. The residual stream holds R slots of
k coordinates and R relation coordinates, ``d = R·(k + 1)``:

    e_s   = Σ_r slot_r(u_{π_r(s)})               subject s: relation r's code in slot r
    e_rel = one-hot r in the relation subspace    relation token r
    attention copies the subject slots to the last position (uniform over [s, r])
    the MLP is zero (d_mlp = 1)
    W_U[slot r, (r, a)] = u_a,  W_U[relation r, (r, a)] = C,  b_U[(r, a)] = the decoding bias

At the last position of ``[s, r]`` the residual is ``e_s + e_rel``, so attribute ``(r', a)`` scores
``⟨u_a, u_{π_{r'}(s)}⟩ + b_a + C·[r' = r]``: each relation's own decoding of its slot, plus the
bonus ``C = ⌈B⌉ + 1`` (B the family's bound on ``‖u‖²``) for the prompted relation. Decoding
picks ``π_{r'}(s)`` within every relation, and the bonus lifts relation r above the others
(``proofs/disjoint_attributes.md``). What replaces the selector is this bonus: the relation token
reaches the logits directly, not through an MLP.

The vocabulary has ``N·R`` attributes: ``(r, a)`` is token ``N + R + r·N + a``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
)
from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.layouts import block_read_maps
from geoconstruct.constructions.memory import FLOAT64, MemoryPlan, weight_bytes
from geoconstruct.constructions.pipeline import Recipe, Sizes, build, sizes
from geoconstruct.constructions.queries import SingleHopQueries
from geoconstruct.facts import Facts, SeedStreams
from geoconstruct.model.assembly import (
    ResidualMap,
    freeze,
    write_copy_head,
    write_embedding,
    write_one_hot_embedding,
)
from geoconstruct.model.transformer import TransformerConfig, zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "DisjointMetadata",
    "DisjointQueries",
    "assemble",
    "construct_disjoint",
    "disjoint_dimension",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DisjointQueries(SingleHopQueries):
    """Prompts ``[s, N + r]``, answered by relation r's own attribute, ``N + R + r·N + π_r(s)``."""

    def answers(
        self, construction: Construction, subjects: npt.ArrayLike, relations: npt.ArrayLike
    ) -> IntArray:
        """The answer token of each (subject, relation) pair (no model involved)."""
        n_subjects = construction.facts.n_subjects
        attributes = construction.facts.answer(subjects, relations)
        tokens = attributes + np.asarray(relations) * n_subjects
        return np.asarray(tokens + construction.vocabulary.attribute_offset, dtype=np.int64)

    uncertifiable: str | None = "disjoint attributes have no certificate"

    def certify(self, construction: Construction, memory_budget: int) -> Any:
        """Refused: disjoint attributes have no certificate."""
        raise ValueError("disjoint attributes have no certificate: use method='exact'")


@dataclass(frozen=True, eq=False)
class DisjointMetadata:
    """The slot maps ``B_r`` [R, R·k, k] (read-only) and the relation bonus C."""

    read_maps: FloatArray
    relation_bonus: float

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return {"relation_bonus": self.relation_bonus}, {"read_maps": self.read_maps}

    @classmethod
    def from_manifest(
        cls, fields: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> DisjointMetadata:
        return cls(arrays["read_maps"], fields["relation_bonus"])


def disjoint_dimension(
    n_subjects: int, n_relations: int, *, codebook: str | CodebookFamily = "grid"
) -> int:
    """The smallest d :func:`construct_disjoint` accepts: ``R·(k + 1)``, k the shortest code.

    The codebook defaults to ``"grid"``, unlike :func:`construct_single_hop`, whose default is
    the paper's superposed gaussian codes.

    Parameters
    ----------
    codebook : str or CodebookFamily
        Default ``"grid"``, the exact regime, unlike :func:`construct_single_hop`, whose default
        is the paper's superposed gaussian codes.

    Examples
    --------
    >>> disjoint_dimension(10_000, 8), disjoint_dimension(1000, 4, codebook="gaussian")
    (24, 472)
    """
    return DisjointRecipe().minimum_dimension(sizes(n_subjects, n_relations, codebook, "float64"))


def construct_disjoint(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    codebook: str | CodebookFamily = "grid",
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[DisjointMetadata]:
    """Build the disjoint-attribute construction: R bijections, each onto its own N attributes.

    Parameters
    ----------
    codebook : {"grid", "gaussian", "rademacher", "bch"} or a codebook family
        Random codes are drawn until their coherence meets the family's bound. Default ``"grid"``,
        the exact regime, unlike :func:`construct_single_hop`, whose default is the paper's
        superposed gaussian codes.

    Raises
    ------
    ValueError
        If d is below :func:`disjoint_dimension` (``requires d >= X``), or on a bad argument.
    MemoryBudgetError
        Before allocating, when the weights would exceed ``memory_budget``.

    Examples
    --------
    >>> c = construct_disjoint(1000, 4, disjoint_dimension(1000, 4), seed=0)
    >>> c.config.d_model, c.config.d_mlp, c.vocabulary.n_attributes, c.recall().accuracy
    (12, 1, 4000, 1.0)
    """
    request = sizes(n_subjects, n_relations, codebook, dtype)
    return build(DisjointRecipe(), request, d, seed=seed, facts=facts, memory_budget=memory_budget)


@dataclass(frozen=True)
class DisjointRecipe(Recipe):
    """Disjoint attributes' answers to the build pipeline: R slots of k, ``d = R·(k + 1)``."""

    def check(self, request: Sizes) -> None:
        pass  # every family builds: each relation reads its own slot

    def describe(self, request: Sizes) -> str:
        return (
            f"disjoint attributes for N={request.n_subjects}, R={request.n_relations} with "
            f"{request.family.name} codes"
        )

    def minimum_dimension(self, request: Sizes) -> int:
        return request.n_relations * (request.family.min_code_length(request.n_subjects) + 1)

    def default_dimension(self, request: Sizes) -> int:
        return self.minimum_dimension(request)

    def code_length_at(self, request: Sizes, d: int) -> int:
        return d // request.n_relations - 1

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        n, r = request.n_subjects_relations
        return memory_plan(request.family, n, r, d, request.dtype)

    def draw(
        self, request: Sizes, code_length: int, streams: SeedStreams
    ) -> tuple[Codebook, DisjointMetadata]:
        family = request.family
        codes = family.build(request.n_subjects, code_length, streams.codes, coherent=family.random)
        read_maps = block_read_maps(request.n_relations, code_length)
        read_maps.flags.writeable = False
        bonus = float(math.ceil(codes.norm_bound**2)) + 1.0
        return codes, DisjointMetadata(read_maps, bonus)

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[DisjointMetadata]:
        return assemble(facts, codes, metadata, d, dtype, seed)


def assemble(
    facts: Facts, codebook: Codebook, metadata: DisjointMetadata, d: int, dtype: str, seed: int
) -> Construction[DisjointMetadata]:
    """Write every weight from the facts, the codes and the metadata.

    Parameters
    ----------
    codebook : Codebook
        The attribute codes, drawn.
    metadata : DisjointMetadata
        The construction's metadata (its codes, read maps and layout).
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    k = codebook.code_length

    # Lay out the residual stream: R slots of k, then R relation coordinates.
    residual = ResidualMap.stack([("subject", n_relations * k), ("relation", n_relations)], d)
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects * n_relations)
    config = _model_config(vocab, n_relations, k, d, dtype)
    W = zero_weights(config)
    subject, relation = residual["subject"], residual["relation"]

    # Embedding: e_s = Σ_r B_r u_{π_r(s)} (slot r holds relation r's code); relation r one-hot.
    embeddings = np.zeros((n_subjects, n_relations * k))
    for r, permutation in enumerate(facts.permutations):
        embeddings += codebook.codes[permutation] @ metadata.read_maps[r].T
    write_embedding(W, np.arange(n_subjects), subject, embeddings)
    write_one_hot_embedding(W, vocab.relation_offset + np.arange(n_relations), relation)

    # Attention: uniform over [s, r], copying the subject slots to the last position.
    write_copy_head(W, 0, subject, n_positions=2)

    # Unembedding: attribute (r, a) decodes slot r and reads the relation bonus C on coordinate r;
    # every other token sits below every attribute.
    bias = codebook.unembedding_bias()
    for r in range(n_relations):
        tokens = vocab.attribute_offset + r * n_subjects + np.arange(n_subjects)
        slot = slice(subject.start + r * k, subject.start + (r + 1) * k)
        W["unembed.W_U"][slot, tokens] = codebook.codes.T
        W["unembed.W_U"][relation.start + r, tokens] = metadata.relation_bonus
    lowest = -(codebook.norm_bound**2) + float(bias.min())  # ⟨u_a, u_b⟩ >= −max‖u‖²
    W["unembed.b_U"][:] = float(math.floor(lowest - 1.0))
    W["unembed.b_U"][vocab.attribute_offset :] = np.tile(bias, n_relations)

    return Construction(
        kind="disjoint",
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=DisjointQueries(subject),
        metadata=metadata,
        seed=seed,
    )


def _model_config(
    vocab: Vocabulary, n_relations: int, code_length: int, d: int, dtype: str
) -> TransformerConfig:
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=1,
        d_head=n_relations * code_length,
        d_mlp=1,  # no selector: the MLP stays zero
        d_vocab=vocab.d_vocab,
        n_ctx=2,
        dtype=dtype,
    )


def memory_plan(
    family: CodebookFamily, n_subjects: int, n_relations: int, d: int, dtype: str
) -> MemoryPlan:
    """The peak bytes of :func:`construct_disjoint`, by part (:mod:`.memory`): the draw (random
    codes checked coherent: the margin needs μ); the facts, codes and block read maps kept; the
    weights; and the embeddings with one relation's gathered codes and product."""
    code_length = d // n_relations - 1
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects * n_relations)
    config = _model_config(vocab, n_relations, code_length, d, dtype)
    facts = FLOAT64 * n_relations * n_subjects
    slots = n_relations * code_length
    return MemoryPlan(
        draw=facts + family.draw_bytes(n_subjects, code_length, coherence_checked=family.random),
        kept=facts + FLOAT64 * (n_subjects * code_length + n_relations * slots * code_length),
        weights=weight_bytes(config),
        work=FLOAT64 * n_subjects * (2 * slots + code_length),
    )
