"""The predicted transition: an estimate, checked against the forward pass and against its own
definition (not against numbers copied from it)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cases import independent_argmax
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop
from geoconstruct.analysis.measurement.dimension_search import measure_min_dimension
from geoconstruct.analysis.theory.prediction import (
    MEDIAN_FAILURES,
    has_prediction,
    predict,
    predicted_accuracy,
    predicted_min_dimension,
    regime_code_length,
)
from geoconstruct.constructions.layouts import resolve_layout


@settings(max_examples=25, deadline=None)
@given(
    n_subjects=st.integers(2, 2**20),
    n_relations=st.integers(2, 16),
    beyond=st.integers(0, 2000),
    layout=st.sampled_from(["superposed", "superposed_separate"]),
)
def test_accuracy_is_a_probability_that_grows_with_d_in_its_regime(
    n_subjects, n_relations, beyond, layout
):
    options = dict(layout=layout, codebook="gaussian")
    k = regime_code_length(n_relations) + beyond
    d = resolve_layout(layout).dimension(n_relations, k)
    here = predict(n_subjects, n_relations, d, **options)
    further = predict(n_subjects, n_relations, d + 1 + beyond, **options)
    assert here.code_length == k and here.in_regime and further.in_regime
    # the quadrature's error, absolute and relative
    assert 0.0 <= here.accuracy <= further.accuracy * (1 + 1e-4) + 1e-6 and further.accuracy <= 1
    assert here.failing_facts == pytest.approx(n_subjects * n_relations * (1 - here.accuracy))


@settings(max_examples=25, deadline=None)
@given(
    n_subjects=st.integers(2, 2**20),
    n_relations=st.integers(2, 16),
    d=st.integers(1, 200),
    layout=st.sampled_from(["superposed", "superposed_separate"]),
)
def test_below_its_regime_the_estimate_is_a_probability_and_says_so(
    n_subjects, n_relations, d, layout
):
    estimate = predict(n_subjects, n_relations, d, layout=layout, codebook="gaussian")
    assert 0.0 <= estimate.accuracy <= 1.0
    assert estimate.in_regime == (estimate.code_length >= regime_code_length(n_relations))


@settings(max_examples=15, deadline=None)
@given(
    n_subjects=st.integers(16, 2**18),
    n_relations=st.integers(2, 12),
    n_seeds=st.integers(1, 8),
)
def test_the_predicted_min_d_is_the_median_it_is_defined_as(n_subjects, n_relations, n_seeds):
    d = predicted_min_dimension(n_subjects, n_relations, n_seeds=n_seeds)

    def failing(at):
        return n_seeds * predict(n_subjects, n_relations, at).failing_facts

    assert failing(d) <= MEDIAN_FAILURES < failing(d - 1)


@pytest.mark.parametrize(("n_relations", "d"), [(2, 40), (4, 110), (4, 160), (8, 300)])
def test_the_estimate_meets_the_forward_pass(n_relations, d):
    """The mean accuracy of ten seeds' constructions, each every fact through the forward pass
    (the judge), lies within a few standard errors of the estimate."""
    n_subjects = 1024
    accuracies = [
        construct_single_hop(n_subjects, n_relations, d, seed=seed, dtype="float32")
        .recall()
        .accuracy
        for seed in range(10)
    ]
    predicted = predicted_accuracy(n_subjects, n_relations, d)
    n_queries = n_subjects * n_relations
    spread = max(np.std(accuracies) / math.sqrt(10), 1 / n_queries)
    assert abs(np.mean(accuracies) - predicted) <= 4 * spread + 0.1 * (1 - predicted)


def test_only_the_covered_settings_are_predicted():
    assert has_prediction() and has_prediction("superposed_separate", "rademacher")
    assert not has_prediction("block", "gaussian") and not has_prediction("superposed", "bch")
    with pytest.raises(ValueError, match="no predicted transition for layout='block'"):
        predicted_accuracy(100, 2, 40, layout="block", codebook="grid")
    with pytest.raises(ValueError, match="n_subjects"):
        predicted_min_dimension(1, 2)


PUBLISHED = Path(__file__).parent.parent / "docs" / "results" / "transition_table.json"


def _published_rows():
    """One row per (N, R) of the published every-fact transition table, N <= 2^12."""
    rows = {}
    for row in json.loads(PUBLISHED.read_text()):
        if row["n_subjects"] <= 4096:
            rows.setdefault((row["n_subjects"], row["n_relations"]), row)
    return [rows[key] for key in sorted(rows)]


def _recalls_every_fact(n_subjects, n_relations, d, seed):
    construction = construct_single_hop(n_subjects, n_relations, d, seed=seed, dtype="float32")
    tokens, answers = construction.prompts()
    return bool(np.array_equal(independent_argmax(construction.weights, tokens), answers))


@pytest.mark.slow
@pytest.mark.parametrize(
    "row", _published_rows(), ids=lambda row: f"N={row['n_subjects']}-R={row['n_relations']}"
)
def test_every_published_min_d_is_minimal_and_near_the_prediction(row):
    """The published every-fact min d (docs/results/transition.md, N <= 2^12, R = 2, 4, 8): at it
    an independent forward pass recalls every fact on all five seeds; one code length less, some
    seed misses a fact; from N = 1,024 on, the prediction is within 10 %."""
    n_subjects, n_relations, d = row["n_subjects"], row["n_relations"], row["min_d"]
    seeds = row["seeds"]
    assert row["min_d_basis"] == "every_fact" and len(seeds) == 5
    assert all(_recalls_every_fact(n_subjects, n_relations, d, seed) for seed in seeds)
    assert not all(_recalls_every_fact(n_subjects, n_relations, d - 1, seed) for seed in seeds)
    assert row["predicted_min_d"] == predicted_min_dimension(n_subjects, n_relations)
    if n_subjects >= 1024:
        assert abs(row["predicted_min_d"] - d) <= 0.1 * d


@pytest.mark.slow
@pytest.mark.parametrize(("n_subjects", "n_relations"), [(256, 2), (256, 4), (1024, 2)])
def test_the_search_finds_the_published_min_d(n_subjects, n_relations):
    """The search, run again, lands on the published row (its definition does not depend on where
    it starts)."""
    (row,) = [
        row
        for row in _published_rows()
        if (row["n_subjects"], row["n_relations"]) == (n_subjects, n_relations)
    ]
    found = measure_min_dimension(n_subjects, n_relations, seeds=tuple(row["seeds"]))
    assert found.basis == "every_fact"
    assert found.d == row["min_d"] and found.predicted_d == row["predicted_min_d"]
