"""How recall is checked: the certificate first, then every fact or a sample, and stopping at the
first miss.

This module is the one place that decides how a check of a construction is run; the dimension
search, the tables, the bench, ``recall(method="certified")`` and the command line ask it.

* **The certificate first.** Where the construction says its certificate may prove facts
  (``uncertifiable`` is None), :func:`certify_first` runs it (``O(N·R·k)``, read speed) and only
  the queries it leaves open go to the forward pass; where it can prove none (random superposed
  codes, chains, the baselines), no time is spent on it, and the reason is carried along.
* **Every fact or a sample.** A check runs the forward pass on every open query when that costs
  at most ``exact_work_limit`` multiply-adds (:func:`query_work`: queries · d_vocab · d_model,
  the unembedding's product; default :data:`EXACT_WORK_LIMIT`); beyond it, on a seeded uniform
  sample of ``sample_size`` distinct ones (:data:`SAMPLE_SIZE`, :func:`sample_size_for`, drawn by
  :func:`sample_queries`, the one sampling rule, which ``recall(sample=...)`` uses too). The
  verdict says which (``basis``: ``"certified"``, ``"every_fact"`` or ``"sampled"``), and a
  sampled pass gives the exact 95 % upper bound on the share (and the number) of facts that fail.
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
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from geoconstruct._validation import DEFAULT_MEMORY_BUDGET, require_int
from geoconstruct.facts import generator
from geoconstruct.model.transformer import TransformerConfig, Weights
from geoconstruct.verification.certificate import Certificate
from geoconstruct.verification.evaluation import (
    ProgressCallback,
    plan_chunk_bytes,
    require_backend,
    score_prompts,
)
from geoconstruct.verification.report import RecallReport, accuracy_interval

__all__ = [
    "ACCURACY_WORK_LIMIT",
    "BASES",
    "CHAIN_SAMPLE_SIZE",
    "EXACT_WORK_LIMIT",
    "MAX_EXHAUSTIVE_QUERIES",
    "PILOT_SIZE",
    "SAMPLE_SIZE",
    "TABLE_SAMPLE_SIZE",
    "Checkable",
    "OpenQueries",
    "Verdict",
    "certify_first",
    "chain_sample",
    "check_chains",
    "check_recall",
    "combined_basis",
    "exact_work",
    "failing_upper_bound",
    "measure_recall",
    "query_work",
    "sample_for",
    "sample_queries",
    "sample_size_for",
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
"""Queries a sampled check draws (without replacement); every one must be answered (and a
tradeoff row's sample)."""

MAX_EXHAUSTIVE_QUERIES = 10**7
"""Chain-of-thought queries (``N·R^H``) checked one by one at most; beyond, a seeded sample of
:data:`CHAIN_SAMPLE_SIZE` (:func:`chain_sample`)."""

CHAIN_SAMPLE_SIZE = 100_000
"""Chains a sampled multi-hop check draws."""

TABLE_SAMPLE_SIZE = 2_000
"""Queries a row of the baselines table checks when there are more (a seeded sample)."""

PILOT_SIZE = 500
"""Queries a pilot runs: the time estimate of a long pass scales its time."""

BASES = ("certified", "every_fact", "sampled")
"""What stands behind a verdict: ``"certified"``, every query proved by the certificate or, the
ones it left open, run through the forward pass; ``"every_fact"``, every query through the forward
pass; ``"sampled"``, a seeded sample of the queries the certificate left open."""


class Checkable(Protocol):
    """What a check reads of a construction: its model and its single-hop queries."""

    @property
    def config(self) -> TransformerConfig: ...

    @property
    def weights(self) -> Weights: ...

    @property
    def total_queries(self) -> int: ...

    @property
    def uncertifiable(self) -> str | None:
        """Why the certificate can prove no query here (None where it may)."""
        ...

    def certify(self, *, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Certificate:
        """The certificate over every query."""
        ...

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
    ids: npt.NDArray[np.int64] = generator(seed).choice(total, size=sample, replace=False)
    return ids.astype(np.int64)


def query_work(config: TransformerConfig, n_queries: int) -> int:
    """Multiply-adds of the unembedding over ``n_queries`` prompts: ``n · d_vocab · d_model``,
    the measure of work every limit and every reported figure uses.

    Parameters
    ----------
    n_queries : int
        Prompts unembedded.
    """
    return n_queries * config.d_vocab * config.d_model


def exact_work(construction: Checkable) -> int:
    """:func:`query_work` over every query of ``construction``."""
    return query_work(construction.config, construction.total_queries)


def sample_size_for(
    config: TransformerConfig,
    n_open: int,
    *,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    sample_size: int = SAMPLE_SIZE,
) -> int | None:
    """The one sampling rule: how many of ``n_open`` queries the forward pass checks. None (every
    one) when their :func:`query_work` is at most ``exact_work_limit`` or the sample would hold
    every one, else ``sample_size``.

    Parameters
    ----------
    n_open : int
        Queries left to the forward pass.
    exact_work_limit : int
        Multiply-adds up to which a check runs every open query; beyond it, a labelled sample.
    sample_size : int
        Queries a sampled check draws.
    """
    exact_work_limit = require_int("exact_work_limit", exact_work_limit, minimum=0)
    sample_size = require_int("sample_size", sample_size, minimum=1)
    if query_work(config, n_open) <= exact_work_limit or sample_size >= n_open:
        return None
    return sample_size


def chain_sample(
    total: int, max_queries: int = MAX_EXHAUSTIVE_QUERIES, sample: int = CHAIN_SAMPLE_SIZE
) -> int | None:
    """The chains a multi-hop check runs: None (every one) up to ``max_queries``, else a seeded
    sample of ``sample``.

    Parameters
    ----------
    total : int
        Chains there are.
    max_queries : int
        Every chain up to this many.
    sample : int
        Chains a sampled check draws.

    Examples
    --------
    >>> chain_sample(4096 * 4**2), chain_sample(10**8)
    (None, 100000)
    """
    return None if total <= max_queries else sample


def sample_for(
    construction: Checkable,
    *,
    exact_work_limit: int = EXACT_WORK_LIMIT,
    sample_size: int = SAMPLE_SIZE,
) -> int | None:
    """:func:`sample_size_for` over every query of ``construction`` (nothing certified).

    Parameters
    ----------
    exact_work_limit, sample_size : int
        As for :func:`sample_size_for`.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> construction = construct_single_hop(256, 2, 80)
    >>> sample_for(construction), sample_for(construction, exact_work_limit=0, sample_size=100)
    (None, 100)
    """
    return sample_size_for(
        construction.config,
        construction.total_queries,
        exact_work_limit=exact_work_limit,
        sample_size=sample_size,
    )


@dataclass(frozen=True)
class OpenQueries:
    """What the certificate leaves to the forward pass.

    Attributes
    ----------
    queries : ndarray of int or None
        Query ids the forward pass must check (None: every query asked).
    n_certified : int
        Queries asked that the certificate proved.
    certified_margin : float
        The smallest margin bound of those (``inf`` when none).
    reason : str or None
        Why nothing was certified (None when something was).
    """

    queries: npt.NDArray[np.int64] | None
    n_certified: int
    certified_margin: float
    reason: str | None


def certify_first(
    construction: Checkable,
    queries: npt.NDArray[np.int64] | None = None,
    *,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> OpenQueries:
    """Run the certificate where it may prove facts, and say which of ``queries`` it leaves open.

    Where ``construction.uncertifiable`` names a reason, nothing runs: every query is open.

    Parameters
    ----------
    queries : ndarray of int, optional
        The queries asked (a sample); None means every query.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> grid = construct_single_hop(256, 2, 12, layout="block", codebook="grid")
    >>> opened = certify_first(grid)
    >>> opened.queries.size, opened.n_certified
    (0, 512)
    >>> certify_first(construct_single_hop(256, 2, 80)).reason
    "random superposed codes: the other relations' crosstalk has no bound the certificate uses"
    """
    reason = construction.uncertifiable
    if reason is not None:
        return OpenQueries(queries, 0, np.inf, reason)
    certificate = construction.certify(memory_budget=memory_budget)
    asked = np.arange(construction.total_queries) if queries is None else queries
    proved = certificate.certified[asked]
    n_certified = int(proved.sum())
    if n_certified == 0:
        reason = certificate.reason or "no query's margin bound was positive"
    return OpenQueries(
        queries=asked[~proved].astype(np.int64),
        n_certified=n_certified,
        certified_margin=float(certificate.margins[asked][proved].min(initial=np.inf)),
        reason=reason,
    )


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


def combined_basis(bases: Iterable[str]) -> str:
    """The basis of a row of several verdicts: its weakest, ``"sampled"`` before
    ``"certified"`` before ``"every_fact"``.

    Parameters
    ----------
    bases : iterable of str
        Each verdict's basis.

    Examples
    --------
    >>> combined_basis(["every_fact", "certified"]), combined_basis(["certified", "sampled"])
    ('certified', 'sampled')
    """
    seen = set(bases)
    return next((basis for basis in ("sampled", "certified") if basis in seen), "every_fact")


@dataclass(frozen=True)
class Verdict:
    """Whether every query checked was answered, and what stands behind that.

    Attributes
    ----------
    passed : bool
    basis : {"certified", "every_fact", "sampled"}
        ``"certified"``: every query was proved by the certificate or went through the forward
        pass (``n_certified`` of them proved). ``"every_fact"``: every query went through the
        forward pass. ``"sampled"``: a seeded sample of ``n_queries`` of the queries the
        certificate left open went through it.
    n_queries : int
        Queries the verdict is about: all of them, or the sample.
    n_checked : int
        Queries that went through the forward pass: every open one for a pass, fewer when the
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
    n_certified: int = 0

    @property
    def failing_fraction_upper(self) -> float | None:
        """For a pass: the 95 % upper bound on the share of facts that fail (0 unless sampled);
        None for a failure."""
        if not self.passed:
            return None
        if self.basis != "sampled":
            return 0.0
        n_open = self.total_queries - self.n_certified
        return failing_upper_bound(self.n_queries, n_open) * n_open / self.total_queries

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
    certify: bool = True,
) -> Verdict:
    """Pass or fail: is every query checked proved or answered? The certificate first
    (:func:`certify_first`), then the forward pass on what it leaves open, stopping at the
    first miss.

    Parameters
    ----------
    exact_work_limit : int
        Check every query when :func:`exact_work` is at most this; otherwise a sample.
    sample_size : int
        Queries a sampled check draws.
    certify : bool
        Whether to run the certificate where it may prove facts (False: the forward pass on
        every query, for comparisons).

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
    >>> grid = check_recall(construct_single_hop(256, 2, 12, layout="block", codebook="grid"))
    >>> grid.passed, grid.basis, grid.n_certified, grid.n_checked
    (True, 'certified', 512, 0)
    >>> below = check_recall(construct_single_hop(2000, 4, 20, seed=0))   # far below: one block
    >>> below.passed, below.n_checked < below.n_queries
    (False, True)
    """
    seed = require_int("seed", seed, minimum=0)
    require_backend(backend, device)
    start = time.perf_counter()
    total, config = construction.total_queries, construction.config
    opened = (
        certify_first(construction, memory_budget=memory_budget)
        if certify
        else OpenQueries(None, 0, np.inf, "not asked")
    )
    open_queries = np.arange(total) if opened.queries is None else opened.queries
    sample = sample_size_for(
        config, open_queries.size, exact_work_limit=exact_work_limit, sample_size=sample_size
    )
    drawn = sample_queries(open_queries.size, sample, seed)
    order = generator(seed).permutation(open_queries) if drawn is None else open_queries[drawn]
    n_checked, n_correct = 0, 0
    if order.size:
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
        n_checked, n_correct = scores.n_prompts, scores.n_correct
    basis = "sampled" if sample is not None else "certified" if opened.n_certified else "every_fact"
    return Verdict(
        passed=n_correct == order.size,
        basis=basis,
        n_queries=int(order.size) if sample is not None else total,
        n_checked=n_checked,
        total_queries=total,
        multiply_adds=query_work(config, n_checked),
        seconds=time.perf_counter() - start,
        backend=backend,
        device=device,
        n_certified=opened.n_certified,
    )


def check_chains(
    construction: Recallable,
    *,
    seed: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Verdict:
    """Pass or fail for chains of thought (no certificate reads them): every chain through the
    loop up to :data:`MAX_EXHAUSTIVE_QUERIES`, else a seeded sample of :data:`CHAIN_SAMPLE_SIZE`
    (:func:`chain_sample`). ``multiply_adds`` counts one pass a chain.

    Examples
    --------
    >>> from geoconstruct import construct_multi_hop, multi_hop_dimension
    >>> chains = construct_multi_hop(64, 2, 2, 2, multi_hop_dimension(64, 2, 2, 2))
    >>> verdict = check_chains(chains)
    >>> verdict.passed, verdict.basis, verdict.n_checked
    (True, 'every_fact', 256)
    """
    start = time.perf_counter()
    total = construction.total_queries
    report = construction.recall(sample=chain_sample(total), seed=seed, memory_budget=memory_budget)
    return Verdict(
        passed=report.all_correct,
        basis=report.basis,
        n_queries=report.n_queries,
        n_checked=report.n_queries,
        total_queries=total,
        multiply_adds=query_work(construction.config, report.n_queries),
        seconds=time.perf_counter() - start,
    )


class Recallable(Checkable, Protocol):
    """A construction whose recall can be reported (:meth:`Construction.recall`)."""

    def recall(
        self,
        *,
        method: str = "exact",
        sample: int | None = None,
        seed: int = 0,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        backend: str = "numpy",
        device: str = "cpu",
    ) -> RecallReport:
        """See :meth:`Construction.recall`."""
        ...


def measure_recall(
    construction: Recallable,
    *,
    seed: int = 0,
    work_limit: int = ACCURACY_WORK_LIMIT,
    sample_size: int = SAMPLE_SIZE,
    sample: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    backend: str = "numpy",
    device: str = "cpu",
) -> RecallReport:
    """The accuracy of ``construction`` as the tables measure it: the certificate first, then
    the forward pass on every open query while that costs at most ``work_limit``, else on a
    seeded sample of ``sample_size`` queries (of which the open ones run).

    Parameters
    ----------
    work_limit : int
        Multiply-adds up to which every open query runs.
    sample_size : int
        Queries a sampled measurement draws.
    sample : int, optional
        Force a sample of this size.

    Examples
    --------
    >>> from geoconstruct import construct_single_hop
    >>> grid = construct_single_hop(256, 2, 12, layout="block", codebook="grid")
    >>> report = measure_recall(grid)
    >>> report.accuracy, report.basis, report.n_fallback
    (1.0, 'certified', 0)
    """
    if sample is None:
        opened = certify_first(construction, memory_budget=memory_budget)
        n_open = construction.total_queries if opened.queries is None else opened.queries.size
        sample = sample_size_for(
            construction.config, n_open, exact_work_limit=work_limit, sample_size=sample_size
        )
    return construction.recall(  # chains of thought have no certificate: the pass alone
        method="exact" if construction.uncertifiable is not None else "certified",
        sample=sample,
        seed=seed,
        memory_budget=memory_budget,
        backend=backend,
        device=device,
    )
