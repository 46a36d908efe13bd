"""Multi-hop recall: ``construct_multi_hop``, read top to bottom.

Entities ``[N]`` are both subjects and answers; relation ``r`` is a permutation ``π_r`` of them and
an H-hop query ``(x; r_1 … r_H)`` asks for ``π_{r_H}(… π_{r_1}(x))``. A construction with
``L = steps`` answers ``g = ⌈H/L⌉`` hops per forward pass: pass j runs the prompt
``[r_{jg+1}, …, r_{jg+g}, y_j]`` (padded with the padding relation ``∅``, the identity, after the
last relation), decodes the next entity ``y_{j+1}`` by argmax over the whole vocabulary and feeds it
back as the next prompt's entity token. The loop runs ``⌈H/g⌉`` passes (``L`` whenever that many
are needed; never more). ``L = 1`` is a single pass, ``L = H`` is full chain-of-thought.

The loop itself is :class:`~geoconstruct.constructions.queries.ChainOfThoughtQueries`. The entity
comes last, where the prediction is read ("the mother of the wife of x"), so no head has to copy
the ``D_g·k``-dimensional entity embedding: every head is ``d_head = R + 1`` wide. With the
entity first one head would have to be ``D_g·k`` wide, and TransformerLens
gives every head the same width: the attention would hold ``4·(g+1)·d·D_g·k`` parameters instead
of ``4·g·d·(R+1)``.

The residual stream (block layout, k the code length, ``D_g = Σ_{h=1..g} R^h`` chains)::

    | subject (D_g·k) | relation (R+1) | slot_1 … slot_g (R+1 each) | position (g+1) | output (k) |

* **Embedding.** ``e_y = Σ_c B_c u_{π_c(y)}`` over every chain ``c`` of length 1…g: the answer to
  every question one pass can ask, one k-slot per chain (the block layout's read maps with one
  key per chain), on the subject subspace. Relation tokens (``∅`` included) are
  one-hot on the relation subspace, and ``W_pos`` one-hot on the position subspace.
* **Attention**, g heads of hard positional attention: head i scores position i - 1 at
  ``score_gap`` (every other position at 0) and copies the relation subspace there into slot i.
  What the softmax leaks to other positions is at most ``leakage_bound = g / (e^score_gap + g)``.
  The entity needs no head: it is the last token.
* **Selector MLP** (:mod:`~.selector`): one key per chain, gated on the whole padded
  chain, ``λ·(Σ_i slot_i[c_i] − g)``; it writes ``B_cᵀ e_y`` for the chain the prompt asks for.
* **Unembedding**: ``W_U[:, y] = u_y`` on the output subspace with the codebook's decoding bias;
  relation tokens sit below every entity.

``proofs/multi_hop.md`` proves that with the recorded ``score_gap`` the leakage moves the output by
at most ``output_error_bound``, below half the codebook's decoding tolerance, so every pass
answers correctly; ``gate_scale = 2·max|u_j|`` keeps closed keys exactly closed.

**The superposed layout** (``layout="superposed"``, random unit codes, the paper's regime): every
chain's answer is superposed in one k-dimensional entity subspace through its own random
orthogonal read map, ``e_y = Σ_c B_c u_{π_c(y)}`` (``d = 2k + (R+2)(g+1)``), and the selector
reads ``B_cᵀ e_y``, the answer plus the crosstalk of the other ``D_g − 1`` chains. Nothing is
proved; recall is measured, and its transition predicted (``docs/design.md``).
"""

from __future__ import annotations

import dataclasses
import itertools
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
from geoconstruct.constructions.construction import EVERY_DRAW_EXACT, Construction, Guarantee
from geoconstruct.constructions.layouts import RELATIONS, block_read_maps
from geoconstruct.constructions.memory import FLOAT64, MemoryPlan, selector_bytes, weight_bytes
from geoconstruct.constructions.pipeline import Recipe, Sizes, build, sizes
from geoconstruct.constructions.queries import ChainOfThoughtQueries
from geoconstruct.facts import Facts, SeedStreams
from geoconstruct.model.assembly import (
    ResidualMap,
    freeze,
    write_codebook_unembedding,
    write_embedding,
    write_one_hot_embedding,
    write_positional_head,
    write_positional_one_hot,
    write_selector,
)
from geoconstruct.model.transformer import TransformerConfig, zero_weights
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "MULTI_HOP_LAYOUTS",
    "AttentionBound",
    "MultiHopMetadata",
    "assemble",
    "chain_count",
    "chain_keys",
    "construct_multi_hop",
    "hops_per_pass",
    "multi_hop_dimension",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MULTI_HOP_LAYOUTS = ("block", "superposed")
