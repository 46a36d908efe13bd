"""Multi-hop recall: ``construct_multi_hop`` and the chain-of-thought loop (``DESIGN.md`` §7).

Entities ``[N]`` are both subjects and answers; relation ``r`` is a permutation ``π_r`` of them and
an H-hop query ``(x; r_1 … r_H)`` asks for ``π_{r_H}(… π_{r_1}(x))``. A construction with
``L = steps`` answers ``g = ⌈H/L⌉`` hops per forward pass: pass j runs the prompt
``[r_{jg+1}, …, r_{jg+g}, y_j]`` (padded with the padding relation ``∅``, the identity, after the
last relation), decodes the next entity ``y_{j+1}`` by argmax over the whole vocabulary and feeds it
back as the next prompt's entity token. The loop runs ``⌈H/g⌉`` passes (``L`` whenever that many
are needed; never more). ``L = 1`` is a single pass, ``L = H`` is full chain-of-thought.

The entity comes last, where the prediction is read ("the mother of the wife of x"), so no head
has to copy the ``D_g·k``-dimensional entity embedding: every head is ``d_head = R + 1`` wide. With
the entity first (``DESIGN.md`` §7) one head would have to be ``D_g·k`` wide, and TransformerLens
gives every head the same width: the attention would hold ``4·(g+1)·d·D_g·k`` parameters instead
of ``4·g·d·(R+1)``.

The residual stream (block layout, k the code length, ``D_g = Σ_{h=1..g} R^h`` chains)::

    | entity (D_g·k) | relation (R+1) | slot 1 … slot g ((R+1) each) | position (g+1) | output (k) |

* **Embedding.** ``e_y = Σ_c B_c u_{π_c(y)}`` over every chain ``c`` of length 1…g: the answer to
  every question one pass can ask, one k-slot per chain. Relation tokens (``∅`` included) are
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
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    require_choice,
    require_ids,
    require_int,
    require_within_budget,
)
from geoconstruct.codes.codebooks import Codebook, CodebookFamily, resolve_codebook
from geoconstruct.facts import Facts, random_facts, require_facts
from geoconstruct.model.selector import selector_mlp
from geoconstruct.model.transformer import DTYPES, TransformerConfig, Weights
from geoconstruct.verification.evaluation import Tally, bytes_per_prompt, predict_with_margins

__all__ = [
    "MAX_EXHAUSTIVE_QUERIES",
    "MULTI_HOP_LAYOUTS",
    "MultiHopConstruction",
    "MultiHopFailure",
    "MultiHopLayout",
    "MultiHopRecallReport",
    "chain_count",
    "chain_keys",
    "construct_multi_hop",
    "hops_per_pass",
    "multi_hop_dimension",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MULTI_HOP_LAYOUTS = ("block",)
MAX_EXHAUSTIVE_QUERIES = 10**7
"""``recall()`` checks every query up to this many, and a seeded uniform sample beyond."""
MIN_SCORE_GAP = 40.0
"""The smallest attention score gap used: leakage ``≈ g·e^-40``, far below float64 resolution."""


def hops_per_pass(hops: int, steps: int) -> int:
    """``g = ⌈H/L⌉``: the hops one forward pass answers.

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
class MultiHopLayout:
    """The named subspaces of the residual stream, as slices of ``[0, d_model)``."""

    entity: slice
    relation: slice
    slots: tuple[slice, ...]
    position: slice
    output: slice
    d_model: int

    @property
    def unused(self) -> slice:
        """Dimensions no weight reads or writes."""
        return slice(self.output.stop, self.d_model)

    def as_dict(self) -> dict[str, list[int]]:
        """``{name: [start, stop]}`` for every subspace; slots are ``slot_1`` … ``slot_g``."""
        spans = {"entity": self.entity, "relation": self.relation}
        spans |= {f"slot_{i + 1}": span for i, span in enumerate(self.slots)}
        spans |= {"position": self.position, "output": self.output, "unused": self.unused}
        return {name: [span.start, span.stop] for name, span in spans.items()}


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


