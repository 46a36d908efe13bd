"""Associative-memory baselines in the same transformer (``docs/design.md`` §5).

Both recall every fact of R bijections over N subjects through the same one-layer model, prompt
``[s, r]``, the same copy attention and the same codebook-decoding unembedding as the geometric
construction; what differs is where the facts live. In the geometric construction they live in
the subject embeddings and the MLP is a fact-free selector; here the embeddings are fact-free keys
and the facts live in the MLP, which grows with ``N·R`` and serves no new facts.

``"key_value"`` (an MLP key–value memory)
    Subject s embeds as its binary key ``κ_s ∈ {±1}^b``, ``b = ⌈log2 N⌉`` (the bits of s).
    One hidden unit per fact (s, r), ``h = relu(⟨κ_s, x_subject⟩ + x_relation[r] − b)``, writes
    ``u_{π_r(s)}``: on the prompt ``[s, r]`` it is exactly 1, on every other prompt exactly 0
    (``⟨κ_s, κ_t⟩ ≤ b − 2`` for ``t ≠ s``). ``d_mlp = N·R``, ``d = b + R + k``.
``"outer_product"`` (a linear outer-product memory)
    Subject s embeds as the one-hot key ``e_s ∈ R^N``; per relation the memory is the matrix
    ``M_r = Σ_s u_{π_r(s)} e_sᵀ`` read off the key, ``y = M_r e_s = u_{π_r(s)}``. The relation
    picks its matrix through one gated unit per key coordinate,
    ``h_{r,j} = relu(x_subject[j] + x_relation[r] − 1)``, whose output row is column j of
    ``M_r``. Orthonormal keys make the read-out exact; a linear memory with d-dimensional keys
    holds at most about d clean associations, so the keys need ``d_s = N``. ``d_mlp = N·R``,
    ``d = N + R + k``.

``proofs/baselines.md`` proves both exact and states their sizes. :func:`baseline_parameters`
gives the parameter counts without building anything (the outer-product memory at N = 2^16 has
more than 8·10^9 embedding parameters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    require_choice,
    require_int,
)
from geoconstruct.codes.protocol import Codebook, CodebookFamily
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.memory import FLOAT64, MemoryPlan, weight_bytes
from geoconstruct.constructions.pipeline import Recipe, Sizes, build, sizes
from geoconstruct.constructions.queries import SingleHopQueries
from geoconstruct.facts import Facts, SeedStreams
from geoconstruct.model.assembly import (
    ResidualMap,
    freeze,
    write_codebook_unembedding,
    write_copy_head,
    write_embedding,
    write_one_hot_embedding,
)
from geoconstruct.model.transformer import ParameterSplit, TransformerConfig, zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "BASELINE_KINDS",
    "BaselineMetadata",
    "assemble",
    "baseline_dimension",
    "baseline_parameters",
    "construct_baseline",
    "key_length",
    "subject_keys",
]

FloatArray = npt.NDArray[np.float64]

BASELINE_KINDS = ("key_value", "outer_product")


def key_length(n_subjects: int, kind: str) -> int:
    """``d_s``: ``⌈log2 N⌉`` binary key bits (at least 1) or ``N`` one-hot key coordinates.

    Parameters
    ----------
    kind : str
        The baseline: ``"key_value"`` (a key-value MLP) or ``"outer_product"`` (an outer-product
        memory).

    Examples
    --------
    >>> key_length(1000, "key_value"), key_length(1000, "outer_product")
    (10, 1000)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    kind = require_choice("kind", kind, BASELINE_KINDS)
    if kind == "outer_product":
        return n_subjects
    return max(1, math.ceil(math.log2(n_subjects) - 1e-12)) if n_subjects > 1 else 1


def baseline_dimension(
    n_subjects: int, n_relations: int, kind: str, *, codebook: str | CodebookFamily = "grid"
) -> int:
    """``d_model`` of a baseline: keys, relation one-hot, output code: ``d_s + R + k``.

    Parameters
    ----------
    kind : str
        The baseline: ``"key_value"`` (a key-value MLP) or ``"outer_product"`` (an outer-product
        memory).

    Examples
    --------
    >>> baseline_dimension(1000, 4, "key_value"), baseline_dimension(1000, 4, "outer_product")
    (16, 1006)
    """
    n_relations = require_int("n_relations", n_relations, minimum=1)
    family = resolve_codebook(codebook)
    return key_length(n_subjects, kind) + n_relations + family.min_code_length(n_subjects)


