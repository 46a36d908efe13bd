"""Single-hop geometric construction: ``construct_single_hop`` (``DESIGN.md`` §4).

A prompt is ``[s, r]`` (subject token, relation token); the answer is the attribute token
``π_r(s)``. The residual stream is a direct sum of named subspaces::

    | subject (d_s) | relation (R, one-hot) | output (k) | unused |

* **Embedding.** ``e_s = Σ_r B_r u_{π_r(s)}`` on the subject subspace: the superposition of the
  subject's attribute codes. Relation ``r`` embeds as the one-hot vector ``x_rel = e_r``.
* **Attention** (one head, ``W_Q = W_K = 0``): the last position attends 1/2 to each position;
  ``W_V`` is the identity on the subject subspace and ``W_O = 2·I`` writes it back, so the last
  position holds ``e_s + x_rel`` exactly (the relation token has no subject component).
* **Selector MLP** (:mod:`~.selector`): ``2·R·k`` hidden units write ``y = B_rᵀ e_s``
  into the output subspace for the prompted relation only.
* **Unembedding**: ``W_U[:, a] = u_a`` on the output subspace and the codebook's decoding bias;
  subject and relation tokens get a bias below every attribute logit.

Two layouts of the subject subspace:

``block``
    ``B_r`` puts relation r's code in its own k-dimensional slot: ``d_s = R·k``, no crosstalk,
    ``y = u_{π_r(s)}`` exactly. ``d = (R+1)·k + R`` with ``k`` the codebook's minimum code length.
``superposed``
    ``B_r`` is a random ``k×k`` orthogonal matrix and all relations share ``d_s = k`` dimensions;
    the read-out carries crosstalk from the other relations. Unit codes only. ``d = 2k + R`` with
    ``k = max(k_code, ⌈4(R-1)/(1-μ) · ln(N(N-1)R/δ)⌉)``, ``μ`` the codebook's coherence bound and
    ``δ = 1/100``: every fact is recalled with probability at least ``1 - δ`` over the draw of the
    ``B_r`` (``proofs/superposed_recall.md``).

A ``d`` larger than the minimum is used by taking the largest code length that fits; what is
left over (fewer than R+1 or 2 dimensions) stays zero and is recorded as ``unused``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    require_choice,
    require_ids,
    require_int,
    require_within_budget,
)
from geoconstruct.codes.codebooks import BCHCodes, Codebook, CodebookFamily, resolve_codebook
from geoconstruct.facts import Facts, random_facts, require_facts
from geoconstruct.model.selector import selector_mlp
from geoconstruct.model.transformer import DTYPES, TransformerConfig, Weights
from geoconstruct.verification.certificate import (
    Certificate,
    PromptLayout,
    certificate_bytes,
    certify_single_hop,
)
from geoconstruct.verification.evaluation import (
    ProgressCallback,
    RecallReport,
    Vocabulary,
    plan_chunk_bytes,
    predict_tokens,
    recall_report,
    score_prompts,
)

__all__ = [
    "LAYOUTS",
    "RECALL_METHODS",
    "SUPERPOSED_FAILURE_PROBABILITY",
    "ParameterCount",
    "ResidualLayout",
    "SingleHopConstruction",
    "Vocabulary",
    "code_length_at",
    "code_length_for",
    "construct_single_hop",
    "construction_bytes",
    "dimension_for",
    "required_dimension",
    "single_hop_config",
    "superpose",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LAYOUTS = ("block", "superposed")
RECALL_METHODS = ("exact", "certified")
SUPERPOSED_FAILURE_PROBABILITY = 0.01
"""δ in the superposed dimension formula: recall fails with probability at most δ."""


@dataclass(frozen=True)
class ResidualLayout:
    """The named subspaces of the residual stream, as slices of ``[0, d_model)``."""

    subject: slice
    relation: slice
    output: slice
    d_model: int

    @property
    def unused(self) -> slice:
        """Dimensions no weight reads or writes."""
        return slice(self.output.stop, self.d_model)

    def as_dict(self) -> dict[str, list[int]]:
        """``{name: [start, stop]}`` for every subspace, ``unused`` included."""
        spans = {
            "subject": self.subject,
            "relation": self.relation,
            "output": self.output,
            "unused": self.unused,
        }
        return {name: [span.start, span.stop] for name, span in spans.items()}


@dataclass(frozen=True)
class ParameterCount:
    """Parameters by component, and the split of DESIGN.md §5.

    ``fact_dependent`` counts the subject-embedding coordinates on the subject subspace (``N·d_s``):
    the only numbers that change when the facts change. Everything else is ``generic``.
    """

    embedding: int
    positional: int
    attention: int
    mlp: int
    unembedding: int
    fact_dependent: int

    @property
    def total(self) -> int:
        return self.embedding + self.positional + self.attention + self.mlp + self.unembedding

    @property
    def generic(self) -> int:
        return self.total - self.fact_dependent


@dataclass(frozen=True, eq=False)
class SingleHopConstruction:
    """A built single-hop model: weights, the facts it stores, and how it stores them.

    Attributes
    ----------
    config : TransformerConfig
        One layer, one head, ``n_ctx = 2``.
    weights : mapping of str to ndarray
        TransformerLens names and shapes; a read-only mapping of read-only arrays.
    facts : Facts
    codebook : Codebook
    read_maps : ndarray, shape [R, d_s, k]
        ``B_r`` for every relation (float64).
    layout : {"block", "superposed"}
    residual_layout : ResidualLayout
    vocabulary : Vocabulary
    gate_scale : float
        λ of the selector, a bound valid for every set of facts.
    seed : int
    """

    config: TransformerConfig
    weights: Weights
    facts: Facts
    codebook: Codebook
    read_maps: FloatArray
    layout: str
    residual_layout: ResidualLayout
    vocabulary: Vocabulary
    gate_scale: float
    seed: int

    @property
    def subject_embeddings(self) -> npt.NDArray[Any]:
        """``e_s`` for every subject, shape [N, d_s] (a read-only view into ``W_E``)."""
        return self.weights["embed.W_E"][: self.facts.n_subjects, self.residual_layout.subject]

    @property
    def parameter_count(self) -> ParameterCount:
        sizes = {name: array.size for name, array in self.weights.items()}
        return ParameterCount(
            embedding=sizes["embed.W_E"],
            positional=sizes["pos_embed.W_pos"],
            attention=sum(size for name, size in sizes.items() if ".attn." in name),
            mlp=sum(size for name, size in sizes.items() if ".mlp." in name),
            unembedding=sizes["unembed.W_U"] + sizes["unembed.b_U"],
            fact_dependent=self.subject_embeddings.size,
        )

    def prompts(self) -> tuple[IntArray, IntArray]:
        """Every query as tokens ``[N·R, 2]`` and its answer token ``[N·R]``.

        Query ``q = r·N + s`` is ``[s, N + r]`` with answer ``N + R + π_r(s)``.
        """
        n_subjects, n_relations = self.facts.n_subjects, self.facts.n_relations
        subjects = np.tile(np.arange(n_subjects), n_relations)
        relations = np.repeat(np.arange(n_relations), n_subjects)
        return self._tokens(subjects, relations), self._answers(subjects, relations)

    def predict(
        self,
        subjects: npt.ArrayLike,
        relations: npt.ArrayLike,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> IntArray:
        """The attribute the forward pass answers for each (subject, relation) pair.

        Parameters
        ----------
        subjects, relations : array_like of int
            Broadcast together; subjects in ``[0, N)``, relations in ``[0, R)``.
        memory_budget : int
            Bytes the prompt table and one chunk of the forward pass may use (default 8 GiB).

        Returns
        -------
        ndarray of int64
            Attribute ids, -1 where the argmax is not an attribute token.

        Raises
        ------
        MemoryBudgetError
            (a ``MemoryError``) before allocating, if the request cannot fit the budget.
        """
        subject_ids, relation_ids = np.broadcast_arrays(
            require_ids("subjects", subjects, self.facts.n_subjects),
            require_ids("relations", relations, self.facts.n_relations),
        )
        chunk_bytes = plan_chunk_bytes(self.config, subject_ids.size, memory_budget, "predict")
        tokens = self._tokens(subject_ids.ravel(), relation_ids.ravel())
        predicted = predict_tokens(self.weights, self.config, tokens, chunk_bytes=chunk_bytes)
        return self.vocabulary.attribute_of(predicted).reshape(subject_ids.shape)

    @property
    def prompt_layout(self) -> PromptLayout:
        """Where the tokens and the output subspace are: the claims the certificate checks."""
        return PromptLayout(
            n_subjects=self.vocabulary.n_subjects,
            n_relations=self.vocabulary.n_relations,
            relation_offset=self.vocabulary.relation_offset,
            attribute_offset=self.vocabulary.attribute_offset,
            n_attributes=self.vocabulary.n_attributes,
            output=self.residual_layout.output,
            sign_read_maps=self.layout == "superposed" and self.codebook.trace_code is not None,
        )

    def certify(self, *, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Certificate:
        """Prove query by query, without the argmax over the vocabulary, what the model recalls.

        See :mod:`~.certificate`; ``recall(method="certified")`` builds on it.

        Raises
        ------
        MemoryBudgetError
            (a ``MemoryError``) before allocating, if the certificate's arrays exceed the budget.
        """
        random_codes = self.codebook.unit_norm and self.codebook.trace_code is None
        needed = certificate_bytes(self.config, self.prompt_layout, random_codes=random_codes)
        require_within_budget("this certificate", needed, memory_budget)
        return certify_single_hop(
            self.weights, self.config, self.prompt_layout, self.facts, self.codebook
        )

    def recall(
        self,
        *,
        method: str = "exact",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        max_failures: int = 10,
        progress: ProgressCallback | None = None,
        max_fallback: int | None = None,
    ) -> RecallReport:
        """Report what the forward pass recalls over all ``N·R`` queries.

        ``method="exact"`` runs the forward pass on every prompt, in chunks: the ``[N·R, 2]``
        prompt table and one chunk (``min(256 MiB, budget - table) // bytes_per_prompt(config)``
        prompts) must fit in ``memory_budget`` on top of the weights. ``method="certified"``
        proves recall with :meth:`certify` in ``O(N·R·k)`` work and runs the forward pass only on
        the queries the certificate leaves open (``n_fallback`` in the report). Both report the
        same numbers of correct queries; the certificate never claims a query the forward pass
        gets wrong.

        Parameters
        ----------
        method : {"exact", "certified"}
        memory_budget : int
            Bytes recall may allocate (default 8 GiB).
        max_failures : int
            How many failures to list in the report.
        progress : callable, optional
            Called with the number of prompts finished after each chunk of the forward pass.
        max_fallback : int, optional
            With ``"certified"``: refuse (``RuntimeError``) rather than run the forward pass on
            more than this many queries the certificate leaves open.

        Returns
        -------
        RecallReport

        Raises
        ------
        MemoryBudgetError
            (a ``MemoryError``) before allocating, if the request cannot fit ``memory_budget``;
            the message says how many bytes are needed.
        RuntimeError
            When the certificate leaves more than ``max_fallback`` queries open.

        Examples
        --------
        >>> construction = construct_single_hop(300, 3, required_dimension(300, 3), seed=1)
        >>> report = construction.recall()
        >>> report.n_correct, report.n_facts, report.min_margin
        (900, 900, 0.5)
        >>> certified = construction.recall(method="certified")
        >>> certified.n_correct, certified.n_fallback, certified.min_margin
        (900, 0, 0.5)
        """
        method = require_choice("method", method, RECALL_METHODS)
        if method == "exact":
            queries = None
            certified_count, certified_margin = 0, np.inf
        else:
            certificate = self.certify(memory_budget=memory_budget)
            queries = np.flatnonzero(~certificate.certified)
            if max_fallback is not None and queries.size > max_fallback:
                raise RuntimeError(
                    f"the certificate leaves {queries.size:,} queries to the forward pass, "
                    f"more than max_fallback={max_fallback:,}"
                    + (f" ({certificate.reason})" if certificate.reason else "")
                )
            certified_count = certificate.n_certified
            certified_margin = float(certificate.margins[certificate.certified].min(initial=np.inf))
            del certificate
        n_checked = self.facts.n_facts if queries is None else queries.size
        chunk_bytes = plan_chunk_bytes(self.config, n_checked, memory_budget)
        tokens, answers = self.prompts() if queries is None else self._query_prompts(queries)
        scores = score_prompts(
            self.weights,
            self.config,
            tokens,
            answers,
            chunk_bytes=chunk_bytes,
            max_failures=max_failures,
            progress=progress,
        )
        return recall_report(
            scores,
            tokens,
            answers,
            self.vocabulary,
            n_facts=self.facts.n_facts,
            certified_count=certified_count,
            certified_margin=certified_margin,
            method=method,
            n_fallback=0 if queries is None else int(queries.size),
        )

    def _query_prompts(self, queries: IntArray) -> tuple[IntArray, IntArray]:
        """Tokens and answers of the queries ``q = r·N + s`` listed in ``queries``."""
        subjects, relations = queries % self.facts.n_subjects, queries // self.facts.n_subjects
        return self._tokens(subjects, relations), self._answers(subjects, relations)

    def _tokens(self, subjects: IntArray, relations: IntArray) -> IntArray:
        return np.stack([subjects, relations + self.vocabulary.relation_offset], axis=1)

    def _answers(self, subjects: IntArray, relations: IntArray) -> IntArray:
        attributes = self.facts.answer(subjects, relations)
        answers: IntArray = attributes + self.vocabulary.attribute_offset
        return answers


def superpose(facts: Facts, codes: npt.ArrayLike, read_maps: npt.ArrayLike) -> FloatArray:
    """Subject embeddings ``e_s = Σ_r B_r u_{π_r(s)}``, shape [N, d_s].

    Parameters
    ----------
    facts : Facts
    codes : array_like, shape [M, k]
        ``u_a`` for every attribute.
    read_maps : array_like, shape [R, d_s, k]
        ``B_r`` for every relation.

    Examples
    --------
    >>> facts = Facts([[1, 0], [0, 1]])
    >>> slots = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])  # block layout, k = 1
    >>> superpose(facts, [[10.0], [20.0]], slots).tolist()
    [[20.0, 10.0], [10.0, 20.0]]
    """
    code_table = np.asarray(codes, dtype=np.float64)
    maps = np.asarray(read_maps, dtype=np.float64)
    embeddings = np.zeros((facts.n_subjects, maps.shape[1]))
    for relation, permutation in enumerate(facts.permutations):
        embeddings += code_table[permutation] @ maps[relation].T
    return embeddings


def code_length_for(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> int:
    """The smallest code length k the construction accepts for N subjects and R relations.

    Block: the codebook's minimum for N codes. Superposed: also at least
    ``⌈4(R-1)/(1-μ) · ln(N(N-1)R/δ)⌉`` (see the module docstring).

    Examples
    --------
    >>> code_length_for(10_000, 8), code_length_for(10_000, 8, codebook="gaussian")
    (2, 153)
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    layout, codebook = _layout_and_family(layout, codebook)
    if layout == "superposed" and isinstance(codebook, BCHCodes):
        # sign read maps: the crosstalk is bounded in closed form, for every set of facts
        return codebook.superposed_code_length(n_subjects, n_relations)
    shortest = codebook.min_code_length(n_subjects)
    if layout == "block" or n_relations == 1 or n_subjects == 1:
        return shortest
    max_coherence = codebook.coherence_bound
    if max_coherence is None:
        raise ValueError("the superposed layout needs unit codes with a coherence bound")
    pairs = n_subjects * (n_subjects - 1) * n_relations
    crosstalk = (
        4.0
        * (n_relations - 1)
        / (1.0 - max_coherence)
        * math.log(pairs / SUPERPOSED_FAILURE_PROBABILITY)
    )
    return max(shortest, math.ceil(crosstalk))


