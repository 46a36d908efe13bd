"""How recall is checked: every fact or a sample, the work limit, and stopping at the first miss.

This module is the one place that decides how a pass/fail check of a construction is run; the
dimension search, the tables, the bench and the command line ask it.

* **Every fact or a sample.** A check runs the forward pass on every query when that costs at
  most ``exact_work_limit`` multiply-adds (:func:`exact_work`: queries · d_vocab · d_model, the
  unembedding's product, default :data:`EXACT_WORK_LIMIT`); beyond it, on a seeded uniform sample
  of ``sample_size`` distinct queries (:data:`SAMPLE_SIZE`, drawn by :func:`sample_queries`, the
  one sampling rule, which ``recall(sample=...)`` uses too). The verdict says which
  (``basis``: ``"every_fact"`` or ``"sampled"``), and a sampled pass gives the exact 95 % upper
  bound on the share (and the number) of facts that fail.
* **Stop at the first miss.** Only pass/fail is asked, so the queries run in a random order drawn
  from the seed (a permutation of every query, or the sample as drawn) and the check stops at the
  block that holds the first wrong answer: a code length far below the transition is turned down
  after one block of prompts, the pilot, whatever N is.
* **Where it runs.** The numpy pass, or the torch pass (``backend="torch"``, ``device="cpu"`` or
  ``"cuda"``), in chunks that fit ``memory_budget``, optionally as tasks of an
  :class:`~concurrent.futures.Executor` (a process pool, a dask.distributed client).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.verification.evaluation import (
    ProgressCallback,
    plan_chunk_bytes,
    require_backend,
    score_prompts,
)
from geoconstruct.verification.report import accuracy_interval

__all__ = [
    "ACCURACY_WORK_LIMIT",
    "BASES",
    "EXACT_WORK_LIMIT",
    "PILOT_SIZE",
    "SAMPLE_SIZE",
    "Checkable",
    "Verdict",
    "check_recall",
    "exact_work",
    "failing_upper_bound",
    "query_work",
    "sample_for",
    "sample_queries",
]

EXACT_WORK_LIMIT = 4 * 10**12
"""Most multiply-adds a check spends on every query (about a minute on 2 cores, N = 2^14 and
R = 8 at its transition); past it the check samples :data:`SAMPLE_SIZE` queries."""

ACCURACY_WORK_LIMIT = 2 * 10**11
"""Most multiply-adds an accuracy estimate (a row of the transition table, which needs the count
of right answers, not only pass/fail, and so cannot stop at the first miss) spends on every
query; past it the accuracy is estimated from :data:`SAMPLE_SIZE` queries, with its exact
interval, and labelled sampled."""

SAMPLE_SIZE = 10_000
"""Queries a sampled check draws (without replacement); every one must be answered."""

PILOT_SIZE = 500
"""Queries a pilot runs: the time estimate of a long pass scales its time."""

BASES = ("every_fact", "sampled")
"""What stands behind a verdict: every query through the forward pass, or a seeded sample."""


class Checkable(Protocol):
    """What a check reads of a construction: its model and its single-hop queries."""

    @property
    def config(self) -> TransformerConfig: ...

    @property
    def weights(self) -> Weights: ...

    @property
    def total_queries(self) -> int: ...

    def prompts(
        self, queries: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Tokens [n, 2] and answer tokens [n] of the queries.

        Parameters
        ----------
        queries : array_like of int, optional
            Query ids; None means every query.
        """
        ...


def sample_queries(total: int, sample: int | None, seed: int) -> npt.NDArray[np.int64] | None:
    """Query ids to check: ``None`` for all ``total``, else a uniform sample of distinct ids.

    Parameters
    ----------
    total : int
        Queries there are.
    sample : int or None
        How many to draw; None (or at least ``total``) checks all.
    seed : int
        Seeds the draw.

    Examples
    --------
    >>> ids = sample_queries(1000, 5, seed=0)
    >>> ids.size, len(set(ids.tolist())), bool(ids.max() < 1000)
    (5, 5, True)
    >>> sample_queries(1000, None, seed=0) is None, sample_queries(4, 9, seed=0) is None
    (True, True)
    """
    if sample is None:
        return None
    sample = require_int("sample", sample, minimum=1)
    seed = require_int("seed", seed, minimum=0)
    if sample >= total:
        return None
    ids: npt.NDArray[np.int64] = np.random.default_rng(seed).choice(
        total, size=sample, replace=False
    )
    return ids.astype(np.int64)


def query_work(config: TransformerConfig, n_queries: int) -> int:
    """Multiply-adds of the unembedding over ``n_queries`` prompts: ``n · d_vocab · d_model``,
    the measure of work every limit and every reported figure uses.

    Parameters
    ----------
    config : TransformerConfig
        The model's hyper-parameters.
    n_queries : int
        Prompts unembedded.
    """
    return n_queries * config.d_vocab * config.d_model


def exact_work(construction: Checkable) -> int:
    """:func:`query_work` over every query of ``construction``.

    Parameters
    ----------
    construction : Construction
        A built model.
    """
    return query_work(construction.config, construction.total_queries)


