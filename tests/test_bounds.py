"""Bounds against independent computations: sympy factorials and brute-force counting."""

import contextlib
import itertools
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import proven_dimension
from geoconstruct.analysis.theory.bounds import (
    cap_fraction,
    global_bits,
    global_min_dimension,
    global_min_params,
    log2_factorial,
    packing_min_code_length,
    per_subject_bits,
    per_subject_min_dimension,
    subject_dimension,
)
from geoconstruct.codes.codebooks import BCHCodes, GaussianCodes, TraceCode


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 57, 200])
def test_log2_factorial_matches_sympy(n):
    exact = sp.log(sp.factorial(n), 2)
    assert log2_factorial(n) == pytest.approx(float(exact.evalf(30)), rel=1e-13, abs=1e-12)


@given(n_subjects=st.integers(1, 300), n_relations=st.integers(1, 16))
def test_global_bits_is_r_times_log2_factorial(n_subjects, n_relations):
    exact = n_relations * sp.log(sp.factorial(n_subjects), 2)
    assert global_bits(n_subjects, n_relations) == pytest.approx(float(exact.evalf(30)), rel=1e-12)


@pytest.mark.parametrize(("n_subjects", "n_relations"), [(2, 1), (3, 1), (3, 2), (4, 2), (2, 3)])
def test_bounds_count_by_brute_force(n_subjects, n_relations):
    permutations = list(itertools.permutations(range(n_subjects)))
    fact_sets = list(itertools.product(permutations, repeat=n_relations))
    # global: the number of distinct fact sets is 2^(global bits)
    assert len(set(fact_sets)) == pytest.approx(2 ** global_bits(n_subjects, n_relations))
    # per subject: the tuples (π_1(s), ..., π_R(s)) over all fact sets number 2^(per-subject bits)
    for subject in range(n_subjects):
        tuples = {tuple(pi[subject] for pi in facts) for facts in fact_sets}
        assert len(tuples) == pytest.approx(2 ** per_subject_bits(n_subjects, n_relations))


@given(n_subjects=st.integers(2, 10**6), n_relations=st.integers(1, 16), bits=st.integers(1, 16))
def test_min_dimension_and_params_are_the_rounded_up_bounds(n_subjects, n_relations, bits):
    d = per_subject_min_dimension(n_subjects, n_relations, bits)
    # smallest integer d with 2^(bits·d) >= N^R, checked in exact integer arithmetic
    assert 2 ** (bits * d) >= n_subjects**n_relations
    assert 2 ** (bits * (d - 1)) < n_subjects**n_relations
    params = global_min_params(n_subjects, n_relations, bits)
    assert params * bits >= global_bits(n_subjects, n_relations) - 1e-6
    assert (params - 1) * bits < global_bits(n_subjects, n_relations) + 1e-6


@given(m=st.integers(1, 3), n_relations=st.integers(1, 16), bits=st.sampled_from([4, 8]))
def test_block_grid_meets_the_per_subject_bound_at_powers_of_the_radix(m, n_relations, bits):
    from geoconstruct.codes.codebooks import GridCodes

    n_subjects = 2 ** (bits * m)
    achieved = subject_dimension(n_subjects, n_relations, codebook=GridCodes(bits=bits))
    assert achieved == per_subject_min_dimension(n_subjects, n_relations, bits)
    # and the construction's d_model is d_s + R (the block layout, read out in place)
    d = proven_dimension(n_subjects, n_relations, layout="block", codebook=GridCodes(bits=bits))
    assert d == achieved + n_relations


def test_bound_arguments_are_validated():
    with pytest.raises(ValueError, match="n_subjects"):
        global_bits(0, 1)
    with pytest.raises(TypeError, match="bits"):
        per_subject_min_dimension(10, 2, 8.0)
    with pytest.raises(ValueError, match="bits"):
        global_min_params(10, 2, 0)
    assert math.isclose(per_subject_bits(1, 5), 0.0)


@pytest.mark.parametrize("dimension", [2, 3, 5, 9])
@pytest.mark.parametrize("angle", [0.2, 0.7, 1.3])
def test_cap_fraction_matches_monte_carlo(dimension, angle):
    rng = np.random.default_rng(dimension)
    points = rng.standard_normal((200_000, dimension))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    inside = np.mean(points[:, 0] >= math.cos(angle))
    assert cap_fraction(dimension, angle) == pytest.approx(inside, abs=4e-3)


@settings(max_examples=30)
@given(n_codes=st.integers(2, 10**6), coherence=st.sampled_from([0.3, 0.5, 0.875]))
def test_every_unit_codebook_respects_the_packing_bound(n_codes, coherence):
    bound = packing_min_code_length(n_codes, coherence)
    assert bound <= GaussianCodes(max_coherence=coherence).min_code_length(n_codes)
    with contextlib.suppress(ValueError):  # no bch code within the bound: nothing to compare
        assert bound <= BCHCodes(max_coherence=coherence).min_code_length(n_codes)
    # monotone: more codes or a stricter coherence never need fewer dimensions
    assert packing_min_code_length(2 * n_codes, coherence) >= bound
    assert packing_min_code_length(n_codes, coherence / 2) >= bound


@pytest.mark.parametrize(("m", "t"), [(5, 1), (6, 2), (7, 2), (8, 3)])
def test_bch_codes_respect_the_packing_bound(m, t):
    code = TraceCode(m=m, t=t)
    assert packing_min_code_length(code.capacity, code.coherence_bound) <= code.length


def test_packing_bound_in_two_and_three_dimensions():
    # near-orthogonal codes: the 2N points ±u_a have disjoint caps of angle π/4; the circle
    # holds 4 such caps (fraction 1/4 each), so N <= 2; the sphere (1 - cos π/4)/2 = 0.146 each,
    # so 2N <= 6.8 and N <= 3. Both are tight: 2 and 3 orthogonal vectors exist. N = 1 fits on
    # the line; two codes there are ±1, coherence 1.
    assert packing_min_code_length(1, 1e-9) == 1
    assert packing_min_code_length(2, 1e-9) == 2
    assert packing_min_code_length(3, 1e-9) == 3
    assert packing_min_code_length(4, 1e-9) == 4


def test_global_min_dimension_agrees_with_the_global_bound():
    for n_subjects, n_relations, bits in [(2**8, 1, 8), (2**16, 4, 8), (1000, 3, 4)]:
        d = global_min_dimension(n_subjects, n_relations, bits)
        assert n_subjects * d * bits >= global_bits(n_subjects, n_relations)
        assert n_subjects * (d - 1) * bits < global_bits(n_subjects, n_relations)