MIN_SCORE_GAP = 40.0
"""The smallest attention score gap used: leakage ``≈ g·e^-40``, far below float64 resolution."""


def hops_per_pass(hops: int, steps: int) -> int:
    """``g = ⌈H/L⌉``: the hops one forward pass answers.

    Parameters
    ----------
    hops : int
        H, hops per query.
    steps : int
        L, forward passes per query (chain of thought).

    Examples
    --------
    >>> hops_per_pass(4, 1), hops_per_pass(4, 2), hops_per_pass(4, 3), hops_per_pass(4, 4)
    (4, 2, 2, 1)
    """
    hops = require_int("hops", hops, minimum=1)
    steps = require_int("steps", steps, minimum=1)
    if steps > hops:
        raise ValueError(f"steps must lie in 1..hops={hops}, got steps={steps}")
    return -(-hops // steps)


def chain_count(n_relations: int, max_length: int) -> int:
    """``D_g = Σ_{h=1..g} R^h``: the chains of length 1…g one pass can be asked.

    Parameters
    ----------
    max_length : int
        g, the longest chain one pass answers.

    Examples
    --------
    >>> chain_count(4, 1), chain_count(4, 4), chain_count(1, 3)
    (4, 340, 3)
    """
    n_relations = require_int("n_relations", n_relations, minimum=1)
    max_length = require_int("max_length", max_length, minimum=1)
    return sum(n_relations**length for length in range(1, max_length + 1))


def chain_keys(n_relations: int, max_length: int) -> IntArray:
    """Every chain of length 1…g as a row padded with ``∅ = R`` to length g: shape [D_g, g].

    Rows are ordered by length, then lexicographically (``r_1`` first); row ``c`` is selector key
    ``c`` and k-slot ``c`` of the entity subspace.

    Parameters
    ----------
    max_length : int
        g, the longest chain one pass answers.

    Examples
    --------
    >>> chain_keys(2, 2).tolist()
    [[0, 2], [1, 2], [0, 0], [0, 1], [1, 0], [1, 1]]
    """
    n_relations = require_int("n_relations", n_relations, minimum=1)
    max_length = require_int("max_length", max_length, minimum=1)
    rows = [
        list(chain) + [n_relations] * (max_length - length)
        for length in range(1, max_length + 1)
        for chain in itertools.product(range(n_relations), repeat=length)
    ]
    return np.array(rows, dtype=np.int64).reshape(-1, max_length)


@dataclass(frozen=True)
class AttentionBound:
    """What the hard positional attention leaks, and what that can do to the answer.

    Attributes
    ----------
    score_gap : float
        ``s``: the bound position's attention score minus every other position's.
    leakage_bound : float
        ``ε = g / (e^s + g)``: the most softmax weight a head puts off its bound position.
    output_error_bound : float
        ``2√k·g·ε·max|u_j|``: how far the leakage can move the selected code (2-norm).
    decoding_tolerance : float
        How far the selected code may move without changing the argmax: ``1/2`` for grid codes
        (distinct integer points), ``(1 − μ)/2`` for unit codes of coherence ``μ``.
    """

    score_gap: float
    leakage_bound: float
    output_error_bound: float
    decoding_tolerance: float


@dataclass(frozen=True)
class MultiHopMetadata:
    """How a multi-hop construction answers: H, L, g, the attention's bound and λ.

    ``hops_per_pass`` is ``g = ⌈H/L⌉``; ``gate_scale = 2·max|u_j|`` keeps closed keys closed
    under the attention's leakage.
    """

    hops: int
    steps: int
    hops_per_pass: int
    attention_bound: AttentionBound
    gate_scale: float
    layout: str = "block"
    read_maps: FloatArray | None = dataclasses.field(default=None, repr=False)

    @property
    def guarantee(self) -> Guarantee:
        """Every chain, for every draw, in the block layout (``proofs/multi_hop.md``); nothing
        proved in the superposed one."""
        if self.layout == "block":
            return EVERY_DRAW_EXACT
        return Guarantee("none", None, "nothing proved: superposed chains; recall is measured")

    def to_manifest(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        fields = {
            name: getattr(self, name)
            for name in ("hops", "steps", "hops_per_pass", "gate_scale", "layout")
        }
        fields["attention_bound"] = dataclasses.asdict(self.attention_bound)
        arrays = {} if self.read_maps is None else {"read_maps": self.read_maps}
        return fields, arrays

    @classmethod
    def from_manifest(
        cls, fields: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> MultiHopMetadata:
        return cls(
            hops=int(fields["hops"]),
            steps=int(fields["steps"]),
            hops_per_pass=int(fields["hops_per_pass"]),
            attention_bound=AttentionBound(**fields["attention_bound"]),
            gate_scale=float(fields["gate_scale"]),
            layout=require_choice("layout", fields.get("layout", "block"), MULTI_HOP_LAYOUTS),
            read_maps=arrays.get("read_maps"),
        )


def multi_hop_dimension(
    n_entities: int,
    n_relations: int,
    hops: int,
    steps: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> int:
    """The smallest ``d`` that :func:`construct_multi_hop` accepts.

    ``D_g·k + (R+2)·(g+1) + k``: the entity subspace, the relation subspace and the g slots
    (``R+1`` each), the ``g+1`` positions and the output subspace, with ``g = ⌈H/L⌉`` and ``k``
    the codebook's minimum code length for N codes. The codebook defaults to ``"grid"``, unlike
    :func:`construct_single_hop`, whose default is the paper's superposed gaussian codes.

    Parameters
    ----------
    n_entities : int
        N, the number of entities.
    codebook : str or CodebookFamily
        Default ``"grid"``, the exact regime, unlike :func:`construct_single_hop`, whose default
        is the paper's superposed gaussian codes.
    hops : int
        H, hops per query.
    steps : int
        L, forward passes per query (chain of thought).

    Examples
    --------
    >>> multi_hop_dimension(4096, 4, hops=4, steps=4)   # g = 1: D_1 = 4 chains, k = 2
    22
    >>> multi_hop_dimension(4096, 4, hops=4, steps=1)   # g = 4: D_4 = 340 chains
    712
    """
    layout = require_choice("layout", layout, MULTI_HOP_LAYOUTS)
    request = sizes(n_entities, n_relations, codebook, "float64", subjects_name="n_entities")
    recipe = MultiHopRecipe(hops, steps, hops_per_pass(hops, steps), layout)
    return recipe.minimum_dimension(request)


def construct_multi_hop(
    n_entities: int,
    n_relations: int,
    hops: int,
    steps: int,
    d: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Construction[MultiHopMetadata]:
    """Build a one-layer transformer that answers H-hop queries in ``L = steps`` passes.

    Parameters
    ----------
    n_entities : int
        N >= 1 entities.
    codebook : str or CodebookFamily
        Default ``"grid"``, the exact regime, unlike :func:`construct_single_hop`, whose default
        is the paper's superposed gaussian codes.
    hops : int
        H >= 1, the relations in a query.
    steps : int
        L in ``1..H``: forward passes (chain-of-thought steps) per query; ``g = ⌈H/L⌉``.

    Returns
    -------
    Construction
        ``kind="multi_hop"``, with :class:`MultiHopMetadata`.

    Raises
    ------
    TypeError
        A size, ``d`` or ``seed`` that is not an integer.
    ValueError
        A non-positive size, ``steps`` outside ``1..hops``, an unknown layout, codebook or dtype,
        mismatched ``facts``, or ``d`` below the minimum (``requires d >= <minimum>``).
    MemoryBudgetError
        (a ``MemoryError``) before allocating, when the weights and temporaries exceed the budget.

    Examples
    --------
    >>> c = construct_multi_hop(100, 2, hops=2, steps=1, d=multi_hop_dimension(100, 2, 2, 1))
    >>> c.config.n_heads, c.config.d_head, c.config.n_ctx, c.residual.size("subject")  # D_2·k = 6
    (2, 3, 3, 6)
    >>> c.recall().accuracy
    1.0
    >>> construct_multi_hop(100, 2, hops=2, steps=1, d=18)
    Traceback (most recent call last):
    ...
    ValueError: the block layout with grid codes for N=100, R=2, H=2, L=1 (g=2) requires d >= 19, got d=18
    """  # noqa: E501
    layout = require_choice("layout", layout, MULTI_HOP_LAYOUTS)
    request = sizes(n_entities, n_relations, codebook, dtype, subjects_name="n_entities")
    recipe = MultiHopRecipe(hops, steps, hops_per_pass(hops, steps), layout)
    return build(recipe, request, d, seed=seed, facts=facts, memory_budget=memory_budget)


@dataclass(frozen=True)
class MultiHopRecipe(Recipe):
    """The multi-hop recipe's answers to the build pipeline: H hops in L passes, ``g = ⌈H/L⌉``
    hops a pass, one k-slot per chain of at most g relations."""

    hops: int
    steps: int
    g: int
    layout: str = "block"

    def check(self, request: Sizes) -> None:
        family = request.family  # the block layout reads each chain's slot without crosstalk
        if self.layout == "superposed" and not (family.random and family.unit_norm):
            raise ValueError(
                f"codebook {family.name!r} cannot be used with the superposed multi-hop layout: "
                "it superposes random unit codes (use 'gaussian' or 'rademacher')"
            )

    def describe(self, request: Sizes) -> str:
        return (
            f"the {self.layout} layout with {request.family.name} codes for "
            f"N={request.n_subjects}, R={request.n_relations}, H={self.hops}, L={self.steps} "
            f"(g={self.g})"
        )

    def minimum_dimension(self, request: Sizes) -> int:
        superposed = self.layout == "superposed"
        k = 2 if superposed else request.family.min_code_length(request.n_subjects)
        return _dimension_at(request.n_relations, self.g, k, superposed)

    def default_dimension(self, request: Sizes) -> int:
        return self.minimum_dimension(request)

    def code_length_at(self, request: Sizes, d: int) -> int:
        return _code_length_at(request.n_relations, self.g, d, self.layout == "superposed")

    def memory_plan(self, request: Sizes, d: int, code_length: int) -> MemoryPlan:
        n, r = request.n_subjects_relations
        return memory_plan(request.family, n, r, self.g, d, code_length, request.dtype, self.layout)

    def draw(
        self, request: Sizes, code_length: int, streams: SeedStreams
    ) -> tuple[Codebook, MultiHopMetadata]:
        family = request.family
        if self.layout == "superposed":  # B_c Haar for every chain; λ bounds ‖e_y‖ <= D_g
            n_chains = chain_count(request.n_relations, self.g)
            codes = family.build(request.n_subjects, code_length, streams.codes, coherent=False)
            read_maps = RELATIONS["shared"].read_maps(n_chains, codes, streams.read_maps)
            read_maps.flags.writeable = False
            gate_scale = 2.0 * n_chains * codes.norm_bound
            bound = _attention_bound(codes, self.g, None, gate_scale / 2.0)
            metadata = MultiHopMetadata(
                self.hops, self.steps, self.g, bound, gate_scale, "superposed", read_maps
            )
            return codes, metadata
        codes = family.build(request.n_subjects, code_length, streams.codes)
        bound = _attention_bound(codes, self.g, family.coherence_bound)
        gate_scale = 2.0 * codes.coordinate_bound
        return codes, MultiHopMetadata(self.hops, self.steps, self.g, bound, gate_scale)

    def assemble(
        self, facts: Facts, codes: Codebook, metadata: Any, d: int, dtype: str, seed: int
    ) -> Construction[MultiHopMetadata]:
        return assemble(facts, codes, metadata, d, dtype, seed)


def assemble(
    facts: Facts, codebook: Codebook, metadata: MultiHopMetadata, d: int, dtype: str, seed: int
) -> Construction[MultiHopMetadata]:
    """Write every weight of the construction from its parts (float64 values, rounded once).

    Parameters
    ----------
    codebook : Codebook
        The attribute codes, drawn.
    metadata : MultiHopMetadata
        The construction's metadata (its codes, read maps and layout).
    """
    n, n_relations = facts.n_subjects, facts.n_relations
    g, bound, k = metadata.hops_per_pass, metadata.attention_bound, codebook.code_length
    keys = chain_keys(n_relations, g)  # [D_g, g], padded with ∅ = R
    n_chains = keys.shape[0]
    chain_maps = metadata.read_maps
    superposed = chain_maps is not None
    residual = _residual_map(n_relations, g, k if superposed else n_chains * k, k, d)
    vocab = Vocabulary(n_subjects=n, n_relations=n_relations + 1, n_attributes=0)  # ∅ included
    config = _model_config(n, n_relations, g, d, k, dtype)
    W = zero_weights(config)
    entity_tokens = np.arange(n)
    relation_tokens = vocab.relation_offset + np.arange(n_relations + 1)

    # Embedding: e_y = Σ_c B_c u_{π_c(y)}: chain c in k-slot c (block), or each through its
    # Haar map in one k-dimensional subspace (superposed); relations (∅ too) one-hot.
    answers = facts.follow(entity_tokens[:, None], keys)  # π_c(y): [N, D_g]
    if chain_maps is not None:
        read_maps = chain_maps  # B_c: [D_g, k, k]
        embeddings = np.zeros((n, k))
        for chain in range(n_chains):
            embeddings += codebook.codes[answers[:, chain]] @ read_maps[chain].T
        write_embedding(W, entity_tokens, residual["subject"], embeddings)
    else:
        read_maps = block_read_maps(n_chains, k)  # key c reads k-slot c
        embeddings = codebook.codes[answers].reshape(n, n_chains * k)
        write_embedding(W, entity_tokens, residual["subject"], embeddings)
    del embeddings
    write_one_hot_embedding(W, relation_tokens, residual["relation"])
    write_positional_one_hot(W, residual["position"])

    # Attention: head i attends to position i at score_gap and copies the relation one-hot
    # found there into slot i.
    for slot in range(g):
        write_positional_head(
            W,
            slot,
            position=residual["position"],
            attend_to=slot,
            score_gap=bound.score_gap,
            source=residual["relation"],
            target=residual[f"slot_{slot + 1}"],
        )

    # Selector MLP: key c reads B_cᵀ e_y and opens when every slot matches c.
    gates = np.zeros((n_chains, d))
    for slot in range(g):
        gates[np.arange(n_chains), residual[f"slot_{slot + 1}"].start + keys[:, slot]] = 1.0
    write_selector(
        W,
        residual.lift("subject", read_maps),  # [D_g, d_model, k]
        gates,
        residual.basis("output"),  # [k, d_model]
        gate_threshold=float(g),  # g conditions: one relation in each slot of the chain
        gate_scale=metadata.gate_scale,
    )

    # Unembedding: decode the output subspace to an entity; relation tokens sit below them all.
    selected = n_chains * codebook.norm_bound if superposed else codebook.norm_bound
    output_norm = selected + bound.output_error_bound
    write_codebook_unembedding(
        W, residual["output"], entity_tokens, codebook, output_norm=output_norm
    )

    return Construction(
        kind="multi_hop",
        config=config,
        weights=freeze(W),
        facts=facts,
        codebook=codebook,
        residual=residual,
        vocabulary=vocab,
        queries=ChainOfThoughtQueries(hops=metadata.hops, hops_per_pass=g),
        metadata=metadata,
        seed=seed,
    )


def _attention_bound(
    codebook: Codebook, g: int, coherence_bound: float | None, selected_bound: float | None = None
) -> AttentionBound:
    """The score gap that keeps the leakage's effect below half the decoding tolerance.

    With leakage ε the open key's gate sits at most ``g·ε`` below open, which moves each selected
    coordinate by at most ``λ·g·ε`` (``λ = 2·max|u_j|``), the code by ``2√k·g·ε·max|u_j|``
    (``proofs/multi_hop.md``); ``ε <= g·e^-s`` then gives the gap ``s`` below. Superposed
    (``selected_bound``, the bound on a selected coordinate): nothing is proved, the gap is
    :data:`MIN_SCORE_GAP` and the tolerance 0.
    """
    k, coordinate = codebook.code_length, codebook.coordinate_bound
    if selected_bound is not None:
        leakage = g / (math.exp(MIN_SCORE_GAP) + g)
        error = 2.0 * math.sqrt(k) * g * leakage * selected_bound
        return AttentionBound(MIN_SCORE_GAP, leakage, error, 0.0)
    if codebook.unit_norm:
        # the family's guarantee (drawn until coherent, or a closed form): no O(N²k) pass here
        assert coherence_bound is not None, "unit-norm families bound their coherence"
        tolerance = (1.0 - coherence_bound) / 2.0
    else:
        tolerance = 0.5
    # error <= tolerance/2 needs 2√k·g·(g·e^-s)·max|u_j| <= tolerance/2
    needed = math.log(4.0 * math.sqrt(k) * g * g * coordinate / tolerance)
    score_gap = float(max(MIN_SCORE_GAP, math.ceil(needed)))
    leakage = g / (math.exp(score_gap) + g)
    error = 2.0 * math.sqrt(k) * g * leakage * coordinate
    return AttentionBound(score_gap, leakage, error, tolerance)


def _dimension_at(n_relations: int, g: int, code_length: int, superposed: bool = False) -> int:
    """``d_model`` at code length k: ``D_g·k + (R+2)(g+1) + k`` (``2k + …`` superposed)."""
    entity = 1 if superposed else chain_count(n_relations, g)
    return (entity + 1) * code_length + (n_relations + 2) * (g + 1)


def _code_length_at(n_relations: int, g: int, d: int, superposed: bool = False) -> int:
    """The longest code whose dimension fits in ``d`` (the inverse of :func:`_dimension_at`)."""
    entity = 1 if superposed else chain_count(n_relations, g)
    return (d - (n_relations + 2) * (g + 1)) // (entity + 1)


def _residual_map(n_relations: int, g: int, entity_dim: int, k: int, d: int) -> ResidualMap:
    """``| subject (D_g·k) | relation (R+1) | slot_1 … slot_g (R+1 each) | position | output |``."""
    slots = [(f"slot_{i + 1}", n_relations + 1) for i in range(g)]
    return ResidualMap.stack(
        [
            ("subject", entity_dim),
            ("relation", n_relations + 1),
            *slots,
            ("position", g + 1),
            ("output", k),
        ],
        d_model=d,
    )


def _model_config(
    n: int, n_relations: int, g: int, d: int, code_length: int, dtype: str
) -> TransformerConfig:
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=g,
        d_head=n_relations + 1,
        d_mlp=2 * chain_count(n_relations, g) * code_length,
        d_vocab=n + n_relations + 1,
        n_ctx=g + 1,
        dtype=dtype,
    )


def memory_plan(
    family: CodebookFamily,
    n: int,
    n_relations: int,
    g: int,
    d: int,
    code_length: int,
    dtype: str,
    layout: str = "block",
) -> MemoryPlan:
    """The peak bytes of :func:`construct_multi_hop`, by part (:mod:`.memory`): the draw; the
    facts and codes kept; the weights; and, while they are written, the chain answers (every
    entity's code along every chain), the block read maps, the gates and the selector."""
    n_chains = chain_count(n_relations, g)
    config = _model_config(n, n_relations, g, d, code_length, dtype)
    facts = FLOAT64 * n_relations * n
    if layout == "superposed":  # the answers' ids, one chain's codes and product at a time
        chain_answers = FLOAT64 * (n * n_chains + 3 * n * code_length)
        read_maps = FLOAT64 * n_chains * code_length**2 + FLOAT64 * 3 * code_length**2
    else:
        chain_answers = FLOAT64 * n * n_chains * (code_length + 1)  # codes gathered, their ids
        read_maps = FLOAT64 * n_chains * (n_chains * code_length) * code_length
    gates = FLOAT64 * n_chains * d
    selector = selector_bytes(d, n_chains, code_length, in_place=False)
    checked = family.random and layout == "block"  # block: drawn until coherent
    return MemoryPlan(
        draw=facts + family.draw_bytes(n, code_length, coherence_checked=checked),
        kept=facts + FLOAT64 * n * code_length,
        weights=weight_bytes(config),
        work=chain_answers + read_maps + gates + selector,
    )
