"""Sampled recall: a seeded uniform sample of distinct queries, with an exact confidence interval.

The interval is checked two ways: its coverage is computed exactly, by enumerating the
hypergeometric distribution for small populations; and on constructions whose accuracy is known
(some facts changed after building), the sampled interval contains the exact accuracy.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from geoconstruct import Facts, construct_single_hop, proven_dimension
from geoconstruct.verification.report import accuracy_interval


@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize(("population", "n_sampled"), [(12, 1), (12, 5), (20, 6), (30, 30)])
def test_the_interval_covers_every_true_share_at_its_confidence(population, n_sampled, confidence):
    for right in range(population + 1):  # K right queries in the population
        coverage = 0.0
        for n_correct in range(max(0, n_sampled - (population - right)), min(n_sampled, right) + 1):
            low, high = accuracy_interval(n_correct, n_sampled, population, confidence)
            if low <= right / population <= high:
                coverage += hypergeom.pmf(n_correct, population, right, n_sampled)
        assert coverage >= confidence - 1e-12, (right, coverage)


def partly_wrong(n_subjects, n_relations, changed, seed):
    """A construction whose facts were changed for ``changed`` subjects after it was built."""
    d = proven_dimension(n_subjects, n_relations)
    construction = construct_single_hop(n_subjects, n_relations, d, seed=seed)
    permutations = np.array(construction.facts.permutations)
    rng = np.random.default_rng(seed)
    subjects = rng.choice(n_subjects, size=changed, replace=False)
    permutations[:, subjects] = permutations[:, np.roll(subjects, 1)]  # still bijections
    return dataclasses.replace(construction, facts=Facts(permutations))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    n_subjects=st.integers(20, 400),
    n_relations=st.integers(1, 4),
    share=st.floats(0.05, 0.9),
    sample=st.integers(1, 500),
    seed=st.integers(0, 2**16),
)
def test_sampled_accuracy_agrees_with_the_exact_within_its_interval(
    n_subjects, n_relations, share, sample, seed
):
    construction = partly_wrong(n_subjects, n_relations, max(2, int(share * n_subjects)), seed)
    exact = construction.recall()
    assert not exact.sampled and exact.accuracy_interval == (exact.accuracy, exact.accuracy)
    sampled = construction.recall(sample=sample, seed=seed)
    if sample >= exact.n_queries:
        assert sampled == exact  # a sample of everything is everything
        return
    assert sampled.sampled and sampled.n_queries == sample
    assert sampled.total_queries == exact.n_queries
    low, high = sampled.interval(0.999)
    assert low <= exact.accuracy <= high
    assert low <= sampled.accuracy <= high
    assert sampled.accuracy_interval[0] >= low and sampled.accuracy_interval[1] <= high


def test_the_same_seed_samples_the_same_queries():
    construction = partly_wrong(300, 3, 100, seed=1)
    first, again = construction.recall(sample=200, seed=7), construction.recall(sample=200, seed=7)
    other = construction.recall(sample=200, seed=8)
    assert first == again
    assert first.failures != other.failures
