"""A recall report spreads its listed failures over the relations and gives each relation's
accuracy (issue 24: the first ten failures in query order were all of relation 0)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, required_dimension


def failing_construction(n_subjects, n_relations, seed):
    """Below the proof: d a little above the smallest that can be assembled, so facts fail."""
    d = required_dimension(n_subjects, n_relations) + 6
    return construct_single_hop(n_subjects, n_relations, d, seed=seed, dtype="float32")


def expected_from_predictions(construction, max_failures):
    """Each relation's accuracy and the spread failures, from ``predict`` (its own pass)."""
    n, r = construction.facts.n_subjects, construction.facts.n_relations
    subjects = np.tile(np.arange(n), r)
    relations = np.repeat(np.arange(r), n)  # query id q = r·N + s
    predicted = construction.predict(subjects, relations)
    truth = construction.facts.permutations[relations, subjects]
    wrong = predicted != truth
    accuracy = [1 - wrong[relations == rel].mean() for rel in range(r)]
    per_relation = [np.flatnonzero(wrong & (relations == rel)) for rel in range(r)]
    rounds = [
        q
        for rank in range(max_failures)
        for ids in per_relation
        if rank < ids.size
        for q in [ids[rank]]
    ]
    chosen = sorted(rounds[:max_failures])
    return accuracy, [(int(subjects[q]), int(relations[q])) for q in chosen]


@settings(max_examples=10, deadline=None)
@given(
    n_subjects=st.integers(60, 300),
    n_relations=st.integers(2, 6),
    max_failures=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_failures_are_spread_over_the_relations_and_each_relation_has_its_accuracy(
    n_subjects, n_relations, max_failures, seed
):
    construction = failing_construction(n_subjects, n_relations, seed)
    report = construction.recall(max_failures=max_failures)
    accuracy, spread = expected_from_predictions(construction, max_failures)
    assert report.relation_accuracy == pytest.approx(accuracy)
    assert [(f.subject, f.relation) for f in report.failures] == spread


def test_a_report_from_an_executor_is_the_same():
    construction = failing_construction(400, 4, seed=3)
    alone = construction.recall(max_failures=7)
    with ThreadPoolExecutor(2) as pool:
        pooled = construction.recall(max_failures=7, executor=pool)
    assert alone.failures and len({f.relation for f in alone.failures}) > 1
    assert pooled == alone


def test_a_certified_report_leaves_the_relations_out():
    construction = construct_single_hop(64, 2, 30, layout="block", codebook="grid")
    report = construction.recall(method="certified")
    assert report.relation_accuracy == ()
    assert construction.recall().relation_accuracy == (1.0, 1.0)