def baseline_parameters(
    n_subjects: int, n_relations: int, kind: str, *, codebook: str | CodebookFamily = "grid"
) -> ParameterSplit:
    """Parameter counts of :func:`construct_baseline`'s model, without building it.

    Parameters
    ----------
    kind : str
        The baseline: ``"key_value"`` (a key-value MLP) or ``"outer_product"`` (an outer-product
        memory).

    Examples
    --------
    >>> counts = baseline_parameters(1000, 4, "key_value")
    >>> counts.mlp   # 4000 units, each d_model + 1 + d_model wide, and b_out
    132016
    """
    family = resolve_codebook(codebook)
    config = _model_config(n_subjects, n_relations, kind, family.min_code_length(n_subjects))
    return ParameterSplit.of(config)


@dataclass(frozen=True, eq=False)
class BaselineMetadata:
    """What a baseline stores besides its facts: the fact-independent subject keys [N, d_s]."""

    subject_keys: FloatArray

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return {}, {"subject_keys": self.subject_keys}

    @classmethod
    def from_manifest(
        cls, fields: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> BaselineMetadata:
        return cls(arrays["subject_keys"])


def construct_baseline(
    n_subjects: int,
    n_relations: int,
    kind: str,
    *,
    codebook: str | CodebookFamily = "grid",
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[BaselineMetadata]:
    """Build an associative-memory model that recalls R bijections over N subjects.

    Parameters
    ----------
    codebook : str or CodebookFamily
        Default ``"grid"``, the exact regime, unlike :func:`construct_single_hop`, whose default
        is the paper's superposed gaussian codes.
    kind : {"key_value", "outer_product"}
        See the module docstring.

    Raises
    ------
    TypeError, ValueError
        On bad sizes, kind, codebook, dtype or facts.
    MemoryBudgetError
        Before allocating, when the weights would exceed ``memory_budget``.

    Examples
    --------
    >>> memory = construct_baseline(1000, 4, "outer_product", seed=0)
    >>> memory.config.d_model, memory.config.d_mlp, memory.recall().accuracy
    (1006, 4000, 1.0)
    """
    kind = require_choice("kind", kind, BASELINE_KINDS)
    request = sizes(n_subjects, n_relations, codebook, dtype)
    recipe = BaselineRecipe(kind)
    return build(recipe, request, None, seed=seed, facts=facts, memory_budget=memory_budget)


@dataclass(frozen=True)
class BaselineRecipe(Recipe):
    """An associative memory's answers to the build pipeline: its shape follows from ``kind``,
    N, R and the codebook's shortest code."""

    kind: str

    def check(self, request: Sizes) -> None:
        pass  # every family builds: the memory writes codes, it does not superpose them

    def describe(self, request: Sizes) -> str:
        return f"the {self.kind} memory for N={request.n_subjects}, R={request.n_relations}"

    def minimum_dimension(self, request: Sizes) -> int:
        return self.default_dimension(request)

    def default_dimension(self, request: Sizes) -> int:
        n, r = request.n_subjects_relations
        k = self.code_length_at(request, 0)
        return _model_config(n, r, self.kind, k, request.dtype).d_model

    def code_length_at(self, request: Sizes, d: int) -> int:
        return request.family.min_code_length(request.n_subjects)

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        n, r = request.n_subjects_relations
        return memory_plan(request.family, n, r, self.kind, request.dtype)

    def draw(
        self, request: Sizes, code_length: int, streams: SeedStreams
    ) -> tuple[Codebook, BaselineMetadata]:
        codes = request.family.build(request.n_subjects, code_length, streams.codes)
        return codes, BaselineMetadata(subject_keys(request.n_subjects, self.kind))

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[BaselineMetadata]:
        return assemble(self.kind, facts, codes, metadata, d, dtype, seed)


def subject_keys(n_subjects: int, kind: str) -> FloatArray:
    """The keys subjects embed as: their bits as ±1 (key-value) or one-hot (outer product).

    Parameters
    ----------
    kind : str
        The baseline: ``"key_value"`` (a key-value MLP) or ``"outer_product"`` (an outer-product
        memory).
    """
    key_dim = key_length(n_subjects, kind)
    if kind == "key_value":
        bits = (np.arange(n_subjects)[:, None] >> np.arange(key_dim)[None, :]) & 1
        keys = (2.0 * bits - 1.0).astype(np.float64)  # ±1, distinct rows
    else:
        keys = np.eye(n_subjects)
    keys.flags.writeable = False
    return keys


def assemble(
    kind: str,
    facts: Facts,
    codebook: Codebook,
    metadata: BaselineMetadata,
    d: int,
    dtype: str,
    seed: int,
) -> Construction[BaselineMetadata]:
    """Write every weight of the baseline from its parts.

    Parameters
    ----------
    kind : str
        The baseline: ``"key_value"`` (a key-value MLP) or ``"outer_product"`` (an outer-product
        memory).
    codebook : Codebook
        The attribute codes, drawn.
    metadata : BaselineMetadata
        The construction's metadata (its codes, read maps and layout).
    """
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    keys, k = metadata.subject_keys, codebook.code_length
    key_dim = keys.shape[1]
    residual = ResidualMap.stack(
        [("subject", key_dim), ("relation", n_relations), ("output", k)], d_model=d
    )
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = _model_config(n_subjects, n_relations, kind, k, dtype)
    W = zero_weights(config)
    subjects, relations = np.arange(n_subjects), np.arange(n_relations)
    subject, relation = residual["subject"], residual["relation"]

    # Embedding: fact-free keys; relation r one-hot.
    write_embedding(W, subjects, subject, keys)
    write_one_hot_embedding(W, vocab.relation_offset + relations, relation)

    # Attention: uniform over [s, r], copying the subject subspace to the last position.
    write_copy_head(W, 0, subject, n_positions=2)

    # MLP: unit (r, j) with j a subject (key-value) or a key coordinate (outer product); both
    # number N per relation, in the order r·N + j, and write the code of π_r(j).
    unit_relations = np.repeat(relations, n_subjects)  # [R·N]
    unit_subjects = np.tile(subjects, n_relations)
    units = np.arange(n_relations * n_subjects)
    if kind == "key_value":
        W["blocks.0.mlp.W_in"][subject] = np.tile(keys.T, (1, n_relations))
        W["blocks.0.mlp.b_in"][:] = -float(key_dim)
    else:
        W["blocks.0.mlp.W_in"][unit_subjects, units] = 1.0
        W["blocks.0.mlp.b_in"][:] = -1.0
    W["blocks.0.mlp.W_in"][relation.start + unit_relations, units] = 1.0
    values = codebook.codes[facts.permutations[unit_relations, unit_subjects]]  # [R·N, k]
    W["blocks.0.mlp.W_out"][:, residual["output"]] = values

    # Unembedding: the codebook's decoding on the output subspace; other tokens below.
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)
    write_codebook_unembedding(
        W, residual["output"], attribute_tokens, codebook, output_norm=codebook.norm_bound
    )

    return Construction(
        kind=kind,
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=SingleHopQueries(
            residual["output"],
            uncertifiable=f"the {kind} memory is not a gated selector, which the certificate reads",
        ),
        metadata=metadata,
        seed=seed,
    )


def _model_config(
    n_subjects: int, n_relations: int, kind: str, code_length: int, dtype: str = "float64"
) -> TransformerConfig:
    key_dim = key_length(n_subjects, kind)
    return TransformerConfig(
        d_model=key_dim + n_relations + code_length,
        n_layers=1,
        n_heads=1,
        d_head=key_dim,
        d_mlp=n_subjects * n_relations,
        d_vocab=Vocabulary(n_subjects, n_relations, n_subjects).d_vocab,
        n_ctx=2,
        dtype=dtype,
    )


def memory_plan(
    family: CodebookFamily, n_subjects: int, n_relations: int, kind: str, dtype: str
) -> MemoryPlan:
    """The peak bytes of :func:`construct_baseline`, by part (:mod:`.memory`): the draw (at the
    family's coherent length, random codes are checked); the facts, codes and keys kept; the
    weights; and the R·N units' indices, gathered codes and tiled keys."""
    code_length = family.min_code_length(n_subjects)
    key_dim = key_length(n_subjects, kind)
    config = _model_config(n_subjects, n_relations, kind, code_length, dtype)
    facts = FLOAT64 * n_relations * n_subjects
    units = n_relations * n_subjects
    return MemoryPlan(
        draw=facts + family.draw_bytes(n_subjects, code_length, coherence_checked=family.random),
        kept=facts + FLOAT64 * n_subjects * (code_length + key_dim),
        weights=weight_bytes(config),
        work=FLOAT64 * units * (code_length + 5 + key_dim),
    )
