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

**At any d, with random keys** (``construct_baseline(..., d=d)``, random unit codes: gaussian
by default, or rademacher) the same two memories take fact-free random keys ``x_s`` and nothing
is exact; recall is measured, and its transition predicted (``docs/design.md``, "The capacity
law of every memory"):

``"outer_product"`` at d
    The paper's layout, in place: keys and read-out share ``k = d − R`` coordinates. The memory
    is the selector MLP of the geometric construction with the facts moved from the embeddings
    into its read maps: ``B_r = M_rᵀ = Σ_s x_s u_{π_r(s)}ᵀ``, so ``y = M_r x_s = u_{π_r(s)} +
    Σ_{t≠s} ⟨x_t, x_s⟩ u_{π_r(t)}``. Fact-dependent: the ``2·R·k²`` read weights of ``W_in``.
``"key_value"`` at d
    Keys and codes of ``k = ⌊(d − R)/2⌋`` coordinates each (a separate read-out), one unit a fact:
    ``h_{t,r} = relu(⟨x_t, x⟩ + 2·(x_relation[r] − 1) − θ)`` writes ``u_{π_r(t)} / (1 − θ)``,
    θ = :data:`KEY_VALUE_THRESHOLD`: the unit of the prompt's subject writes its answer, a unit
    of another subject whose key is within ``cos θ`` adds noise. Fact-dependent: the ``N·R·k``
    rows of ``W_out``.

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
from geoconstruct.constructions.construction import EVERY_DRAW_EXACT, Construction, Guarantee
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.constructions.memory import FLOAT64, MemoryPlan, selector_bytes, weight_bytes
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
    write_selector,
)
from geoconstruct.model.transformer import ParameterSplit, TransformerConfig, zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "BASELINE_KINDS",
    "KEY_VALUE_THRESHOLD",
    "MEMORY_LAYOUTS",
    "BaselineMetadata",
    "MemoryAtDimension",
    "assemble",
    "baseline_dimension",
    "baseline_parameters",
    "construct_baseline",
    "key_length",
    "memory_code_lengths",
    "memory_min_dimension",
    "subject_keys",
]

FloatArray = npt.NDArray[np.float64]

BASELINE_KINDS = ("key_value", "outer_product")

KEY_VALUE_THRESHOLD = 0.5
"""θ, the firing threshold of the key-value memory at any d: a unit fires on a query whose key
is within ``cos θ`` of its own (random unit keys: rarely, for ``d_s`` of order log N)."""

MEMORY_LAYOUTS = {"outer_product": "superposed", "key_value": "superposed_separate"}
"""The layout a memory at any d takes, in the geometric construction's names: keys shared by
every relation, read out in place (outer product) or into a separate subspace (key-value)."""

