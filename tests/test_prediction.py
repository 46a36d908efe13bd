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
    smallest = resolve_layout(layout).dimension(n_relations, 1)  # a code of one coordinate
    if d < smallest:  # what the builder refuses, the estimate refuses, naming the smallest
        with pytest.raises(ValueError, match=f"the smallest d is {smallest}"):
            predict(n_subjects, n_relations, d, layout=layout, codebook="gaussian")
        return
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


def _published(n_subjects=None, n_relations=None):
    """The published law's rows (docs/results/transition.md, 50 seeds a d), by (N, R)."""
    rows = json.loads(PUBLISHED.read_text())
    return [
        row
        for row in rows
        if n_subjects in (None, row["n_subjects"]) and n_relations in (None, row["n_relations"])
    ]


def _recalls_every_fact(n_subjects, n_relations, d, seed):
    construction = construct_single_hop(n_subjects, n_relations, d, seed=seed, dtype="float32")
    tokens, answers = construction.prompts()
    return bool(np.array_equal(independent_argmax(construction.weights, tokens), answers))


@pytest.mark.slow
@pytest.mark.parametrize(("n_subjects", "n_relations"), [(256, 2), (256, 4), (1024, 2)])
def test_an_independent_pass_counts_the_published_seeds(n_subjects, n_relations):
    """At the published d nearest each size's d_50, a forward pass written independently of the
    library recalls every fact on exactly the published number of the 50 seeds."""
    rows = _published(n_subjects, n_relations)
    row = min(rows, key=lambda row: abs(row["d"] - row["d50"]))
    count = sum(
        _recalls_every_fact(n_subjects, n_relations, row["d"], seed) for seed in row["seeds"]
    )
    assert count == row["seeds_all_correct"] and 0 < count < len(row["seeds"])


def test_the_published_law_is_what_its_rows_fit_and_the_prediction_is_near_it():
    """The published d_50 and d_95 are the fit of the published counts (refitted here), and the
    prediction lies inside, or within 5 % of, each interval from N = 1,024 on."""
    from geoconstruct.analysis.measurement.success_law import fit_success_law

    sizes = sorted({(row["n_subjects"], row["n_relations"]) for row in _published()})
    assert len(sizes) == 9
    for n_subjects, n_relations in sizes:
        rows = _published(n_subjects, n_relations)
        assert all(
            len(row["seeds"]) == 50 and row["accuracy_basis"] == "every_fact" for row in rows
        )
        law = fit_success_law(
            [row["d"] for row in rows],
            [row["seeds_all_correct"] for row in rows],
            [len(row["seeds"]) for row in rows],
        )
        assert law.d50 == pytest.approx(rows[0]["d50"], rel=1e-6)
        assert law.d95 == pytest.approx(rows[0]["d95"], rel=1e-6)
        if n_subjects >= 1024:
            for q in ("d50", "d95"):
                low, high = rows[0][f"{q}_low"], rows[0][f"{q}_high"]
                assert low is not None and high is not None
                predicted = rows[0][f"predicted_{q}"]
                assert 0.95 * low <= predicted <= 1.05 * high, (n_subjects, n_relations, q)