def required_dimension(
    n_subjects: int,
    n_relations: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
) -> int:
    """The smallest ``d`` (``d_model``) that :func:`construct_single_hop` accepts.

    ``(R+1)·k + R`` for the block layout, ``2k + R`` for the superposed one, with k from
    :func:`code_length_for`.

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, an unknown layout or codebook, or grid codes
        with the superposed layout.

    Examples
    --------
    >>> required_dimension(10_000, 8)   # grid codes, 8 bits: k = 2
    26
    >>> required_dimension(1000, 4, layout="superposed", codebook="gaussian")
    956
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    layout, family = _layout_and_family(layout, codebook)
    code_length = code_length_for(n_subjects, n_relations, layout=layout, codebook=family)
    return dimension_for(layout, n_relations, code_length)


def construction_bytes(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    dtype: str = "float64",
) -> int:
    """An upper bound on the peak bytes :func:`construct_single_hop` allocates.

    Counts the weights (in ``dtype``), the selector's float64 temporaries (``4·d·d_mlp`` floats
    and the lifted read maps), the facts, codes, read maps and embeddings, and for random
    codebooks the coherence check (a 4096-row block of the Gram matrix).

    Examples
    --------
    >>> construction_bytes(10_000, 8, 26) < 50 * 2**20
    True
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    d = require_int("d", d, minimum=1)
    dtype = require_choice("dtype", dtype, DTYPES)
    layout, family = _layout_and_family(layout, codebook)
    config = single_hop_config(n_subjects, n_relations, d, layout=layout, codebook=family)
    d_mlp, subject_dim = config.d_mlp, config.d_head
    code_length = d_mlp // (2 * n_relations)
    floats = (
        config.n_params() * np.dtype(dtype).itemsize / 8  # the weights, allocated in dtype
        + 4 * d * d_mlp  # selector temporaries
        + n_relations * d * code_length  # lifted read maps
        + 2 * n_relations * subject_dim * code_length  # read maps (and QR work)
        + 3 * n_subjects * max(subject_dim, code_length)  # codes, gathered codes, embeddings
        + n_relations * n_subjects  # facts
    )
    if isinstance(family, BCHCodes):  # message bits times the generator, rounded, reduced
        floats += 3 * n_subjects * code_length
    elif family.unit_norm:  # random draws and their coherence check
        floats += 3 * n_subjects * code_length + 2 * min(n_subjects, 4096) * n_subjects
    return int(floats * 8)