class MultiHopFailure(NamedTuple):
    """One query answered wrongly: the entity, the chain, and where the loop first went wrong."""

    entity: int
    chain: tuple[int, ...]
    expected: int
    predicted: int
    first_wrong_pass: int


@dataclass(frozen=True)
class MultiHopRecallReport(Tally):
    """What the chain-of-thought loop recalled.

    Attributes
    ----------
    n_facts : int
        Queries checked (all ``N·R^H``, or the sample).
    n_correct : int
        Queries whose every pass predicted the right entity (intermediates and the answer).
    n_queries : int
        ``N·R^H``, the queries there are.
    sampled : bool
        Whether the queries checked are a seeded uniform sample (with replacement).
    pass_correct : tuple of int
        For each pass, the queries whose entity after that pass was right.
    min_margin : float
        Smallest logit margin (right entity minus best other token) over every pass of every
        query checked.
    failures : tuple of MultiHopFailure
        The first failures, in query order.
    """

    n_facts: int
    n_correct: int
    n_queries: int
    sampled: bool
    pass_correct: tuple[int, ...]
    min_margin: float
    failures: tuple[MultiHopFailure, ...]


@dataclass(frozen=True, eq=False)
class MultiHopConstruction:
    """A built multi-hop model and the chain-of-thought loop that runs it.

    Attributes
    ----------
    config : TransformerConfig
        One layer, g heads of width ``R + 1``, ``n_ctx = g + 1``.
    weights : mapping of str to ndarray
        TransformerLens names and shapes; read-only.
    facts : Facts
        R permutations of the N entities.
    codebook : Codebook
    hops, steps, hops_per_pass : int
        H, L and ``g = ⌈H/L⌉``.
    layout : MultiHopLayout
    attention_bound : AttentionBound
    gate_scale : float
        λ of the selector.
    seed : int
    """

    config: TransformerConfig
    weights: Weights
    facts: Facts
    codebook: Codebook
    hops: int
    steps: int
    hops_per_pass: int
    layout: MultiHopLayout
    attention_bound: AttentionBound
    gate_scale: float
    seed: int

    @property
    def n_passes(self) -> int:
        """Forward passes per query: ``⌈H/g⌉``."""
        return -(-self.hops // self.hops_per_pass)

    @property
    def padding_token(self) -> int:
        """The token of ``∅``, the padding relation: ``N + R``."""
        return self.facts.n_subjects + self.facts.n_relations

    @property
    def entity_embeddings(self) -> npt.NDArray[Any]:
        """``e_y`` for every entity, shape [N, D_g·k] (a read-only view into ``W_E``)."""
        return self.weights["embed.W_E"][: self.facts.n_subjects, self.layout.entity]

    @property
    def n_queries(self) -> int:
        """``N·R^H``."""
        return int(self.facts.n_subjects * self.facts.n_relations**self.hops)

    def queries(self) -> tuple[IntArray, IntArray]:
        """Every query: entities [N·R^H] and chains [N·R^H, H], entity fastest.

        Query ``q`` is entity ``q mod N`` and chain number ``q div N`` in base R, ``r_1`` first.
        """
        n, n_relations = self.facts.n_subjects, self.facts.n_relations
        chains = np.array(
            list(itertools.product(range(n_relations), repeat=self.hops)), dtype=np.int64
        ).reshape(-1, self.hops)
        return np.tile(np.arange(n), len(chains)), np.repeat(chains, n, axis=0)

    def answers(self, entities: npt.ArrayLike, chains: npt.ArrayLike) -> IntArray:
        """The true answer entity of each query (no model involved)."""
        return self.facts.follow(entities, chains)

    def run(
        self,
        entities: npt.ArrayLike,
        chains: npt.ArrayLike,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> tuple[IntArray, FloatArray]:
        """Run the chain-of-thought loop: the token each pass predicts, and its margin.

        Parameters
        ----------
        entities : array_like of int, shape [Q]
            Starting entities.
        chains : array_like of int, shape [Q, H]
            Relation ids in ``[0, R)``, ``r_1`` first.
        memory_budget : int
            Bytes the loop may allocate (default 8 GiB).

        Returns
        -------
        predicted : ndarray of int64, shape [Q, passes]
            The token each pass predicted (pass j's prompt ends with pass j-1's prediction).
        margins : ndarray of float64, shape [Q, passes]
            The right entity's logit minus the best other logit at each pass, where "right" is
            what the pass should answer for the entity token it was given.

        Examples
        --------
        >>> c = construct_multi_hop(50, 2, hops=3, steps=3, d=multi_hop_dimension(50, 2, 3, 3))
        >>> entities, chains = [7, 7], [[0, 1, 1], [1, 1, 0]]
        >>> predicted, margins = c.run(entities, chains)
        >>> predicted[:, -1].tolist() == c.answers(entities, chains).tolist()
        True
        >>> bool((margins > 0).all())
        True
        """
        n, n_relations = self.facts.n_subjects, self.facts.n_relations
        starts = require_ids("entities", entities, n)
        chain_table = require_ids("chains", chains, n_relations)
        if chain_table.ndim != 2 or chain_table.shape != (starts.size, self.hops):
            raise ValueError(
                f"chains must have shape [{starts.size}, {self.hops}] (one chain of H={self.hops} "
                f"relations per entity), got {chain_table.shape}"
            )
        g, passes = self.hops_per_pass, self.n_passes
        padded = np.full((starts.size, passes * g), n_relations, dtype=np.int64)
        padded[:, : self.hops] = chain_table
        needed = starts.size * passes * 8 * (g + 6)
        require_within_budget("this chain-of-thought run", needed, memory_budget)
        chunk_bytes = min(256 * 2**20, max(memory_budget - needed, bytes_per_prompt(self.config)))

        predicted = np.zeros((starts.size, passes), np.int64)
        margins = np.zeros((starts.size, passes), np.float64)
        current = starts
        for step in range(passes):
            group = padded[:, step * g : (step + 1) * g]
            tokens = np.concatenate([group + n, current[:, None]], axis=1)
            # Many queries share a prompt: run each distinct prompt once.
            unique_tokens, inverse = np.unique(tokens, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            expected = self._pass_answers(unique_tokens)
            tokens_out, margins_out = predict_with_margins(
                self.weights, self.config, unique_tokens, expected, chunk_bytes=chunk_bytes
            )
            predicted[:, step], margins[:, step] = tokens_out[inverse], margins_out[inverse]
            current = predicted[:, step]
        return predicted, margins

    def recall(
        self,
        *,
        max_queries: int = MAX_EXHAUSTIVE_QUERIES,
        sample_size: int = 100_000,
        sample_seed: int = 0,
        max_failures: int = 10,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> MultiHopRecallReport:
        """Check queries through the chain-of-thought loop, every pass against the true entity.

        Every one of the ``N·R^H`` queries when there are at most ``max_queries``, else
        ``sample_size`` queries drawn uniformly (entity and each relation independently) from
        ``sample_seed``; the report says which.

        Examples
        --------
        >>> c = construct_multi_hop(64, 3, hops=3, steps=1, d=multi_hop_dimension(64, 3, 3, 1))
        >>> report = c.recall()
        >>> report.n_correct, report.n_facts, report.sampled, report.pass_correct
        (1728, 1728, False, (1728,))
        """
        max_queries = require_int("max_queries", max_queries, minimum=1)
        sample_size = require_int("sample_size", sample_size, minimum=1)
        sample_seed = require_int("sample_seed", sample_seed, minimum=0)
        max_failures = require_int("max_failures", max_failures, minimum=0)
        sampled = self.n_queries > max_queries
        if sampled:
            rng = np.random.default_rng(sample_seed)
            entities = rng.integers(0, self.facts.n_subjects, sample_size)
            chains = rng.integers(0, self.facts.n_relations, (sample_size, self.hops))
        else:
            entities, chains = self.queries()
        predicted, margins = self.run(entities, chains, memory_budget=memory_budget)

        g = self.hops_per_pass
        truth = np.stack(
            [
                self.facts.follow(entities, chains[:, : min((step + 1) * g, self.hops)])
                for step in range(self.n_passes)
            ],
            axis=1,
        )
        right = predicted == truth
        all_right = right.all(axis=1)
        wrong = np.flatnonzero(~all_right)[:max_failures]
        failures = tuple(
            MultiHopFailure(
                entity=int(entities[q]),
                chain=tuple(int(r) for r in chains[q]),
                expected=int(truth[q, -1]),
                predicted=int(predicted[q, -1]),
                first_wrong_pass=int(np.argmin(right[q])),
            )
            for q in wrong
        )
        return MultiHopRecallReport(
            n_facts=int(entities.size),
            n_correct=int(all_right.sum()),
            n_queries=self.n_queries,
            sampled=sampled,
            pass_correct=tuple(int(count) for count in right.sum(axis=0)),
            min_margin=float(margins.min()),
            failures=failures,
        )

    def _pass_answers(self, tokens: IntArray) -> IntArray:
        """The entity a pass should answer for each prompt, or -1 if its first token is no entity.

        A wrong earlier pass may feed a relation token back; that prompt has no right answer, and
        its margin is taken against entity 0 (the query is counted wrong either way).
        """
        n = self.facts.n_subjects
        is_entity = tokens[:, -1] < n
        answers = self.facts.follow(np.where(is_entity, tokens[:, -1], 0), tokens[:, :-1] - n)
        result: IntArray = np.where(is_entity, answers, 0)
        return result


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
    the codebook's minimum code length for N codes.

    Examples
    --------
    >>> multi_hop_dimension(4096, 4, hops=4, steps=4)   # g = 1: D_1 = 4 chains, k = 2
    22
    >>> multi_hop_dimension(4096, 4, hops=4, steps=1)   # g = 4: D_4 = 340 chains
    712
    """
    n_entities = require_int("n_entities", n_entities, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    g = hops_per_pass(hops, steps)
    family = _family(layout, codebook)
    return _dimension_at(n_relations, g, family.min_code_length(n_entities))


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
) -> MultiHopConstruction:
    """Build a one-layer transformer that answers H-hop queries in ``L = steps`` passes.

    Parameters
    ----------
    n_entities : int
        N >= 1 entities.
    n_relations : int
        R >= 1 relations, each a permutation of the entities.
    hops : int
        H >= 1, the relations in a query.
    steps : int
        L in ``1..H``: forward passes (chain-of-thought steps) per query; ``g = ⌈H/L⌉``.
    d : int
        ``d_model``; at least :func:`multi_hop_dimension`. A larger ``d`` takes the longest code
        that fits.
    layout : {"block"}
        One k-slot per chain (the only multi-hop layout).
    codebook : {"grid", "gaussian", "rademacher", "bch"} or a codebook family
    seed : int
        Seeds the facts and the codebook, so the same seed gives bit-identical weights.
    dtype : {"float64", "float32"}
    facts : Facts, optional
        Use these relations (N entities × R relations) instead of drawing them.
    memory_budget : int
        Bytes the construction may allocate (default 8 GiB).

    Returns
    -------
    MultiHopConstruction

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
    >>> c.config.n_heads, c.config.d_head, c.config.n_ctx, c.layout.entity.stop  # D_2 = 6, k = 1
    (2, 3, 3, 6)
    >>> c.recall().accuracy
    1.0
    >>> construct_multi_hop(100, 2, hops=2, steps=1, d=18)
    Traceback (most recent call last):
    ...
    ValueError: the block layout with grid codes for N=100, R=2, H=2, L=1 (g=2) requires d >= 19, got d=18
    """  # noqa: E501
    n_entities = require_int("n_entities", n_entities, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    g = hops_per_pass(hops, steps)
    d = require_int("d", d, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    dtype = require_choice("dtype", dtype, DTYPES)
    family = _family(layout, codebook)
    if facts is not None:
        facts = require_facts("facts", facts, n_entities, n_relations)
    minimum = _dimension_at(n_relations, g, family.min_code_length(n_entities))
    if d < minimum:
        raise ValueError(
            f"the block layout with {family.name} codes for N={n_entities}, R={n_relations}, "
            f"H={hops}, L={steps} (g={g}) requires d >= {minimum}, got d={d}"
        )
    code_length = _code_length_at(n_relations, g, d)
    needed = _construction_bytes(n_entities, n_relations, g, d, code_length, dtype)
    require_within_budget("this construction", needed, memory_budget)

    facts_stream, code_stream = np.random.SeedSequence(seed).spawn(2)
    if facts is None:
        facts = random_facts(n_entities, n_relations, np.random.default_rng(facts_stream))
    codebook_built = family.build(n_entities, code_length, np.random.default_rng(code_stream))
    bound = _attention_bound(codebook_built, g, family.coherence_bound)
    return _assemble(facts, codebook_built, bound, hops, steps, g, d, dtype, seed)


def _assemble(
    facts: Facts,
    codebook: Codebook,
    bound: AttentionBound,
    hops: int,
    steps: int,
    g: int,
    d: int,
    dtype: str,
    seed: int,
) -> MultiHopConstruction:
    """Write every weight of the construction (float64 values, rounded once into ``dtype``)."""
    n, n_relations = facts.n_subjects, facts.n_relations
    k = codebook.code_length
    keys = chain_keys(n_relations, g)  # [D_g, g], padded with ∅ = R
    n_chains = keys.shape[0]
    layout = _residual_layout(n_relations, g, n_chains * k, k, d)
    config = _model_config(n, n_relations, g, d, k, dtype)
    W = {name: np.zeros(shape, dtype) for name, shape in config.weight_shapes().items()}
    tokens = np.arange(n + n_relations + 1)
    entity_tokens, relation_tokens = tokens[:n], tokens[n:]

    # Embedding: e_y = Σ_c B_c u_{π_c(y)}, chain c in k-slot c; relations (∅ too) one-hot.
    codes = codebook.codes
    W["embed.W_E"][:n, layout.entity] = codes[facts.follow(entity_tokens[:, None], keys)].reshape(
        n, n_chains * k
    )
    W["embed.W_E"][relation_tokens, layout.relation] = np.eye(n_relations + 1)
    W["pos_embed.W_pos"][:, layout.position] = np.eye(g + 1)

    # Attention: head i scores position i at score_gap, every other position at 0, and copies
    # the relation one-hot found there into slot i. q = score_gap·√d_head on coordinate 0 from
    # every position; k = 1 on coordinate 0 at position i only.
    W["blocks.0.attn.W_Q"][:, layout.position, 0] = bound.score_gap * math.sqrt(config.d_head)
    relation_copy = np.eye(n_relations + 1)
    for slot in range(g):
        W["blocks.0.attn.W_K"][slot, layout.position.start + slot, 0] = 1.0
        W["blocks.0.attn.W_V"][slot, layout.relation] = relation_copy
        W["blocks.0.attn.W_O"][slot, :, layout.slots[slot]] = relation_copy

    # Selector MLP: key c reads k-slot c of the entity and opens when every slot matches c.
    lifted_reads = np.zeros((n_chains, d, k))
    for chain in range(n_chains):
        lifted_reads[chain, layout.entity.start + chain * k + np.arange(k), np.arange(k)] = 1.0
    gates = np.zeros((n_chains, d))
    for slot in range(g):
        gates[np.arange(n_chains), layout.slots[slot].start + keys[:, slot]] = 1.0
    output_map = np.zeros((k, d))
    output_map[np.arange(k), layout.output.start + np.arange(k)] = 1.0
    gate_scale = 2.0 * codebook.coordinate_bound
    selector = selector_mlp(lifted_reads, gates, float(g), output_map, gate_scale)
    W["blocks.0.mlp.W_in"], W["blocks.0.mlp.b_in"] = selector.W_in, selector.b_in
    W["blocks.0.mlp.W_out"], W["blocks.0.mlp.b_out"] = selector.W_out, selector.b_out

    # Unembedding: decode the output subspace to an entity; relation tokens sit below them all.
    entity_bias = codebook.unembedding_bias()
    W["unembed.W_U"][layout.output, :n] = codes.T
    floor = -(codebook.norm_bound + bound.output_error_bound) * codebook.norm_bound
    W["unembed.b_U"][:] = float(math.floor(floor + float(entity_bias.min()) - 1.0))
    W["unembed.b_U"][entity_tokens] = entity_bias

    weights = {}
    for name, array in W.items():
        cast = np.ascontiguousarray(array, dtype=dtype)
        cast.flags.writeable = False
        weights[name] = cast
    return MultiHopConstruction(
        config=config,
        weights=MappingProxyType(weights),
        facts=facts,
        codebook=codebook,
        hops=hops,
        steps=steps,
        hops_per_pass=g,
        layout=layout,
        attention_bound=bound,
        gate_scale=gate_scale,
        seed=seed,
    )


def _attention_bound(codebook: Codebook, g: int, coherence_bound: float | None) -> AttentionBound:
    """The score gap that keeps the leakage's effect below half the decoding tolerance.

    With leakage ε the open key's gate sits at most ``g·ε`` below open, which moves each selected
    coordinate by at most ``λ·g·ε`` (``λ = 2·max|u_j|``), the code by ``2√k·g·ε·max|u_j|``
    (``proofs/multi_hop.md``); ``ε <= g·e^-s`` then gives the gap ``s`` below.
    """
    k, coordinate = codebook.code_length, codebook.coordinate_bound
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


def _family(layout: object, codebook: object) -> CodebookFamily:
    require_choice("layout", layout, MULTI_HOP_LAYOUTS)
    return resolve_codebook(codebook)  # type: ignore[arg-type]


def _dimension_at(n_relations: int, g: int, code_length: int) -> int:
    """``d_model`` at code length k: ``D_g·k + (R+2)(g+1) + k``."""
    return (chain_count(n_relations, g) + 1) * code_length + (n_relations + 2) * (g + 1)


def _code_length_at(n_relations: int, g: int, d: int) -> int:
    """The longest code whose dimension fits in ``d`` (the inverse of :func:`_dimension_at`)."""
    return (d - (n_relations + 2) * (g + 1)) // (chain_count(n_relations, g) + 1)


def _residual_layout(n_relations: int, g: int, entity_dim: int, k: int, d: int) -> MultiHopLayout:
    relation = slice(entity_dim, entity_dim + n_relations + 1)
    slots = tuple(
        slice(relation.stop + i * (n_relations + 1), relation.stop + (i + 1) * (n_relations + 1))
        for i in range(g)
    )
    position = slice(slots[-1].stop, slots[-1].stop + g + 1)
    output = slice(position.stop, position.stop + k)
    return MultiHopLayout(slice(0, entity_dim), relation, slots, position, output, d)


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


def _construction_bytes(
    n: int, n_relations: int, g: int, d: int, code_length: int, dtype: str
) -> int:
    """An upper bound on the peak bytes of :func:`construct_multi_hop`."""
    n_chains = chain_count(n_relations, g)
    config = _model_config(n, n_relations, g, d, code_length, dtype)
    floats = (
        config.n_params() * np.dtype(dtype).itemsize / 8  # the weights, in dtype
        + 4 * d * config.d_mlp  # selector temporaries
        + 2 * n_chains * d * code_length  # lifted read maps and gates
        + 4 * n * n_chains * code_length  # chain answers and gathered codes
        + 3 * n * code_length
        + 2 * min(n, 4096) * n  # the codebook and its coherence check
    )
    return int(floats * 8)
