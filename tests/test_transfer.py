"""Zero-shot transfer: only subject embeddings change, and every new fact is recalled."""

import dataclasses
import hashlib

import numpy as np
import pytest
from cases import LAYOUT_CODEBOOKS, dimension_with_slack
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension, random_facts
from geoconstruct.analysis.mechanism.transfer import (
    fit_superposition,
    reinitialize,
    reinitialize_weights,
)
from geoconstruct.model.transformer import random_weights

SETTINGS = LAYOUT_CODEBOOKS


def digest(weights, skip=("embed.W_E",)):
    return {
        name: hashlib.sha256(array.tobytes()).hexdigest()
        for name, array in weights.items()
        if name not in skip
    }


@pytest.mark.parametrize(("layout", "codebook"), SETTINGS)
def test_transfer_recalls_twenty_fresh_bijection_sets(layout, codebook):
    """Every fact of 20 fresh fact sets through the old MLP; superposed random codes at the d
    where the theorem's failure bound is 1e-6, so this fails by chance with at most 2e-5."""
    n_subjects, n_relations = 300, 3
    d = dimension_with_slack(n_subjects, n_relations, layout, codebook, 1e-6)
    original = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=5
    )
    before = digest(original.weights)
    relation_rows = original.weights["embed.W_E"][n_subjects:].tobytes()
    for fresh in range(20):
        new_facts = random_facts(n_subjects, n_relations, seed=1000 + fresh)
        assert new_facts != original.facts
        moved = reinitialize(original, new_facts)
        report = moved.recall()
        assert report.n_correct == report.n_facts == n_subjects * n_relations
        # attention, MLP, unembedding and the relation embeddings are untouched
        assert digest(moved.weights) == before
        assert moved.weights["embed.W_E"][n_subjects:].tobytes() == relation_rows
        # the moved model answers the new facts, not the old ones (those only by chance)
        subjects = np.arange(n_subjects)
        old_answers = original.facts.permutations
        moved_answers = np.stack([moved.predict(subjects, r) for r in range(n_relations)])
        assert np.mean(moved_answers == old_answers) < 0.05
    # the original is untouched and still recalls its own facts
    assert digest(original.weights) == before
    assert original.recall().all_correct


@pytest.mark.parametrize(("layout", "codebook"), SETTINGS)
def test_fitted_transfer_from_weights_alone(layout, codebook):
    n_subjects, n_relations = (3000, 2) if layout == "superposed" else (1500, 3)
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    original = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=2
    )
    weights_alone = dict(original.weights)  # no read maps, no codebook object
    fit = fit_superposition(weights_alone, original.facts)
    assert fit.r2 >= 0.999
    assert np.all(fit.r2_per_relation >= 0.999)
    assert fit.codes.shape[1] == original.codebook.code_length
    before = digest(weights_alone)
    for fresh in range(3):
        new_facts = random_facts(n_subjects, n_relations, seed=500 + fresh)
        weights = reinitialize_weights(weights_alone, fit, new_facts)
        assert digest(weights) == before
        moved = dataclasses.replace(original, weights=weights, facts=new_facts)
        assert moved.recall().all_correct


@settings(max_examples=10)
@given(n_subjects=st.integers(20, 400), n_relations=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_reinitialize_with_the_same_facts_gives_back_the_same_weights(
    n_subjects, n_relations, seed
):
    c = construct_single_hop(
        n_subjects, n_relations, proven_dimension(n_subjects, n_relations), seed=seed
    )
    same = reinitialize(c, c.facts)
    for name, array in c.weights.items():
        assert np.array_equal(same.weights[name], array), name


def test_superposition_fit_tells_a_construction_from_random_weights():
    c = construct_single_hop(
        800, 2, proven_dimension(800, 2, codebook="gaussian"), codebook="gaussian", seed=0
    )
    noise = random_weights(c.config, seed=1)
    mixed = {**c.weights, "embed.W_E": noise["embed.W_E"]}
    fit = fit_superposition(mixed, c.facts)
    assert fit.r2 < 0.5  # random embeddings are not superpositions of the codes


def test_bad_transfer_requests_are_refused():
    c = construct_single_hop(100, 2, proven_dimension(100, 2))
    with pytest.raises(ValueError, match="new_facts hold N=100, R=3"):
        reinitialize(c, random_facts(100, 3))
    with pytest.raises(TypeError, match="Facts"):
        reinitialize(c, [[0, 1]])
    with pytest.raises(ValueError, match="vocabulary of 202 tokens"):
        fit_superposition(dict(c.weights), random_facts(50, 2))
    wide = construct_single_hop(
        60, 3, proven_dimension(60, 3, codebook="gaussian"), codebook="gaussian"
    )
    with pytest.raises(ValueError, match="needs N >= "):
        fit_superposition(dict(wide.weights), wide.facts)
