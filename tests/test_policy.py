"""The verification policy: every fact or a labelled sample, and a check that stops at its first
miss but reaches the verdict a full forward pass reaches."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, required_dimension
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.construction import Construction
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.verification.policy import (
    EXACT_WORK_LIMIT,
    check_recall,
    exact_work,
    failing_upper_bound,
    sample_for,
)
from geoconstruct.verification.report import accuracy_interval


@settings(max_examples=20, deadline=None)
@given(
    n_subjects=st.integers(2, 1500),
    n_relations=st.integers(1, 4),
    extra=st.integers(0, 120),
    seed=st.integers(0, 2**16),
    certify=st.booleans(),
)
def test_the_verdict_is_the_full_passes(n_subjects, n_relations, extra, seed, certify):
    d = required_dimension(n_subjects, n_relations) + extra
    construction = construct_single_hop(n_subjects, n_relations, d, seed=seed, dtype="float32")
    verdict = check_recall(construction, seed=seed, certify=certify)
    report = construction.recall()
    assert verdict.passed == report.all_correct
    expected = "certified" if certify and verdict.n_certified else "every_fact"
    assert verdict.basis == expected and verdict.n_queries == report.n_queries
    assert verdict.n_certified <= report.n_correct  # the certificate never proves a miss
    assert verdict.n_checked <= verdict.n_queries - verdict.n_certified
    if verdict.passed:
        assert verdict.n_checked == verdict.n_queries - verdict.n_certified
        assert verdict.failing_facts_upper == 0.0
    assert verdict.multiply_adds == verdict.n_checked * exact_work(construction) // (
        construction.total_queries
    )


@settings(max_examples=20, deadline=None)
@given(
    n_subjects=st.integers(2, 600),
    n_relations=st.integers(1, 4),
    code_length=st.integers(1, 12),
    codebook=st.sampled_from(["grid", "gaussian"]),
    noise=st.sampled_from([0.0, 0.3, 3.0]),
    seed=st.integers(0, 2**16),
)
def test_a_certified_verdict_is_the_full_passes(
    n_subjects, n_relations, code_length, codebook, noise, seed
):
    """Certify first on the block layout (where the certificate proves facts), with the subject
    rows perturbed so that some queries fail: the verdict is what the full pass decides."""
    layout = resolve_layout("block")
    family = resolve_codebook(codebook)
    code_length = max(
        code_length, layout.relations.min_code_length(n_subjects, n_relations, family)
    )
    d = layout.dimension(n_relations, code_length)
    built = construct_single_hop(
        n_subjects, n_relations, d, layout="block", codebook=codebook, seed=seed
    )
    rows = built.subject_embeddings
    rows = rows + np.random.default_rng(seed).normal(0, noise * rows.std() + 1e-3, rows.shape)
    construction = built.with_subject_embeddings(rows, change="noise")
    verdict = check_recall(construction, seed=seed)
    report = construction.recall()
    assert verdict.passed == report.all_correct
    assert verdict.basis == ("certified" if verdict.n_certified else "every_fact")
    assert verdict.n_certified <= report.n_correct


def test_no_time_is_spent_on_a_certificate_that_can_prove_nothing(monkeypatch):
    construction = construct_single_hop(256, 2, 80, seed=0)
    assert construction.uncertifiable is not None

    def refuse(*args, **kwargs):
        raise AssertionError("the certificate ran")

    monkeypatch.setattr(Construction, "certify", refuse)
    assert check_recall(construction).basis == "every_fact"
    report = construction.recall(method="certified")
    assert report.n_certified == 0 and report.certificate_reason == construction.uncertifiable


def test_a_failing_construction_stops_at_its_first_miss():
    construction = construct_single_hop(3000, 4, 30, seed=0, dtype="float32")  # far below
    verdict = check_recall(construction)
    assert not verdict.passed
    assert verdict.n_checked <= 2048 < verdict.n_queries == 12_000  # one or two blocks
    with ThreadPoolExecutor(2) as pool:  # chunk by chunk, the later chunks cancelled
        assert not check_recall(construction, executor=pool).passed


def test_the_same_seed_checks_the_same_queries():
    construction = construct_single_hop(3000, 4, 60, seed=0, dtype="float32")
    first, again = check_recall(construction, seed=3), check_recall(construction, seed=3)
    assert (first.passed, first.n_checked) == (again.passed, again.n_checked)


def test_past_the_work_limit_a_sample_is_labelled_with_its_bounds():
    construction = construct_single_hop(400, 2, 120, seed=0)
    assert sample_for(construction) is None and exact_work(construction) <= EXACT_WORK_LIMIT
    verdict = check_recall(construction, exact_work_limit=0, sample_size=300)
    assert verdict.passed and verdict.basis == "sampled" and verdict.n_queries == 300
    low, _ = accuracy_interval(300, 300, 800)
    assert verdict.failing_fraction_upper == pytest.approx(1 - low)
    assert verdict.failing_facts_upper == pytest.approx((1 - low) * 800)
    assert 0 < verdict.failing_fraction_upper < 0.03


@settings(max_examples=30, deadline=None)
@given(population=st.integers(1, 10**6), share=st.floats(0.001, 1.0))
def test_the_failing_bound_shrinks_with_the_sample(population, share):
    n = max(1, int(population * share))
    bound = failing_upper_bound(n, population)
    assert 0.0 <= bound <= 1.0
    if n == population:  # every query checked: nothing can fail
        assert bound == 0.0
    else:  # at most the share left unsampled can fail (to rounding: 1 − 1/3 is one ulp above 2/3)
        assert bound <= (population - n) / population + 1e-12
    if n < population:
        assert failing_upper_bound(min(population, 2 * n), population) <= bound


def test_bad_arguments_are_refused():
    construction = construct_single_hop(100, 2, 40)
    with pytest.raises(ValueError, match="backend"):
        check_recall(construction, backend="jax")
    with pytest.raises(ValueError, match="sample_size"):
        check_recall(construction, sample_size=0)
    with pytest.raises(ValueError, match="exact_work_limit"):
        check_recall(construction, exact_work_limit=-1)
