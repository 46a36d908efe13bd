"""Disjoint attribute sets: the unembedding's relation bonus replaces the selector (appendix F)."""

import re

import numpy as np
import pytest
from cases import independent_argmax
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import (
    construct_disjoint,
    construct_single_hop,
    disjoint_dimension,
    proven_dimension,
)

CODEBOOKS = ["grid", "gaussian", "rademacher", "bch"]


@settings(max_examples=25)
@given(
    codebook=st.sampled_from(CODEBOOKS),
    n_subjects=st.integers(1, 400),
    n_relations=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    extra=st.integers(0, 7),
)
def test_every_fact_at_the_required_dimension_and_one_less_is_refused(
    codebook, n_subjects, n_relations, seed, extra
):
    d = disjoint_dimension(n_subjects, n_relations, codebook=codebook)
    with pytest.raises(ValueError, match=re.escape(f"requires d >= {d}, got d={d - 1}")):
        construct_disjoint(n_subjects, n_relations, d - 1, codebook=codebook, seed=seed)
    construction = construct_disjoint(
        n_subjects, n_relations, d + extra, codebook=codebook, seed=seed
    )
    report = construction.recall()
    assert report.n_queries == report.n_facts == n_subjects * n_relations
    assert report.n_correct == report.n_queries, report.failures
    assert report.min_margin > 0
    # an answer names its relation: (r, a) is token N + R + r·N + a, checked by a pass of our own
    tokens, answers = construction.prompts()
    relations = tokens[:, 1] - n_subjects
    expected = n_subjects + n_relations + relations * n_subjects
    expected += construction.facts.permutations[relations, tokens[:, 0]]
    assert np.array_equal(answers, expected)
    assert np.array_equal(independent_argmax(construction.weights, tokens), expected)


def test_no_selector_the_mlp_is_zero():
    construction = construct_disjoint(500, 4, disjoint_dimension(500, 4), seed=1)
    assert construction.config.d_mlp == 1
    for name in ("blocks.0.mlp.W_in", "blocks.0.mlp.W_out"):
        assert not construction.weights[name].any()


def test_without_the_relation_bonus_recall_fails():
    """The bonus is what selects: zero it and relations other than the prompted one win."""
    construction = construct_disjoint(300, 3, disjoint_dimension(300, 3), seed=2)
    weights = dict(construction.weights)
    W_U = np.array(weights["unembed.W_U"])
    W_U[construction.residual["relation"]] = 0.0
    weights["unembed.W_U"] = W_U
    tokens, answers = construction.prompts()
    assert (independent_argmax(weights, tokens) == answers).mean() < 0.9


@pytest.mark.parametrize("codebook", ["grid", "gaussian"])
def test_its_dimension_beside_the_shared_attribute_construction(codebook):
    """Disjoint attributes cost no dimension over the shared block layout: both are R(k + 1)."""
    for n_subjects, n_relations in [(256, 1), (4096, 4), (65536, 16)]:
        disjoint = disjoint_dimension(n_subjects, n_relations, codebook=codebook)
        shared = proven_dimension(n_subjects, n_relations, layout="block", codebook=codebook)
        assert disjoint == shared


def test_a_disjoint_construction_is_no_shared_one():
    disjoint = construct_disjoint(200, 2, disjoint_dimension(200, 2), seed=3)
    shared = construct_single_hop(200, 2, disjoint.config.d_model, layout="block", codebook="grid")
    assert disjoint.vocabulary.n_attributes == 2 * shared.vocabulary.n_attributes
    report = disjoint.recall(method="certified")  # nothing to certify: the forward pass judges
    assert report.all_correct and report.n_certified == 0 and report.basis == "every_fact"
    assert "no certificate" in report.certificate_reason
    with pytest.raises(ValueError, match="no certificate"):
        disjoint.certify()


def test_new_facts_through_the_same_weights_by_rewriting_embeddings_only():
    from geoconstruct import random_facts
    from geoconstruct.analysis.mechanism.transfer import reinitialize

    construction = construct_disjoint(400, 3, disjoint_dimension(400, 3), seed=4)
    moved = reinitialize(construction, random_facts(400, 3, seed=9))
    assert moved.recall().accuracy == 1.0
    assert moved.weights["unembed.W_U"] is construction.weights["unembed.W_U"]


def test_the_memory_estimate_covers_the_coherence_check():
    """Regression: the estimate left out the coherence check's Gram block, so a budget well
    under the peak (30 MiB against 143.5 MiB) was accepted. A budget one byte under the measured
    peak must now be refused before anything is allocated."""
    import tracemalloc

    from geoconstruct import MemoryBudgetError

    n, r = 2000, 2
    d = disjoint_dimension(n, r, codebook="gaussian")
    tracemalloc.start()
    construct_disjoint(n, r, d, codebook="gaussian")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with pytest.raises(MemoryBudgetError, match="over the memory budget"):
        construct_disjoint(n, r, d, codebook="gaussian", memory_budget=peak - 1)