DEFAULT_RANDOM_CODEBOOK = "gaussian"
"""The keys' and codes' family of a memory at any d when none is given."""


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
    """What a baseline stores besides its facts: the fact-independent subject keys [N, d_s], and
    whether they are the exact memory's (``keys="exact"``) or random, at a given d."""

    subject_keys: FloatArray
    keys: str = "exact"

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        return {"keys": self.keys}, {"subject_keys": self.subject_keys}

    @classmethod
    def from_manifest(
        cls, fields: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> BaselineMetadata:
        keys = require_choice("keys", fields.get("keys", "exact"), ("exact", "random"))
        return cls(arrays["subject_keys"], keys)

    @property
    def guarantee(self) -> Guarantee:
        """Every fact, for every draw (``proofs/baselines.md``) with the exact keys; nothing
        proved with random keys at a given d."""
        if self.keys == "exact":
            return EVERY_DRAW_EXACT
        return Guarantee(
            "none", None, "nothing proved: random keys at a given d; recall is measured"
        )


def construct_baseline(
    n_subjects: int,
    n_relations: int,
    kind: str,
    d: int | None = None,
    *,
    codebook: str | CodebookFamily | None = None,
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[BaselineMetadata]:
    """Build an associative-memory model that recalls R bijections over N subjects.

    Parameters
    ----------
    kind : {"key_value", "outer_product"}
        See the module docstring.
    d : int, optional
        None: the exact memory at its own shape (one-hot or binary keys). Given: the memory at
        this ``d`` with random keys (:class:`MemoryAtDimension`), its recall measured, not proved.
    codebook : str or CodebookFamily, optional
        Default ``"grid"`` (the exact regime) without ``d``, unlike :func:`construct_single_hop`,
        whose default is the paper's superposed gaussian codes; ``"gaussian"`` with ``d``, where
        the keys are drawn from the same random unit family.

    Raises
    ------
    TypeError, ValueError
        On bad sizes, kind, codebook, dtype or facts, or a ``d`` below the smallest.
    MemoryBudgetError
        Before allocating, when the weights would exceed ``memory_budget``.

    Examples
    --------
    >>> memory = construct_baseline(1000, 4, "outer_product", seed=0)
    >>> memory.config.d_model, memory.config.d_mlp, memory.recall().accuracy
    (1006, 4000, 1.0)
    >>> small = construct_baseline(1000, 4, "outer_product", d=404, seed=0)
    >>> small.config.d_model, small.config.d_mlp, small.parameter_count.fact_dependent
    (404, 3200, 1280000)
    """
    kind = require_choice("kind", kind, BASELINE_KINDS)
    if codebook is None:
        codebook = "grid" if d is None else DEFAULT_RANDOM_CODEBOOK
    request = sizes(n_subjects, n_relations, codebook, dtype)
    recipe = BaselineRecipe(kind) if d is None else MemoryAtDimension(kind)
    return build(recipe, request, d, seed=seed, facts=facts, memory_budget=memory_budget)


def memory_min_dimension(kind: str, n_relations: int) -> int:
    """The smallest ``d`` of a memory at any d: codes (and keys) of two coordinates.

    Parameters
    ----------
    kind : {"key_value", "outer_product"}
        The memory.

    Examples
    --------
    >>> memory_min_dimension("outer_product", 4), memory_min_dimension("key_value", 4)
    (6, 8)
    """
    return n_relations + (2 if kind == "outer_product" else 4)


def memory_code_lengths(kind: str, n_relations: int, d: int) -> tuple[int, int]:
    """``(d_s, k)``, the key and code lengths of a memory at ``d`` (module docstring).

    Parameters
    ----------
    kind : {"key_value", "outer_product"}
        The memory.

    Examples
    --------
    >>> memory_code_lengths("outer_product", 4, 104), memory_code_lengths("key_value", 4, 41)
    ((100, 100), (18, 18))
    """
    if kind == "outer_product":
        return d - n_relations, d - n_relations  # in place: keys and read-out share k
    return (d - n_relations) // 2, (d - n_relations) // 2  # keys, then a separate read-out


@dataclass(frozen=True)
class MemoryAtDimension(Recipe):
    """An associative memory at any ``d``, with random unit keys: its answers to the pipeline."""

    kind: str

    def check(self, request: Sizes) -> None:
        family = request.family
        if not (family.random and family.unit_norm):
            raise ValueError(
                f"a {self.kind} memory at a given d draws random unit keys and codes; codebook "
                f"{family.name!r} is not random (use 'gaussian' or 'rademacher')"
            )

    def describe(self, request: Sizes) -> str:
        return (
            f"the {self.kind} memory at any d for N={request.n_subjects}, R={request.n_relations}"
        )

    def minimum_dimension(self, request: Sizes) -> int:
        return memory_min_dimension(self.kind, request.n_relations)

    def default_dimension(self, request: Sizes) -> int:
        return self.minimum_dimension(request)  # construct_baseline asks for a d

    def code_length_at(self, request: Sizes, d: int) -> int:
        return memory_code_lengths(self.kind, request.n_relations, d)[1]

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        n, r = request.n_subjects_relations
        key_length, k = memory_code_lengths(self.kind, r, d)
        config = _model_config_at(n, r, self.kind, d)
        facts, codes = FLOAT64 * n * r, FLOAT64 * n * (key_length + k)
        if self.kind == "outer_product":  # memories, their lift, one relation's read-outs
            work = FLOAT64 * (3 * r * k * d + 2 * n * k) + selector_bytes(d, r, k, in_place=True)
        else:  # the R·N units' indices, gathered codes and tiled keys
            work = FLOAT64 * n * r * (k + 5 + key_length)
        draw = request.family.draw_bytes(n, k, coherence_checked=False)
        return MemoryPlan(
            draw=facts + codes + draw,
            kept=facts + codes,
            weights=weight_bytes(config),
            work=work,
        )

    def draw(
        self, request: Sizes, code_length: int, streams: SeedStreams
    ) -> tuple[Codebook, BaselineMetadata]:
        n, family = request.n_subjects, request.family
        codes = family.build(n, code_length, streams.codes, coherent=False)  # u_a: [N, k]
        keys = family.build(n, code_length, streams.read_maps, coherent=False).codes  # x_s
        return codes, BaselineMetadata(keys, keys="random")

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[BaselineMetadata]:
        return assemble(self.kind, facts, codes, metadata, d, dtype, seed)


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
    if metadata.keys == "random" and kind == "outer_product":
        return _outer_product_at(facts, codebook, metadata, d, dtype, seed)
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    keys, k, random = metadata.subject_keys, codebook.code_length, metadata.keys == "random"
    key_dim = keys.shape[1]
    residual = ResidualMap.stack(
        [("subject", key_dim), ("relation", n_relations), ("output", k)], d_model=d
    )
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    if random:
        config = _model_config_at(n_subjects, n_relations, kind, d, dtype)
    else:
        config = _model_config(n_subjects, n_relations, kind, k, dtype)
    W = zero_weights(config)

    # Embedding: fact-free keys, relation r one-hot; attention copies the keys to the last position.
    _write_keys_and_copy_head(W, keys, residual, vocab)

    # MLP: unit (r, j) with j a subject (key-value) or a key coordinate (outer product); both
    # number N per relation, in the order r·N + j, and write the code of π_r(j). The unit is
    # relu(key·x_subject + gate·(x_rel[r] − 1) − threshold): exact binary keys have
    # ⟨κ_t, κ_s⟩ <= b − 2 for t ≠ s (threshold b − 1); random unit keys fire within cos θ, and
    # the gate 2 closes every other relation's units (|⟨x_t, x⟩| <= 1).
    subject, relation = residual["subject"], residual["relation"]
    unit_relations = np.repeat(np.arange(n_relations), n_subjects)  # [R·N]
    unit_subjects = np.tile(np.arange(n_subjects), n_relations)
    units = np.arange(n_relations * n_subjects)
    if kind == "key_value":
        W["blocks.0.mlp.W_in"][subject] = np.tile(keys.T, (1, n_relations))
        gate, threshold = (2.0, KEY_VALUE_THRESHOLD) if random else (1.0, key_dim - 1.0)
    else:  # one-hot keys: unit r·N + j reads key coordinate j
        W["blocks.0.mlp.W_in"][unit_subjects, units] = 1.0
        gate, threshold = 1.0, 0.0
    value_scale = 1.0 / (1.0 - threshold) if random else 1.0  # the answer's unit writes 1·u
    W["blocks.0.mlp.W_in"][relation.start + unit_relations, units] = gate
    W["blocks.0.mlp.b_in"][:] = -gate - threshold
    values = codebook.codes[facts.permutations[unit_relations, unit_subjects]]  # [R·N, k]
    W["blocks.0.mlp.W_out"][:, residual["output"]] = values * value_scale

    # Unembedding: the codebook's decoding on the output subspace; other tokens below. With
    # random keys ‖y‖ <= N (each unit writes at most a unit code), for every set of facts.
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)
    output_norm = float(n_subjects) if random else codebook.norm_bound
    write_codebook_unembedding(
        W, residual["output"], attribute_tokens, codebook, output_norm=output_norm
    )
    return _memory_construction(
        kind,
        facts,
        codebook,
        metadata,
        W,
        config,
        residual,
        vocab,
        seed,
        fact_dependent=n_relations * n_subjects * k,  # the values, rows of W_out
    )


def _write_keys_and_copy_head(
    W: dict[str, npt.NDArray[Any]], keys: FloatArray, residual: ResidualMap, vocab: Vocabulary
) -> None:
    """Subject s embeds as its key, relation r one-hot; the head copies the subject subspace."""
    write_embedding(W, np.arange(keys.shape[0]), residual["subject"], keys)
    relations = vocab.relation_offset + np.arange(vocab.n_relations)
    write_one_hot_embedding(W, relations, residual["relation"])
    write_copy_head(W, 0, residual["subject"], n_positions=2)


def _outer_product_at(
    facts: Facts, codebook: Codebook, metadata: BaselineMetadata, d: int, dtype: str, seed: int
) -> Construction[BaselineMetadata]:
    """The outer-product memory at ``d``: the geometric construction's selector, its read maps
    the memories ``B_r = M_rᵀ = Σ_s x_s u_{π_r(s)}ᵀ``, the embeddings the random keys."""
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    keys, codes = metadata.subject_keys, codebook.codes  # x_s: [N, k], u_a: [N, k]
    layout = resolve_layout(MEMORY_LAYOUTS["outer_product"])  # | subject = output | relation |
    residual = layout.residual_map(n_relations, codebook.code_length, d)
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = _model_config_at(n_subjects, n_relations, "outer_product", d, dtype)
    W = zero_weights(config)

    # Embedding: the fact-free random key x_s, relation r one-hot; the head copies the key.
    _write_keys_and_copy_head(W, keys, residual, vocab)

    # MLP: y = M_r x_s for the prompted relation, written over the key (in place). For every
    # set of facts ‖M_r‖ <= ‖X‖·‖U‖ (U's rows permuted keep its norm), so λ = ‖X‖·‖U‖ + 1
    # bounds every coordinate the selector reads, (M_c x_s − x_s)_j, and depends on no fact.
    memories = np.stack([keys.T @ codes[permutation] for permutation in facts.permutations])
    output_norm = _spectral_norm(keys) * _spectral_norm(codes)  # >= ‖y‖ for every prompt
    write_selector(
        W,
        layout.readout.selector_reads(residual, memories),  # [R, d_model, k]
        residual.basis("relation"),
        residual.basis("output"),
        gate_threshold=1.0,
        gate_scale=output_norm + 1.0,
    )

    # Unembedding: decode the output subspace; every other token sits below all attributes.
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)
    write_codebook_unembedding(
        W, residual["output"], attribute_tokens, codebook, output_norm=output_norm
    )
    return _memory_construction(
        "outer_product",
        facts,
        codebook,
        metadata,
        W,
        config,
        residual,
        vocab,
        seed,
        fact_dependent=2 * n_relations * codebook.code_length**2,
    )


