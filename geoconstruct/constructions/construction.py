"""``Construction``: the one assembled-model type that every recipe fills and everything takes.

A recipe (single hop, multi-hop, a baseline) validates its sizes, draws the facts, codes and read
maps from the seed, and assembles the weights; the result is a :class:`Construction`. Recall,
the certificate, files, the TransformerLens export, probes, transfer and the tables take a
``Construction`` and read only its common fields, so none of them needs to know which recipe
built it. What differs between kinds lives in two objects the recipe chooses:

``queries``
    How the construction is asked: single-hop prompts ``[s, r]``
    (:class:`~geoconstruct.constructions.queries.SingleHopQueries`) or chains of thought
    (:class:`~geoconstruct.constructions.queries.ChainOfThoughtQueries`).
``metadata``
    The recipe's own record (read maps, gate scale, the attention's leakage bound …), a frozen
    dataclass that can write itself to a file manifest and read itself back.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Protocol, cast

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_ids
from geoconstruct.codes.protocol import Codebook
from geoconstruct.facts import Facts
from geoconstruct.model.assembly import ResidualMap, with_subject_rows
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.model.vocabulary import Vocabulary
from geoconstruct.verification.certificate import Certificate
from geoconstruct.verification.evaluation import ProgressCallback
from geoconstruct.verification.report import RecallReport

__all__ = [
    "Construction",
    "Guarantee",
    "Metadata",
    "ParameterCount",
    "QueryFormat",
    "RecallOptions",
]

Arrays = dict[str, npt.NDArray[Any]]


class Metadata(Protocol):
    """A recipe's record of how it built a construction, as it goes into a file."""

    def to_manifest(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-ready fields and named arrays."""
        ...


@dataclass(frozen=True)
class RecallOptions:
    """What :meth:`Construction.recall <geoconstruct.Construction.recall>` was asked for."""

    method: str = "exact"
    sample: int | None = None
    seed: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    max_failures: int = 10
    progress: ProgressCallback | None = None
    max_fallback: int | None = None
    executor: Executor | None = None
    backend: str = "numpy"
    device: str = "cpu"


class QueryFormat(Protocol):
    """How a construction is asked: the queries, their prompts, and recall over them."""

    def total_queries(self, construction: Construction) -> int:
        """How many queries there are (``N·R`` single-hop, ``N·R^H`` chains)."""
        ...

    @property
    def single_hop(self) -> bool:
        """Whether queries are single-hop prompts ``[s, r]`` (prompts, predict, margins)."""
        ...

    def recall(self, construction: Construction, options: RecallOptions) -> RecallReport:
        """Every query (or a seeded sample) through the forward pass.

        Parameters
        ----------
        options : RecallOptions
            The options of :meth:`Construction.recall`.
        """
        ...

    @property
    def uncertifiable(self) -> str | None:
        """Why the certificate can prove no query (None where it may)."""
        ...

    def certify(self, construction: Construction, memory_budget: int) -> Certificate:
        """Margin bounds fact by fact, from the weights, without the argmax."""
        ...


class SingleHopFormat(QueryFormat, Protocol):
    """A query format of single-hop prompts ``[s, r]`` (``single_hop`` is True)."""

    def prompts(
        self, construction: Construction, queries: npt.NDArray[np.int64] | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """See :meth:`Construction.prompts`."""
        ...

    def predict(
        self,
        construction: Construction,
        subjects: npt.ArrayLike,
        relations: npt.ArrayLike,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> npt.NDArray[np.int64]:
        """See :meth:`Construction.predict`."""
        ...

    def margins(
        self,
        construction: Construction,
        queries: npt.NDArray[np.int64] | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> npt.NDArray[np.float64]:
        """See :meth:`Construction.margins`."""
        ...


@dataclass(frozen=True)
class Guarantee:
    """What is proved about a construction at its dimension.

    ``scope`` is ``"every_draw"`` (every fact, whatever the seed), ``"with_probability"`` (every
    fact with probability at least ``1 − failure_probability`` over the draw of the codes and the
    read maps, for facts drawn independently of them, in exact arithmetic with a margin for
    rounding: the superposed layout), or ``"none"`` (below the proved dimension:
    recall is measured, not promised). ``statement`` says it in words, with the proof's file.

    Examples
    --------
    >>> Guarantee("none", None, "measured only").proved
    False
    """

    scope: str
    failure_probability: float | None
    statement: str

    @property
    def proved(self) -> bool:
        return self.scope != "none"


EVERY_DRAW_EXACT = Guarantee(
    "every_draw", None, "every fact, for every draw (proofs/multi_hop.md, proofs/baselines.md)"
)


@dataclass(frozen=True)
class ParameterCount:
    """Parameters by component; ``fact_dependent`` are the ones that hold the facts.

    ``fact_dependent`` counts the only numbers that change when the facts change: the subject
    rows on the subject subspace, ``N·d_s``, for the geometric constructions; the MLP weights
    that hold the facts for the associative memories (their values, or their memory matrices).
    Everything else is ``generic``.
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


if TYPE_CHECKING:  # a type parameter with a default (PEP 696): a bare Construction is any kind
    from typing_extensions import TypeVar

    M = TypeVar("M", default=Any)
else:
    from typing import TypeVar

    M = TypeVar("M")


@dataclass(frozen=True, eq=False)
class Construction(Generic[M]):
    """A built model of any kind: its weights, what it stores, and how it stores it.

    ``Construction[SingleHopMetadata]`` is what :func:`~geoconstruct.construct_single_hop`
    returns; each recipe types its own metadata, and a bare ``Construction`` takes any kind.

    The guarantee follows the weights: a construction records, when it is made, which facts and
    which weight arrays its guarantee is about (weak references, nothing is copied). Swapping
    either by any other route (``dataclasses.replace``) leaves the record behind, and
    :attr:`guarantee` then says ``"none"``. :meth:`with_weights`, :meth:`with_facts` and
    :meth:`with_subject_embeddings` restate it, or drop it and say why.

    Attributes
    ----------
    kind : str
        The recipe: ``"single_hop"``, ``"multi_hop"``, ``"key_value"`` or ``"outer_product"``.
    config : TransformerConfig
    weights : mapping of str to ndarray
        TransformerLens names and shapes; a read-only mapping of read-only arrays.
    facts : Facts
        The R bijections over N subjects it stores.
    codebook : Codebook
        The codes the unembedding decodes.
    residual : ResidualMap
        The named subspaces of the residual stream (``subject``, ``relation``, ``output``, …).
    vocabulary : Vocabulary
        Token-id ranges.
    queries : QueryFormat
        How it is asked (single-hop prompts or chains of thought).
    metadata : Metadata
        The recipe's own record (see the recipe's module).
    seed : int
    restated_guarantee : Guarantee or None
        Set by a ``with_…`` method when the weights or the facts were changed: what is proved
        about the new ones (None: the recipe's guarantee stands).
    fact_dependent_parameters : int or None
        The weights that hold the facts, where the recipe says (a memory's MLP); None: the
        subject rows on the subject subspace, ``N·d_s``.
    """

    kind: str
    config: TransformerConfig
    weights: Weights
    facts: Facts
    codebook: Codebook
    residual: ResidualMap
    vocabulary: Vocabulary
    queries: QueryFormat
    metadata: M
    seed: int
    restated_guarantee: Guarantee | None = None
    fact_dependent_parameters: int | None = None
    proof_of: tuple[weakref.ref[Any], ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.proof_of is None:  # made by a recipe or a with_… method: the guarantee is of these
            object.__setattr__(self, "proof_of", self._identity())

    def _identity(self) -> tuple[weakref.ref[Any], ...]:
        return tuple(weakref.ref(part) for part in (self.facts, *self.weights.values()))

    def _proof_stands(self) -> bool:
        """Whether the facts and the weight arrays are the ones the guarantee is about."""
        record = self.proof_of or ()
        now = (self.facts, *self.weights.values())
        return len(record) == len(now) and all(
            ref() is part for ref, part in zip(record, now, strict=True)
        )

    def __repr__(self) -> str:
        """One line: kind, sizes, layout, codebook and guarantee (the arrays are left out).

        Examples
        --------
        >>> from geoconstruct import construct_single_hop
        >>> construct_single_hop(100, 2, 40, seed=3)
        Construction(kind='single_hop', N=100, R=2, d=40, layout='superposed', codebook='gaussian', k=38, seed=3, guarantee='none')
        """  # noqa: E501
        layout = getattr(getattr(self.metadata, "layout", None), "name", None)
        fields = [
            f"kind={self.kind!r}",
            f"N={self.facts.n_subjects}",
            f"R={self.facts.n_relations}",
            f"d={self.config.d_model}",
            *([f"layout={layout!r}"] if layout is not None else []),
            f"codebook={self.codebook.family!r}",
            f"k={self.codebook.code_length}",
            f"seed={self.seed}",
            f"guarantee={self.guarantee.scope!r}",
        ]
        return f"Construction({', '.join(fields)})"

    @property
    def subject_embeddings(self) -> npt.NDArray[Any]:
        """The subject rows of ``W_E`` on the subject subspace, [N, d_s] (a read-only view)."""
        return self.weights["embed.W_E"][: self.facts.n_subjects, self.residual["subject"]]

    @property
    def parameter_count(self) -> ParameterCount:
        sizes = {name: array.size for name, array in self.weights.items()}
        return ParameterCount(
            embedding=sizes["embed.W_E"],
            positional=sizes["pos_embed.W_pos"],
            attention=sum(size for name, size in sizes.items() if ".attn." in name),
            mlp=sum(size for name, size in sizes.items() if ".mlp." in name),
            unembedding=sizes["unembed.W_U"] + sizes["unembed.b_U"],
            fact_dependent=(
                self.subject_embeddings.size
                if self.fact_dependent_parameters is None
                else self.fact_dependent_parameters
            ),
        )

    @property
    def guarantee(self) -> Guarantee:
        """What is proved at this dimension (see :class:`Guarantee`): ``"none"`` once the facts
        or the weights were swapped other than by a ``with_…`` method."""
        if not self._proof_stands():
            return Guarantee(
                "none",
                None,
                "none: the facts or the weights were swapped after the proof, not by a with_… "
                "method; recall is measured, not promised",
            )
        if self.restated_guarantee is not None:
            return self.restated_guarantee
        guarantee: Guarantee = getattr(self.metadata, "guarantee", EVERY_DRAW_EXACT)
        return guarantee

    def with_subject_embeddings(
        self, subject_embeddings: npt.ArrayLike, *, change: str
    ) -> Construction[M]:
        """This construction with its fact-dependent rows (``W_E`` on the subject subspace)
        replaced, and its guarantee restated.

        Every other array is the same object. The guarantee stands only where the new rows equal
        the old ones bit for bit; otherwise no proof covers the new weights and the guarantee
        becomes ``"none"``, saying what changed them.

        Parameters
        ----------
        subject_embeddings : array_like, shape [N, d_s]
        change : str
            What rewrote them, for the restated guarantee (``"rounding to int2"``).

        Examples
        --------
        >>> from geoconstruct import construct_single_hop, proven_dimension
        >>> c = construct_single_hop(100, 2, proven_dimension(100, 2))
        >>> c.with_subject_embeddings(c.subject_embeddings, change="a copy").guarantee.scope
        'with_probability'
        >>> c.with_subject_embeddings(c.subject_embeddings * 0.5, change="halving").guarantee
        Guarantee(scope='none', failure_probability=None, statement='none: halving rewrote the subject embeddings after the proof; recall is measured, not promised')
        """  # noqa: E501
        table = np.asarray(subject_embeddings, dtype=self.config.dtype)
        if table.shape != self.subject_embeddings.shape:
            raise ValueError(
                f"subject_embeddings must have shape {self.subject_embeddings.shape}, "
                f"got {table.shape}"
            )
        weights = with_subject_rows(
            self.weights, self.facts.n_subjects, self.residual["subject"], table
        )
        restated = self.restated_guarantee
        if not np.array_equal(table, self.subject_embeddings):
            restated = Guarantee(
                "none",
                None,
                f"none: {change} rewrote the subject embeddings after the proof; recall is "
                "measured, not promised",
            )
        return dataclasses.replace(
            self, weights=MappingProxyType(weights), restated_guarantee=restated, proof_of=None
        )

    def with_weights(
        self,
        weights: Mapping[str, npt.ArrayLike],
        *,
        change: str,
        facts: Facts | None = None,
        restated: Guarantee | None = None,
    ) -> Construction[M]:
        """This construction with its weights (and, with ``facts``, what it stores) replaced.

        No proof covers weights the recipe did not write, so the guarantee becomes ``"none"``,
        saying ``change``, unless every array is bit for bit the old one and the facts are
        unchanged (it stands), or ``restated`` gives what is proved about the new weights (a
        caller that rewrote them by the recipe's own rule, as ``reinitialize`` does).

        Parameters
        ----------
        change : str
            What replaced them, for the restated guarantee.
        restated : Guarantee, optional
            What is proved about the new weights, where the caller knows.

        Examples
        --------
        >>> from geoconstruct import construct_single_hop
        >>> c = construct_single_hop(100, 2, seed=0)
        >>> c.with_weights(c.weights, change="a copy").guarantee.scope
        'with_probability'
        >>> scaled = {name: 2 * array for name, array in c.weights.items()}
        >>> c.with_weights(scaled, change="doubling").guarantee.statement
        'none: doubling replaced the weights after the proof; recall is measured, not promised'
        """
        shapes = self.config.weight_shapes()
        if set(weights) != set(shapes):
            raise ValueError(f"weights must hold exactly {sorted(shapes)}")
        arrays = {}
        for name, shape in shapes.items():
            array = weights[name]
            if array is not self.weights[name]:  # an old array stays the same object
                array = np.array(array, dtype=self.config.dtype)  # a read-only copy
                if array.shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
                array.flags.writeable = False
            arrays[name] = array
        new_facts = self.facts if facts is None else facts
        same = new_facts is self.facts and all(
            np.array_equal(arrays[name], self.weights[name]) for name in shapes
        )
        if restated is None and not same:
            restated = Guarantee(
                "none",
                None,
                f"none: {change} replaced the weights after the proof; recall is measured, not "
                "promised",
            )
        return dataclasses.replace(
            self,
            weights=MappingProxyType(arrays),
            facts=new_facts,
            restated_guarantee=restated if not same else self.restated_guarantee,
            proof_of=None,
        )

    def with_facts(self, facts: Facts, *, change: str) -> Construction[M]:
        """The same weights, asked about other ``facts`` (a stale model: nothing is proved).

        Parameters
        ----------
        change : str
            Why, for the restated guarantee.

        Examples
        --------
        >>> from geoconstruct import construct_single_hop, random_facts
        >>> c = construct_single_hop(100, 2, seed=0)
        >>> c.with_facts(random_facts(100, 2, seed=5), change="new facts").guarantee.scope
        'none'
        """
        restated = Guarantee(
            "none",
            None,
            f"none: {change}; the weights were not built for these facts, recall is measured",
        )
        return dataclasses.replace(self, facts=facts, restated_guarantee=restated, proof_of=None)

    @property
    def total_queries(self) -> int:
        """The queries there are: ``N·R`` single-hop prompts, ``N·R^H`` chains."""
        return self.queries.total_queries(self)

    def prompts(
        self, queries: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Tokens ``[n, 2]`` (``[s, N + r]``) and answer tokens ``[n]`` of single-hop queries.

        Query ids number the facts ``q = r·N + s`` (every method here uses this one id space);
        the default is every query, in that order.

        Parameters
        ----------
        queries : array_like of int, optional
            Query ids ``q = r·N + s``; None means every query, in that order.

        Examples
        --------
        >>> from geoconstruct import construct_single_hop
        >>> c = construct_single_hop(10, 2, 6, layout="block", codebook="grid")
        >>> tokens, answers = c.prompts([0, 10])   # subject 0 under relations 0 and 1
        >>> tokens.tolist(), bool(answers.min() >= 12)
        ([[0, 10], [0, 11]], True)
        """
        ids = None if queries is None else require_ids("queries", queries, self.total_queries)
        return self._single_hop("prompts").prompts(self, ids)

    def predict(
        self,
        subjects: npt.ArrayLike,
        relations: npt.ArrayLike,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> npt.NDArray[np.int64]:
        """The attribute the forward pass answers for each (subject, relation) pair, broadcast;
        -1 where the argmax is not an attribute token.

        Parameters
        ----------
        subjects : array_like of int
            Subject ids: the length of ``relations``, one id, or a shape that broadcasts
            with it (``[N, 1]`` against ``[1, R]``: every pair).
        relations : array_like of int
            Relation ids.

        Examples
        --------
        >>> from geoconstruct import construct_single_hop
        >>> c = construct_single_hop(10, 2, 6, layout="block", codebook="grid")
        >>> bool((c.predict([0, 1, 2], 1) == c.facts.answer([0, 1, 2], 1)).all())
        True
        """
        return self._single_hop("predict").predict(self, subjects, relations, memory_budget)

    def margins(
        self,
        queries: npt.ArrayLike | None = None,
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> npt.NDArray[np.float64]:
        """Per query (ids as in :meth:`prompts`): the answer's logit minus the best other logit of
        the forward pass, positive exactly where the fact is recalled.

        Parameters
        ----------
        queries : array_like of int, optional
            Query ids ``q = r·N + s``; None means every query, in that order.

        Examples
        --------
        >>> from geoconstruct import construct_single_hop
        >>> c = construct_single_hop(10, 2, 6, layout="block", codebook="grid")
        >>> float(c.margins().min())   # grid codes: every margin is at least 1/2
        0.5
        """
        ids = None if queries is None else require_ids("queries", queries, self.total_queries)
        return self._single_hop("margins").margins(self, ids, memory_budget)

    def _single_hop(self, method: str) -> SingleHopFormat:
        if not self.queries.single_hop:
            raise ValueError(
                f"{method}() asks single-hop questions; this {self.kind} construction answers "
                "chains: use construction.recall() or construction.queries.run(...)"
            )
        return cast(SingleHopFormat, self.queries)

    def recall(
        self,
        *,
        method: str = "exact",
        sample: int | None = None,
        seed: int = 0,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        max_failures: int = 10,
        progress: ProgressCallback | None = None,
        max_fallback: int | None = None,
        executor: Executor | None = None,
        backend: str = "numpy",
        device: str = "cpu",
    ) -> RecallReport:
        """Report what the forward pass recalls, over every query or a seeded sample.

        Parameters
        ----------
        method : {"exact", "certified"}
            ``"exact"`` runs the forward pass on every query checked. ``"certified"`` (single-hop
            prompts) proves recall with :meth:`certify` in ``O(N·R·k)`` work and runs the forward
            pass only on the queries the certificate leaves open (``n_fallback``). Both report
            the same number of correct queries.
        sample : int, optional
            Check a uniform sample of this many distinct queries drawn from ``seed`` instead of
            every query.
        max_failures : int
            How many failures to list in the report.
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
        ValueError
            On an unknown method or backend, a bad sample size, ``"certified"`` for chains of
            thought, or ``device="cuda"`` where torch sees no GPU.
        RuntimeError
            When the certificate leaves more than ``max_fallback`` queries open.
        """
        options = RecallOptions(
            method,
            sample,
            seed,
            memory_budget,
            max_failures,
            progress,
            max_fallback,
            executor,
            backend,
            device,
        )
        return self.queries.recall(self, options)

    @property
    def uncertifiable(self) -> str | None:
        """Why :meth:`certify` can prove no query of this construction, known before it runs
        (random superposed codes, chains of thought, the baselines); None where it may."""
        return self.queries.uncertifiable

    def certify(self, *, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Certificate:
        """Prove query by query, without the argmax over the vocabulary, what the model recalls.

        See :mod:`~geoconstruct.verification.certificate`; ``recall(method="certified")`` builds
        on it. Single-hop prompts only.

        Raises
        ------
        MemoryBudgetError
            (a ``MemoryError``) before allocating, if the certificate's arrays exceed the budget.
        ValueError
            For chains of thought, which the certificate does not cover.
        """
        return self.queries.certify(self, memory_budget)
