"""How a construction is asked: single-hop prompts and chains of thought, and recall over them.

:func:`~geoconstruct.verification.policy.sample_queries` is the one sampling rule (re-exported
here). :class:`SingleHopQueries` asks ``[s, r]`` for the attribute ``π_r(s)`` (single hop and the
baselines); :class:`ChainOfThoughtQueries` asks H-hop chains ``(x; r_1 … r_H)`` one forward pass per
``g`` hops, feeding each pass's argmax back as the next prompt's entity (multi-hop).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import (
    DEFAULT_MEMORY_BUDGET,
    NoResultError,
    require_choice,
    require_ids,
    require_int,
    require_within_budget,
)
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction, RecallOptions
from geoconstruct.model.vocabulary import Vocabulary
from geoconstruct.verification.certificate import (
    Certificate,
    PromptLayout,
    certificate_bytes,
    certify_single_hop,
)
from geoconstruct.verification.evaluation import (
    CHUNK_BYTES,
    bytes_per_prompt,
    plan_chunk_bytes,
    predict_tokens,
    predict_with_margins,
    require_backend,
    score_prompts,
)
from geoconstruct.verification.policy import certify_first, sample_queries
from geoconstruct.verification.report import ChainFailure, RecallReport, recall_report

__all__ = [
    "RECALL_METHODS",
    "ChainOfThoughtQueries",
    "SingleHopQueries",
    "prompt_tokens",
    "query_pairs",
    "sample_queries",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

RECALL_METHODS = ("exact", "certified")


def query_pairs(
    n_subjects: int, n_relations: int, queries: IntArray | None = None
) -> tuple[IntArray, IntArray]:
    """Subject and relation of single-hop queries ``q = r·N + s`` (default: all, in order).

    Parameters
    ----------
    queries : ndarray of int, optional
        Query ids ``q = r·N + s``; None means every query.

    Examples
    --------
    >>> [pair.tolist() for pair in query_pairs(2, 2)]
    [[0, 1, 0, 1], [0, 0, 1, 1]]
    """
    if queries is None:
        subjects = np.tile(np.arange(n_subjects, dtype=np.int64), n_relations)
        return subjects, np.repeat(np.arange(n_relations, dtype=np.int64), n_subjects)
    return queries % n_subjects, queries // n_subjects


def prompt_tokens(
    vocabulary: Vocabulary, subjects: npt.ArrayLike, relations: npt.ArrayLike
) -> IntArray:
    """The prompts ``[s, N + r]``: [n, 2] token ids.

    Parameters
    ----------
    vocabulary : Vocabulary
        Token ids of subjects, relations and attributes.
    subjects : array_like of int
        Subject ids, broadcast against ``relations``.
    relations : array_like of int
        Relation ids.
    """
    relation_tokens = np.asarray(relations) + vocabulary.relation_offset
    return np.stack([np.asarray(subjects), relation_tokens], axis=1).astype(np.int64)


@dataclass(frozen=True)
class SingleHopQueries:
    """Prompts ``[s, N + r]`` answered by the attribute token ``N + R + π_r(s)``.

    Query ``q = r·N + s``. The answer is read from the residual subspace ``output``;
    ``sign_read_maps`` asks the certificate to try the dual-BCH crosstalk bound;
    ``uncertifiable`` says why the certificate can prove nothing here, which the recipe knows
    before it runs (None where it may).
    """

    output: slice
    sign_read_maps: bool = False
    uncertifiable: str | None = None
    single_hop: bool = dataclasses.field(default=True, init=False)

    def total_queries(self, construction: Construction) -> int:
        """``N·R``: one query a fact."""
        return construction.facts.n_facts

    def prompts(
        self, construction: Construction, queries: IntArray | None = None
    ) -> tuple[IntArray, IntArray]:
        """Tokens ``[n, 2]`` and answer tokens ``[n]`` of ``queries`` (default: all, in order).

        Parameters
        ----------
        queries : ndarray of int, optional
            Query ids ``q = r·N + s``; None means every query.
        """
        facts = construction.facts
        subjects, relations = query_pairs(facts.n_subjects, facts.n_relations, queries)
        return self.tokens(construction, subjects, relations), self.answers(
            construction, subjects, relations
        )

    def tokens(
        self, construction: Construction, subjects: npt.ArrayLike, relations: npt.ArrayLike
    ) -> IntArray:
        """The prompts ``[s, N + r]`` of (subject, relation) pairs, broadcast.

        Parameters
        ----------
        subjects : array_like of int
            Subject ids: the length of ``relations``, one id, or a shape that broadcasts
            with it (``[N, 1]`` against ``[1, R]``: every pair).
        relations : array_like of int
            Relation ids.
        """
        return prompt_tokens(construction.vocabulary, subjects, relations)

    def answers(
        self, construction: Construction, subjects: npt.ArrayLike, relations: npt.ArrayLike
    ) -> IntArray:
        """The answer token of each (subject, relation) pair (no model involved).

        Parameters
        ----------
        subjects : array_like of int
            Subject ids: the length of ``relations``, one id, or a shape that broadcasts
            with it (``[N, 1]`` against ``[1, R]``: every pair).
        relations : array_like of int
            Relation ids.
        """
        attributes = construction.facts.answer(subjects, relations)
        return np.asarray(attributes + construction.vocabulary.attribute_offset, dtype=np.int64)

    def predict(
        self,
        construction: Construction,
        subjects: npt.ArrayLike,
        relations: npt.ArrayLike,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> IntArray:
        """The attribute the forward pass answers for each pair, -1 where it is no attribute.

        Parameters
        ----------
        subjects : array_like of int
            Subject ids: the length of ``relations``, one id, or a shape that broadcasts
            with it (``[N, 1]`` against ``[1, R]``: every pair).
        relations : array_like of int
            Relation ids.
        """
        facts = construction.facts
        subject_ids = require_ids("subjects", subjects, facts.n_subjects)
        relation_ids = require_ids("relations", relations, facts.n_relations)
        one_d = subject_ids.ndim == relation_ids.ndim == 1
        try:
            if one_d and subject_ids.shape != relation_ids.shape:
                raise ValueError  # two lists of different lengths: a mistake, not an outer grid
            subject_ids, relation_ids = np.broadcast_arrays(subject_ids, relation_ids)
        except ValueError:
            raise ValueError(
                "subjects and relations must have the same length (or one be a single id, or "
                f"their shapes broadcast as an outer grid), got {subject_ids.shape} and "
                f"{relation_ids.shape}"
            ) from None
        config = construction.config
        chunk_bytes = plan_chunk_bytes(config, subject_ids.size, memory_budget, "predict")
        tokens = self.tokens(construction, subject_ids.ravel(), relation_ids.ravel())
        predicted = predict_tokens(construction.weights, config, tokens, chunk_bytes=chunk_bytes)
        attributes = construction.vocabulary.attribute_of(predicted)
        return attributes.reshape(subject_ids.shape)

    def margins(
        self,
        construction: Construction,
        queries: IntArray | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> FloatArray:
        """Per query (default: all, ``q = r·N + s``): the answer's logit minus the best other
        logit of the forward pass; positive exactly where the fact is recalled.

        Parameters
        ----------
        queries : ndarray of int, optional
            Query ids ``q = r·N + s``; None means every query.
        """
        tokens, answers = self.prompts(construction, queries)
        config = construction.config
        chunk_bytes = plan_chunk_bytes(config, len(tokens), memory_budget, "margins")
        _, margins = predict_with_margins(
            construction.weights, config, tokens, answers, chunk_bytes=chunk_bytes
        )
        return margins

    def prompt_layout(self, construction: Construction) -> PromptLayout:
        """Where the tokens and the output subspace are: the claims the certificate checks."""
        vocabulary = construction.vocabulary
        return PromptLayout(
            n_subjects=vocabulary.n_subjects,
            n_relations=vocabulary.n_relations,
            relation_offset=vocabulary.relation_offset,
            attribute_offset=vocabulary.attribute_offset,
            n_attributes=vocabulary.n_attributes,
            output=self.output,
            sign_read_maps=self.sign_read_maps,
        )

    def certify(self, construction: Construction, memory_budget: int) -> Certificate:
        """Margin bounds fact by fact from the weights (``proofs/certified_recall.md``)."""
        codebook = construction.codebook
        layout = self.prompt_layout(construction)
        random_codes = resolve_codebook(codebook.family).random  # the family says, not flags
        needed = certificate_bytes(construction.config, layout, random_codes=random_codes)
        require_within_budget("this certificate", needed, memory_budget)
        return certify_single_hop(
            construction.weights, construction.config, layout, construction.facts, codebook
        )

    def recall(
        self,
        construction: Construction,
        options: RecallOptions,
    ) -> RecallReport:
        """Every query (or a seeded sample) through the forward pass, or the certificate first.

        Parameters
        ----------
        options : RecallOptions
            The options of :meth:`Construction.recall`.
        """
        method = require_choice("method", options.method, RECALL_METHODS)
        require_backend(options.backend, options.device)  # before the certificate's work
        total = self.total_queries(construction)
        asked = sample_queries(total, options.sample, options.seed)
        queries, certified_count, certified_margin, reason = asked, 0, np.inf, None
        if method == "certified":
            opened = certify_first(construction, asked, memory_budget=options.memory_budget)
            queries, certified_count = opened.queries, opened.n_certified
            certified_margin, reason = opened.certified_margin, opened.reason
            n_open = total if queries is None else queries.size
            if options.max_fallback is not None and n_open > options.max_fallback:
                raise NoResultError(
                    f"the certificate leaves {n_open:,} queries to the forward pass, "
                    f"more than max_fallback={options.max_fallback:,} ({reason or 'some open'})"
                )
        n_checked = total if queries is None else queries.size
        chunk_bytes = plan_chunk_bytes(construction.config, n_checked, options.memory_budget)
        tokens, answers = self.prompts(construction, queries)
        scores = score_prompts(
            construction.weights,
            construction.config,
            tokens,
            answers,
            chunk_bytes=chunk_bytes,
            max_failures=options.max_failures,
            progress=options.progress,
            executor=options.executor,
            backend=options.backend,
            device=options.device,
            groups=tokens[:, 1] - construction.vocabulary.relation_offset,
            n_groups=construction.facts.n_relations,
        )
        return recall_report(
            scores,
            tokens,
            answers,
            construction.vocabulary,
            n_facts=construction.facts.n_facts,
            n_queries=total if asked is None else int(asked.size),
            total_queries=total,
            sampled=asked is not None,
            certified_count=certified_count,
            certified_margin=certified_margin,
            method=method,
            n_fallback=n_checked if method == "certified" else 0,
            certificate_reason=reason,
            max_failures=options.max_failures,
        )


@dataclass(frozen=True)
class ChainOfThoughtQueries:
    """H-hop queries ``(x; r_1 … r_H)``, answered ``g`` hops a forward pass.

    Pass j runs ``[r_{jg+1}, …, r_{jg+g}, y_j]`` (relation tokens ``N + r``, padded with the
    padding relation ``∅``, token ``N + R``, after the last relation), decodes the next entity
    ``y_{j+1}`` by argmax over the whole vocabulary and feeds it back. Query ``q`` is entity
    ``q mod N`` and chain number ``q div N`` written in base R, ``r_1`` first.
    """

    hops: int
    hops_per_pass: int
    single_hop: bool = dataclasses.field(default=False, init=False)
    uncertifiable: str | None = (
        "the certificate covers single-hop prompts; chains of thought are checked by the "
        "forward pass"
    )

    @property
    def n_passes(self) -> int:
        """Forward passes per query: ``⌈H/g⌉``."""
        return -(-self.hops // self.hops_per_pass)

    def total_queries(self, construction: Construction) -> int:
        """``N·R^H``: every entity under every chain of H relations."""
        return int(construction.facts.n_subjects * construction.facts.n_relations**self.hops)

    def queries(
        self, construction: Construction, ids: IntArray | None = None
    ) -> tuple[IntArray, IntArray]:
        """Entities ``[Q]`` and chains ``[Q, H]`` of query ids (default: all, entity fastest).

        Parameters
        ----------
        ids : ndarray of int, optional
            Query ids; None means every query.
        """
        n, n_relations = construction.facts.n_subjects, construction.facts.n_relations
        if ids is None:
            ids = np.arange(self.total_queries(construction), dtype=np.int64)
        chain_numbers = ids // n
        powers = n_relations ** np.arange(self.hops - 1, -1, -1, dtype=np.int64)
        chains = (chain_numbers[:, None] // powers[None, :]) % n_relations
        return (ids % n).astype(np.int64), chains.astype(np.int64)

    def answers(
        self, construction: Construction, entities: npt.ArrayLike, chains: npt.ArrayLike
    ) -> IntArray:
        """The true answer entity of each query (no model involved).

        Parameters
        ----------
        entities : array_like of int
            Entity ids, broadcast against ``chains``.
        chains : array_like of int, shape [..., H]
            Relation ids, first hop first.
        """
        return construction.facts.follow(entities, chains)

    def run(
        self,
        construction: Construction,
        entities: npt.ArrayLike,
        chains: npt.ArrayLike,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        backend: str = "numpy",
        device: str = "cpu",
    ) -> tuple[IntArray, FloatArray]:
        """Run the chain-of-thought loop: the token each pass predicts, and its margin.

        Returns ``predicted`` [Q, passes] (pass j's prompt ends with pass j-1's prediction) and
        ``margins`` [Q, passes]: the right entity's logit minus the best other logit, where
        "right" is what the pass should answer for the entity token it was given.

        Parameters
        ----------
        entities : array_like of int
            Entity ids, broadcast against ``chains``.
        chains : array_like of int, shape [..., H]
            Relation ids, first hop first.
        """
        facts = construction.facts
        n, n_relations = facts.n_subjects, facts.n_relations
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
        config = construction.config
        chunk_bytes = min(CHUNK_BYTES, max(memory_budget - needed, bytes_per_prompt(config)))

        predicted = np.zeros((starts.size, passes), np.int64)
        margins = np.zeros((starts.size, passes), np.float64)
        current = starts
        for step in range(passes):
            group = padded[:, step * g : (step + 1) * g]
            tokens = np.concatenate([group + n, current[:, None]], axis=1)
            # Many queries share a prompt: run each distinct prompt once.
            unique_tokens, inverse = np.unique(tokens, axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            expected = self._pass_answers(construction, unique_tokens)
            tokens_out, margins_out = predict_with_margins(
                construction.weights,
                config,
                unique_tokens,
                expected,
                chunk_bytes=chunk_bytes,
                backend=backend,
                device=device,
            )
            predicted[:, step], margins[:, step] = tokens_out[inverse], margins_out[inverse]
            current = predicted[:, step]
        return predicted, margins

    def certify(self, construction: Construction, memory_budget: int) -> Certificate:
        """Refused: the certificate covers single-hop prompts."""
        raise ValueError(
            "the certificate covers single-hop prompts; chains of thought are checked by the "
            "forward pass"
        )

    def recall(
        self,
        construction: Construction,
        options: RecallOptions,
    ) -> RecallReport:
        """Check queries through the loop, every pass against the true entity.

        Parameters
        ----------
        options : object
            The options of :meth:`Construction.recall`.
        """
        method = require_choice("method", options.method, RECALL_METHODS)
        if options.executor is not None:
            raise ValueError("an executor runs the single-hop exact pass; chains run in process")
        max_failures = require_int("max_failures", options.max_failures, minimum=0)
        require_backend(options.backend, options.device)
        total = self.total_queries(construction)
        ids = sample_queries(total, options.sample, options.seed)
        entities, chains = self.queries(construction, ids)
        predicted, margins = self.run(
            construction,
            entities,
            chains,
            options.memory_budget,
            options.backend,
            options.device,
        )
        if options.progress is not None:
            options.progress(int(entities.size))

        g, facts = self.hops_per_pass, construction.facts
        truth = np.stack(
            [
                facts.follow(entities, chains[:, : min((step + 1) * g, self.hops)])
                for step in range(self.n_passes)
            ],
            axis=1,
        )
        right = predicted == truth
        all_right = right.all(axis=1)
        failures = tuple(
            ChainFailure(
                entity=int(entities[q]),
                chain=tuple(int(r) for r in chains[q]),
                expected=int(truth[q, -1]),
                predicted=int(predicted[q, -1]),
                first_wrong_pass=int(np.argmin(right[q])),
            )
            for q in np.flatnonzero(~all_right)[:max_failures]
        )
        return RecallReport(
            n_queries=int(entities.size),
            n_correct=int(all_right.sum()),
            n_facts=facts.n_facts,
            min_margin=float(margins.min()),
            failures=failures,
            sampled=ids is not None,
            total_queries=total,
            pass_correct=tuple(int(count) for count in right.sum(axis=0)),
            method=method,
            n_fallback=int(entities.size) if method == "certified" else 0,
            certificate_reason=self.uncertifiable if method == "certified" else None,
        )

    def _pass_answers(self, construction: Construction, tokens: IntArray) -> IntArray:
        """The entity a pass should answer for each prompt, or -1 if its last token is no entity.

        A wrong earlier pass may feed a relation token back; that prompt has no right answer, and
        its margin is taken against entity 0 (the query is counted wrong either way).
        """
        n = construction.facts.n_subjects
        is_entity = tokens[:, -1] < n
        answers = construction.facts.follow(
            np.where(is_entity, tokens[:, -1], 0), tokens[:, :-1] - n
        )
        result: IntArray = np.where(is_entity, answers, 0)
        return result