def sample_for(
    construction: Checkable,
    *,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    sample_size: int = SAMPLE_SIZE,
) -> int | None:
    """The sample a check of ``construction`` runs: None (every query) when :func:`exact_work`
    is at most ``exact_work_limit`` or the sample would hold every query, else ``sample_size``.

    Parameters
    ----------
    construction : Construction
        A built model.
    exact_work_limit : int
        Multiply-adds up to which a check runs every query; beyond it, a labelled sample.
    sample_size : int
        Queries a sampled check draws.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> construction = construct_single_hop(256, 2, 80)
    >>> sample_for(construction), sample_for(construction, exact_work_limit=0, sample_size=100)
    (None, 100)
    """
    exact_work_limit = require_int("exact_work_limit", exact_work_limit, minimum=0)
    sample_size = require_int("sample_size", sample_size, minimum=1)
    if exact_work(construction) <= exact_work_limit or sample_size >= construction.total_queries:
        return None
    return sample_size


def failing_upper_bound(n_sampled: int, total: int) -> float:
    """The exact 95 % upper bound on the share of failing queries after ``n_sampled`` of
    ``total`` drawn uniformly without replacement were all answered (the upper end of the
    interval of :func:`~geoconstruct.verification.report.accuracy_interval`, turned round).

    Parameters
    ----------
    n_sampled : int
        Queries drawn, every one recalled.
    total : int
        Queries there are.

    Examples
    --------
    >>> round(failing_upper_bound(10_000, 4 * 2**20), 5), failing_upper_bound(5, 5)
    (0.00037, 0.0)
    """
    low, _ = accuracy_interval(n_sampled, n_sampled, total)
    return 1.0 - low


@dataclass(frozen=True)
class Verdict:
    """Whether every query checked was answered, and what stands behind that.

    Attributes
    ----------
    passed : bool
    basis : {"every_fact", "sampled"}
        ``"every_fact"``: the check was over every query (a pass means every fact went through
        the forward pass and was answered). ``"sampled"``: over a seeded sample of ``n_queries``.
    n_queries : int
        Queries the verdict is about: all of them, or the sample.
    n_checked : int
        Queries that went through the forward pass: ``n_queries`` for a pass, fewer when the
        check stopped at the first miss.
    total_queries : int
    multiply_adds : int
        Of the unembedding's product over the queries checked (``n_checked · d_vocab · d``).
    seconds : float
    backend, device : str
    """

    passed: bool
    basis: str
    n_queries: int
    n_checked: int
    total_queries: int
    multiply_adds: int
    seconds: float
    backend: str = "numpy"
    device: str = "cpu"

    @property
    def failing_fraction_upper(self) -> float | None:
        """For a pass: the 95 % upper bound on the share of facts that fail (0 for every fact);
        None for a failure."""
        if not self.passed:
            return None
        return failing_upper_bound(self.n_queries, self.total_queries)

    @property
    def failing_facts_upper(self) -> float | None:
        """For a pass: the 95 % upper bound on the number of facts that fail."""
        fraction = self.failing_fraction_upper
        return None if fraction is None else fraction * self.total_queries


def check_recall(
    construction: Checkable,
    *,
    seed: int = 0,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    sample_size: int = SAMPLE_SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    backend: str = "numpy",
    device: str = "cpu",
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> Verdict:
    """Pass or fail: does the forward pass answer every query checked? Stops at the first miss.

    Parameters
    ----------
    construction : Construction
        Single-hop prompts (the single-hop recipes and the baselines).
    seed : int
        Seeds the order of the queries, and the sample.
    exact_work_limit : int
        Check every query when :func:`exact_work` is at most this; otherwise a sample.
    sample_size : int
        Queries a sampled check draws.
    memory_budget : int
        Bytes the pass may allocate.
    backend, device, executor, progress
        As for :func:`~geoconstruct.verification.evaluation.score_prompts`.

    Returns
    -------
    Verdict

    Raises
    ------
    MemoryBudgetError
        Before anything is allocated, when the check cannot fit ``memory_budget``.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> verdict = check_recall(construct_single_hop(256, 2, 80, seed=0))
    >>> verdict.passed, verdict.basis, verdict.n_checked
    (True, 'every_fact', 512)
    >>> below = check_recall(construct_single_hop(2000, 4, 20, seed=0))   # far below: one block
    >>> below.passed, below.n_checked < below.n_queries
    (False, True)
    """
    seed = require_int("seed", seed, minimum=0)
    require_backend(backend, device)
    start = time.perf_counter()
    total = construction.total_queries
    sample = sample_for(construction, exact_work_limit=exact_work_limit, sample_size=sample_size)
    every_fact = sample is None
    drawn = sample_queries(total, sample, seed)
    order = np.random.default_rng(seed).permutation(total) if drawn is None else drawn
    config = construction.config
    chunk_bytes = plan_chunk_bytes(config, order.size, memory_budget, "this check")
    tokens, answers = construction.prompts(order)
    scores = score_prompts(
        construction.weights,
        config,
        tokens,
        answers,
        chunk_bytes=chunk_bytes,
        max_failures=1,
        progress=progress,
        executor=executor,
        stop_at_first_miss=True,
        backend=backend,
        device=device,
    )
    return Verdict(
        passed=scores.n_correct == order.size,
        basis="every_fact" if every_fact else "sampled",
        n_queries=int(order.size),
        n_checked=scores.n_prompts,
        total_queries=total,
        multiply_adds=query_work(config, scores.n_prompts),
        seconds=time.perf_counter() - start,
        backend=backend,
        device=device,
    )
