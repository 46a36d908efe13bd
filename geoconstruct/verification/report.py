"""A recall report: what the forward pass recalled, mapped back to facts.

:class:`PromptScores` is what :func:`~geoconstruct.verification.evaluation.score_prompts`
returns for a batch of prompts; :func:`recall_report` turns the scores of single-hop prompts into
a :class:`RecallReport` (failures as subject, relation and attribute ids, spread over the
relations, and each relation's accuracy); :func:`accuracy_interval` is the exact interval a
sampled report carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import require_int
from geoconstruct.model.vocabulary import Vocabulary

__all__ = [
    "ChainFailure",
    "Failure",
    "PromptScores",
    "RecallReport",
    "accuracy_interval",
    "rank_in_group",
    "recall_report",
]


class Failure(NamedTuple):
    """One query the forward pass got wrong: attribute ids, not token ids.

    ``predicted`` is -1 when the model's argmax is not an attribute token at all.
    """

    subject: int
    relation: int
    expected: int
    predicted: int


class ChainFailure(NamedTuple):
    """One multi-hop query answered wrongly: the entity, the chain, where the loop went wrong."""

    entity: int
    chain: tuple[int, ...]
    expected: int
    predicted: int
    first_wrong_pass: int


@dataclass(frozen=True)
class RecallReport:
    """What the forward pass recalled, for a construction of any kind.

    Attributes
    ----------
    n_queries : int
        Queries checked (all of them, or the sample).
    n_correct : int
        Queries whose argmax over the whole vocabulary is the expected token (for chains of
        thought: at every pass).
    n_facts : int
        Facts the construction stores (``N·R``).
    min_margin : float
        Smallest (expected logit - best other logit) over all queries checked; positive iff every
        one is answered with a strict margin.
    failures : tuple of Failure or ChainFailure
        At most the ``max_failures`` asked for: for single-hop prompts, spread over the relations
        (the first failure of each relation, then the second of each, …); for chains, the first
        in query order.
    method : {"exact", "certified"}
        ``"exact"``: every query ran through the forward pass. ``"certified"``: queries were
        proved correct by the certificate, and the rest (``n_fallback``) ran through the forward
        pass; ``min_margin`` is then a lower bound.
    n_fallback : int
        Queries the certificate left to the forward pass (0 for ``"exact"``).
    sampled : bool
        Whether the queries checked are a seeded uniform sample.
    total_queries : int
        The queries there are (``N·R``, or ``N·R^H`` for H-hop chains).
    pass_correct : tuple of int
        For chains of thought, the queries whose entity after each pass was right.
    certificate_reason : str or None
        With ``"certified"``: why the certificate proved nothing, when it did not (None when it
        proved queries, or was not asked); where the construction says it can prove none, the
        certificate did not run.
    relation_accuracy : tuple of float
        For single-hop prompts that all went through the forward pass (exact or sampled), the
        share of each relation's checked queries answered (NaN for a relation the sample missed);
        empty otherwise.
    """

    n_queries: int
    n_correct: int
    n_facts: int
    min_margin: float
    failures: tuple[Failure | ChainFailure, ...]
    method: str = "exact"
    n_fallback: int = 0
    sampled: bool = False
    total_queries: int = 0
    pass_correct: tuple[int, ...] = ()
    certificate_reason: str | None = None
    relation_accuracy: tuple[float, ...] = ()

    @property
    def n_certified(self) -> int:
        """Queries the certificate proved (0 unless ``method == "certified"``)."""
        return self.n_queries - self.n_fallback if self.method == "certified" else 0

    @property
    def basis(self) -> str:
        """What stands behind the report (the policy's ``BASES``): ``"sampled"``,
        ``"certified"`` (some queries proved, the rest through the forward pass) or
        ``"every_fact"``."""
        if self.sampled:
            return "sampled"
        return "certified" if self.n_certified else "every_fact"

    @property
    def accuracy(self) -> float:
        """``n_correct / n_queries``."""
        return self.n_correct / self.n_queries

    @property
    def all_correct(self) -> bool:
        return self.n_correct == self.n_queries

    @property
    def accuracy_interval(self) -> tuple[float, float]:
        """A 95 % confidence interval for the accuracy over all ``total_queries``.

        Exact for a sample drawn uniformly without replacement (:func:`accuracy_interval`);
        the accuracy itself, twice, when every query was checked."""
        return self.interval(0.95)

    def interval(self, confidence: float) -> tuple[float, float]:
        """:attr:`accuracy_interval` at another confidence level.

        Parameters
        ----------
        confidence : float
            The interval's confidence, in (0, 1).
        """
        if not self.sampled:
            return self.accuracy, self.accuracy
        return accuracy_interval(self.n_correct, self.n_queries, self.total_queries, confidence)


def accuracy_interval(
    n_correct: int, n_sampled: int, population: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Exact equal-tailed interval for the share of correct queries in a finite population.

    ``n_sampled`` queries drawn uniformly without replacement from ``population``, of which
    ``n_correct`` were right: the number of right queries K in the population is bracketed by
    ``K_low = min{K : P(X >= n_correct | K) > α/2}`` and
    ``K_high = max{K : P(X <= n_correct | K) > α/2}``, X hypergeometric (the Clopper–Pearson
    construction for sampling without replacement; ``proofs/sampled_recall.md``). Returns
    ``(K_low / population, K_high / population)``.

    Parameters
    ----------
    n_correct : int
        Queries recalled.
    n_sampled : int
        Queries drawn.
    population : int
        Queries there are.
    confidence : float
        The interval's confidence.

    Examples
    --------
    >>> low, high = accuracy_interval(10_000, 10_000, 4 * 2**20)   # every sampled query right
    >>> round(low, 5), high
    (0.99963, 1.0)
    >>> low, high = accuracy_interval(500, 1000, 10**6)
    >>> round(low, 3), round(high, 3)
    (0.469, 0.531)
    """
    from scipy.stats import hypergeom

    n_sampled = require_int("n_sampled", n_sampled, minimum=1)
    population = require_int("population", population, minimum=n_sampled)
    n_correct = require_int("n_correct", n_correct, minimum=0)
    if n_correct > n_sampled or not 0.0 < confidence < 1.0:
        raise ValueError("need 0 <= n_correct <= n_sampled and 0 < confidence < 1")
    tail = (1.0 - confidence) / 2
    wrong = n_sampled - n_correct
    # K must leave room for the sample: n_correct <= K <= population - wrong.
    smallest, largest = n_correct, population - wrong

    def first(predicate: Callable[[int], bool], low: int, high: int) -> int:
        """The smallest K in [low, high] with predicate(K), predicate monotone (else high + 1)."""
        while low <= high:
            middle = (low + high) // 2
            if predicate(middle):
                high = middle - 1
            else:
                low = middle + 1
        return low

    def at_least(k: int) -> float:  # P(X >= n_correct | K = k), nondecreasing in k
        return float(hypergeom.sf(n_correct - 1, population, k, n_sampled))

    def at_most(k: int) -> float:  # P(X <= n_correct | K = k), nonincreasing in k
        return float(hypergeom.cdf(n_correct, population, k, n_sampled))

    low = smallest if n_correct == 0 else first(lambda k: at_least(k) > tail, smallest, largest)
    high = largest if wrong == 0 else first(lambda k: at_most(k) <= tail, smallest, largest) - 1
    return low / population, high / population


@dataclass(frozen=True, eq=False)
class PromptScores:
    """Scores of a batch of prompts, before they are mapped back to facts."""

    n_prompts: int  # prompts scored (all, or up to the first miss when asked to stop there)
    n_correct: int
    min_margin: float
    failed_indices: npt.NDArray[np.int64]  # the first failures (of each group), by prompt index
    failed_predictions: npt.NDArray[np.int64]  # the token the model predicted for each
    group_failures: npt.NDArray[np.int64] | None = None  # failures of each group, when grouped


def rank_in_group(groups: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """For each entry, how many entries of its group come before it.

    Parameters
    ----------
    groups : ndarray of int
        A group id for each entry.

    Examples
    --------
    >>> rank_in_group(np.array([2, 0, 2, 2, 0])).tolist()
    [0, 0, 1, 2, 1]
    """
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - starts
    return rank


def recall_report(
    scores: PromptScores,
    tokens: npt.NDArray[np.int64],
    answers: npt.NDArray[np.int64],
    vocabulary: Vocabulary,
    *,
    n_facts: int,
    n_queries: int,
    total_queries: int,
    sampled: bool = False,
    certified_count: int = 0,
    certified_margin: float = np.inf,
    method: str = "exact",
    n_fallback: int = 0,
    certificate_reason: str | None = None,
    max_failures: int = 10,
) -> RecallReport:
    """The report of single-hop prompts ``[s, r]`` scored by :func:`score_prompts`.

    ``certified_count`` queries proved elsewhere (with margin at least ``certified_margin``) are
    added to the forward pass's correct ones; failures are mapped back to subject, relation and
    attribute ids.

    Parameters
    ----------
    scores : PromptScores
        The forward pass's predictions and margins.
    answers : ndarray of int
        Their answer tokens.
    vocabulary : Vocabulary
        Token ids of subjects, relations and attributes.
    n_facts : int
        Facts stored.
    n_queries : int
        Queries checked.
    total_queries : int
        Queries there are.
    sampled : bool
        Whether the queries are a seeded sample.
    certified_count : int
        Facts whose margin was certified (not run).
    certified_margin : float
        The certificate's smallest margin bound.
    method : str
        ``"exact"``, ``"sampled"`` or ``"certified"``.
    n_fallback : int
        Facts the certificate left to the forward pass.
    certificate_reason : str, optional
        Why nothing was certified, if so.
    max_failures : int
        How many failures the report lists.
    """
    relations = tokens[:, 1] - vocabulary.relation_offset  # [n] of the scored prompts
    failed = scores.failed_indices
    # spread over the relations: each one's first failure, then each one's second, …
    failed_relations = relations[failed]
    chosen = np.lexsort((failed_relations, rank_in_group(failed_relations)))[:max_failures]
    chosen.sort()  # back in query order
    failures = tuple(
        Failure(
            subject=int(tokens[failed[i], 0]),
            relation=int(relations[failed[i]]),
            expected=int(answers[failed[i]]) - vocabulary.attribute_offset,
            predicted=int(vocabulary.attribute_of(np.asarray(scores.failed_predictions[i]))),
        )
        for i in chosen
    )
    relation_accuracy: tuple[float, ...] = ()
    if scores.group_failures is not None and certified_count == 0:
        checked = np.bincount(relations, minlength=scores.group_failures.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = (checked - scores.group_failures) / checked
        relation_accuracy = tuple(float(share) for share in shares)
    return RecallReport(
        n_queries=n_queries,
        n_correct=certified_count + scores.n_correct,
        n_facts=n_facts,
        min_margin=min(certified_margin, scores.min_margin),
        failures=failures,
        method=method,
        n_fallback=n_fallback,
        sampled=sampled,
        total_queries=total_queries,
        certificate_reason=certificate_reason,
        relation_accuracy=relation_accuracy,
    )