def construct_single_hop(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    seed: int = 0,
    dtype: str = "float64",
    facts: Facts | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> SingleHopConstruction:
    """Build, in closed form, a one-layer transformer that recalls R bijections over N subjects.

    Parameters
    ----------
    n_subjects : int
        N >= 1 subjects (and N attributes).
    n_relations : int
        R >= 1 relations.
    d : int
        ``d_model``; at least :func:`required_dimension`.
    layout : {"block", "superposed"}
        How relations share the subject subspace.
    codebook : {"grid", "gaussian", "rademacher"} or a codebook family
        Attribute codes; ``GridCodes(bits=p)`` etc. for non-default parameters. The superposed
        layout needs unit codes (gaussian or rademacher).
    seed : int
        Seeds the facts, the codebook and the read maps (independent streams), so the same seed
        gives bit-identical weights.
    dtype : {"float64", "float32"}
        Dtype of the weights and of the forward pass.
    facts : Facts, optional
        Store these facts instead of drawing them from ``seed``; must be N subjects × R relations.
    memory_budget : int
        Bytes the construction may allocate (default 8 GiB); see :func:`construction_bytes`.

    Returns
    -------
    SingleHopConstruction

    Raises
    ------
    TypeError
        A size, ``d`` or ``seed`` that is not an integer.
    ValueError
        A non-positive size, an unknown layout, codebook or dtype, grid codes with the superposed
        layout, mismatched ``facts``, or ``d`` below the minimum (the message says
        ``requires d >= <minimum>``).
    MemoryBudgetError
        (a ``MemoryError``) before allocating, when :func:`construction_bytes` exceeds
        ``memory_budget``; the message states the bytes needed.

    Examples
    --------
    >>> c = construct_single_hop(1000, 4, d=required_dimension(1000, 4), seed=0)
    >>> c.config.d_model, c.config.d_mlp, c.config.d_vocab
    (14, 16, 2004)
    >>> c.recall().accuracy
    1.0
    >>> construct_single_hop(1000, 4, d=13)
    Traceback (most recent call last):
    ...
    ValueError: the block layout with grid codes for N=1000, R=4 requires d >= 14, got d=13
    """
    n_subjects = require_int("n_subjects", n_subjects, minimum=1)
    n_relations = require_int("n_relations", n_relations, minimum=1)
    d = require_int("d", d, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    dtype = require_choice("dtype", dtype, DTYPES)
    layout, family = _layout_and_family(layout, codebook)
    if facts is not None:
        facts = require_facts("facts", facts, n_subjects, n_relations)
    shortest = code_length_for(n_subjects, n_relations, layout=layout, codebook=family)
    minimum = dimension_for(layout, n_relations, shortest)
    if d < minimum:
        raise ValueError(
            f"the {layout} layout with {family.name} codes for N={n_subjects}, R={n_relations} "
            f"requires d >= {minimum}, got d={d}"
        )
    needed = construction_bytes(
        n_subjects, n_relations, d, layout=layout, codebook=family, dtype=dtype
    )
    require_within_budget("this construction", needed, memory_budget)

    facts_stream, code_stream, read_stream = np.random.SeedSequence(seed).spawn(3)
    if facts is None:
        facts = random_facts(n_subjects, n_relations, np.random.default_rng(facts_stream))
    code_length = code_length_at(layout, n_relations, d)
    code_rng, read_rng = np.random.default_rng(code_stream), np.random.default_rng(read_stream)
    if isinstance(family, BCHCodes) and layout == "superposed":
        codebook_built = family.build(n_subjects, code_length, code_rng, n_relations=n_relations)
        assert codebook_built.trace_code is not None
        signs = codebook_built.trace_code.relation_signs(n_relations, code_length)
        read_maps = np.stack([np.diag(relation_signs) for relation_signs in signs])
    else:
        codebook_built = family.build(n_subjects, code_length, code_rng)
        read_maps = _read_maps(layout, n_relations, code_length, read_rng)
    return _assemble(facts, codebook_built, read_maps, layout, d, dtype, seed)


def _assemble(
    facts: Facts,
    codebook: Codebook,
    read_maps: FloatArray,
    layout: str,
    d: int,
    dtype: str,
    seed: int,
) -> SingleHopConstruction:
    """Write every weight of the construction (float64, then cast to ``dtype``)."""
    n_subjects, n_relations = facts.n_subjects, facts.n_relations
    subject_dim, code_length = read_maps.shape[1], read_maps.shape[2]
    residual = ResidualLayout(
        subject=slice(0, subject_dim),
        relation=slice(subject_dim, subject_dim + n_relations),
        output=slice(subject_dim + n_relations, subject_dim + n_relations + code_length),
        d_model=d,
    )
    vocab = Vocabulary(n_subjects, n_relations, n_attributes=n_subjects)
    config = _model_config(n_subjects, n_relations, d, subject_dim, code_length, dtype)
    # Weights are allocated in their final dtype: float64 values are rounded once, on assignment.
    W = {name: np.zeros(shape, dtype) for name, shape in config.weight_shapes().items()}
    subjects, relations = np.arange(n_subjects), np.arange(n_relations)
    relation_tokens = vocab.relation_offset + relations
    attribute_tokens = vocab.attribute_offset + np.arange(n_subjects)

    # Embedding: e_s = Σ_r B_r u_{π_r(s)}; relation r is one-hot.
    codes = codebook.codes
    W["embed.W_E"][subjects, residual.subject] = superpose(facts, codes, read_maps)
    W["embed.W_E"][relation_tokens, residual.relation.start + relations] = 1.0

    # Attention: uniform over [s, r]; copy the subject subspace at weight 2·(1/2) = 1.
    W["blocks.0.attn.W_V"][0, residual.subject] = np.eye(subject_dim)
    W["blocks.0.attn.W_O"][0, :, residual.subject] = 2.0 * np.eye(subject_dim)

    # Selector MLP: y = B_rᵀ e_s for the prompted relation r, into the output subspace.
    lifted_reads = np.zeros((n_relations, d, code_length))
    lifted_reads[:, residual.subject] = read_maps
    gates = np.zeros((n_relations, d))
    gates[relations, residual.relation.start + relations] = 1.0
    output_map = np.zeros((code_length, d))
    output_map[np.arange(code_length), residual.output.start + np.arange(code_length)] = 1.0
    gate_scale = _gate_scale(layout, codebook, n_relations)
    selector = selector_mlp(lifted_reads, gates, 1.0, output_map, gate_scale)
    W["blocks.0.mlp.W_in"], W["blocks.0.mlp.b_in"] = selector.W_in, selector.b_in
    W["blocks.0.mlp.W_out"], W["blocks.0.mlp.b_out"] = selector.W_out, selector.b_out

    # Unembedding: decode the output subspace; every other token sits below all attributes.
    attribute_bias = codebook.unembedding_bias()
    W["unembed.W_U"][residual.output, attribute_tokens[0] : attribute_tokens[-1] + 1] = codes.T
    W["unembed.b_U"][:] = _floor_bias(layout, codebook, n_relations, attribute_bias)
    W["unembed.b_U"][attribute_tokens] = attribute_bias

    weights = {}
    for name, array in W.items():
        cast = np.ascontiguousarray(array, dtype=dtype)
        cast.flags.writeable = False
        weights[name] = cast
    read_maps = read_maps.copy()
    read_maps.flags.writeable = False
    return SingleHopConstruction(
        config=config,
        weights=MappingProxyType(weights),
        facts=facts,
        codebook=codebook,
        read_maps=read_maps,
        layout=layout,
        residual_layout=residual,
        vocabulary=vocab,
        gate_scale=gate_scale,
        seed=seed,
    )


def single_hop_config(
    n_subjects: int,
    n_relations: int,
    d: int,
    *,
    layout: str = "block",
    codebook: str | CodebookFamily = "grid",
    dtype: str = "float64",
) -> TransformerConfig:
    """The config :func:`construct_single_hop` builds at ``d`` (nothing is built).

    Examples
    --------
    >>> single_hop_config(10_000, 8, 26).d_mlp   # 2·R·k selector units, k = 2
    32
    """
    layout, _ = _layout_and_family(layout, codebook)  # validates both
    code_length = max(1, code_length_at(layout, n_relations, d))
    subject_dim = n_relations * code_length if layout == "block" else code_length
    return _model_config(n_subjects, n_relations, d, subject_dim, code_length, dtype)


def _model_config(
    n_subjects: int, n_relations: int, d: int, subject_dim: int, code_length: int, dtype: str
) -> TransformerConfig:
    """One layer, one head copying the subject subspace, a ``2·R·k``-unit selector, 2 positions."""
    return TransformerConfig(
        d_model=d,
        n_layers=1,
        n_heads=1,
        d_head=subject_dim,
        d_mlp=2 * n_relations * code_length,
        d_vocab=Vocabulary(n_subjects, n_relations, n_attributes=n_subjects).d_vocab,
        n_ctx=2,
        dtype=dtype,
    )


def _layout_and_family(layout: object, codebook: object) -> tuple[str, CodebookFamily]:
    layout = require_choice("layout", layout, LAYOUTS)
    family = resolve_codebook(codebook)  # type: ignore[arg-type]
    if layout == "superposed" and not family.unit_norm:
        raise ValueError(
            f"codebook {family.name!r} cannot be used with the superposed layout: its crosstalk "
            "bound needs unit-norm codes (use 'gaussian' or 'rademacher')"
        )
    return layout, family


def dimension_for(layout: str, n_relations: int, code_length: int) -> int:
    """``d_model`` for code length k: ``(R+1)k + R`` (block) or ``2k + R`` (superposed).

    Examples
    --------
    >>> dimension_for("block", 8, 2), dimension_for("superposed", 4, 100)
    (26, 204)
    """
    if layout == "block":
        return (n_relations + 1) * code_length + n_relations
    return 2 * code_length + n_relations


def code_length_at(layout: str, n_relations: int, d: int) -> int:
    """The largest code length k whose dimension fits in d (the inverse of :func:`dimension_for`).

    Examples
    --------
    >>> code_length_at("block", 8, 26), code_length_at("block", 8, 34)
    (2, 2)
    >>> code_length_at("superposed", 4, 205)
    100
    """
    if layout == "block":
        return (d - n_relations) // (n_relations + 1)
    return (d - n_relations) // 2


def _read_maps(
    layout: str, n_relations: int, code_length: int, rng: np.random.Generator
) -> FloatArray:
    """``B_r`` for every relation, shape [R, d_s, k]."""
    if layout == "block":
        slots = np.zeros((n_relations, n_relations * code_length, code_length))
        for relation in range(n_relations):
            rows = slice(relation * code_length, (relation + 1) * code_length)
            slots[relation, rows] = np.eye(code_length)
        return slots
    return np.stack([_haar_orthogonal(code_length, rng) for _ in range(n_relations)])


def _haar_orthogonal(size: int, rng: np.random.Generator) -> FloatArray:
    """A Haar-random orthogonal matrix: QR of a Gaussian matrix, signs fixed by R's diagonal."""
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    orthogonal: FloatArray = q * np.sign(np.diag(r))
    return orthogonal


def _gate_scale(layout: str, codebook: Codebook, n_relations: int) -> float:
    """λ: a bound on every selected coordinate ``|(B_rᵀ e_s)_j|`` over every possible set of facts.

    Block: ``(B_rᵀ e_s)_j`` is a coordinate of some code, at most the family's coordinate bound.
    Superposed: ``|(B_rᵀ e_s)_j| <= ‖e_s‖ <= R·max‖u‖``.
    """
    if layout == "block":
        return codebook.coordinate_bound
    return n_relations * codebook.norm_bound


def _floor_bias(
    layout: str, codebook: Codebook, n_relations: int, attribute_bias: FloatArray
) -> float:
    """A bias for non-attribute tokens strictly below every attribute logit of every prompt.

    Every attribute logit is ``⟨u_a, y⟩ + b_U[a] >= -‖y‖·max‖u‖ + min b_U``, and ``‖y‖`` is at most
    ``max‖u‖`` (block) or ``R·max‖u‖`` (superposed).
    """
    output_norm = codebook.norm_bound * (1 if layout == "block" else n_relations)
    # An integer, so that integer constructions stay exactly representable (and exact in float).
    return float(math.floor(-output_norm * codebook.norm_bound + float(attribute_bias.min()) - 1.0))