def _spectral_norm(rows: FloatArray) -> float:
    """``‖A‖₂`` of a tall matrix [n, k], from its k×k Gram matrix."""
    return float(np.sqrt(max(np.linalg.eigvalsh(rows.T @ rows)[-1], 0.0)))


def _memory_construction(
    kind: str,
    facts: Facts,
    codebook: Codebook,
    metadata: BaselineMetadata,
    W: dict[str, npt.NDArray[Any]],
    config: TransformerConfig,
    residual: ResidualMap,
    vocab: Vocabulary,
    seed: int,
    *,
    fact_dependent: int,
) -> Construction[BaselineMetadata]:
    """The memory's construction; its facts live in its MLP, which the certificate cannot read
    (it reads a gated selector over fact-free read maps)."""
    if metadata.keys == "exact":
        why = f"the {kind} memory is not a gated selector, which the certificate reads"
    else:
        why = f"the {kind} memory at a given d: its crosstalk from the other stored pairs"
        why += " has no bound the certificate uses"
    return Construction(
        kind=kind,
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=SingleHopQueries(residual["output"], uncertifiable=why),
        metadata=metadata,
        seed=seed,
        fact_dependent_parameters=fact_dependent,
    )


def _model_config_at(
    n_subjects: int, n_relations: int, kind: str, d: int, dtype: str = "float64"
) -> TransformerConfig:
    key_length, k = memory_code_lengths(kind, n_relations, d)
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=1,
        d_head=key_length,
        d_mlp=2 * n_relations * k if kind == "outer_product" else n_subjects * n_relations,
        d_vocab=Vocabulary(n_subjects, n_relations, n_subjects).d_vocab,
        n_ctx=2,
        dtype=dtype,
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
