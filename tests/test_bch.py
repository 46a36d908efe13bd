"""Dual-BCH trace codes: the closed-form coherence against brute force, and the family rules."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct.codes.bch import (
    PRIMITIVE_POLYNOMIALS,
    antilog_table,
    coherence_bound,
    trace_words,
)
from geoconstruct.codes.codebooks import BCHCodes, TraceCode, coherence


@pytest.mark.parametrize("m", sorted(PRIMITIVE_POLYNOMIALS))
def test_every_table_polynomial_is_primitive(m):
    powers = antilog_table(m)
    assert powers.size == (1 << m) - 1
    assert sorted(powers.tolist()) == list(range(1, 1 << m))


@pytest.mark.parametrize(
    ("m", "t"), [(3, 1), (4, 1), (4, 2), (5, 2), (6, 2), (6, 3), (7, 2), (8, 2)]
)
def test_every_nonzero_word_obeys_the_carlitz_uchiyama_bound(m, t):
    """Brute force over the whole code: |n + 1 - 2·weight| <= 2(t-1)·2^(m/2)."""
    n = (1 << m) - 1
    words = trace_words(np.arange(1 << (m * t)), m, list(range(1, 2 * t, 2)))
    weights = words.sum(axis=1, dtype=np.int64)[1:]
    assert np.abs(n + 1 - 2 * weights).max() <= 2 * (t - 1) * 2 ** (m / 2) + 1e-9
    assert np.unique(words, axis=0).shape[0] == 1 << (m * t)  # 2^(m·t) distinct words
    if t == 1:  # the simplex code: every nonzero word has weight 2^(m-1)
        assert set(weights.tolist()) == {1 << (m - 1)}


@pytest.mark.parametrize(("m", "t"), [(5, 1), (5, 2), (6, 2), (7, 2)])
def test_pairwise_coherence_matches_the_closed_form(m, t):
    code = TraceCode(m=m, t=t)
    n_codes = min(code.capacity, 1500)
    measured = coherence(code.codes(n_codes, code.length))
    assert measured <= code.coherence_bound + 1e-12
    assert code.coherence_bound == pytest.approx(coherence_bound(m, 2 * t - 1))


@pytest.mark.parametrize(("m", "t", "n_relations"), [(5, 1, 4), (6, 1, 3), (6, 2, 4), (7, 2, 2)])
def test_sign_crosstalk_matches_the_closed_form(m, t, n_relations):
    """max |⟨s_r ⊙ s_r' ⊙ u_a, u_b⟩| over every r != r', a, b is within the crosstalk bound."""
    code = TraceCode(m=m, t=t)
    codes = code.codes(min(code.capacity, 600), code.length)
    signs = code.relation_signs(n_relations, code.length)
    worst = 0.0
    for r in range(n_relations):
        for other in range(n_relations):
            if r != other:
                flipped = codes * (signs[r] * signs[other])
                worst = max(worst, float(np.abs(flipped @ codes.T).max()))
    assert worst <= code.crosstalk_bound + 1e-12


@settings(max_examples=40)
@given(
    n_codes=st.integers(1, 10**6),
    n_relations=st.integers(1, 8),
    max_coherence=st.sampled_from([0.3, 0.5, 0.875]),
)
def test_design_is_the_shortest_code_within_the_bound(n_codes, n_relations, max_coherence):
    family = BCHCodes(max_coherence=max_coherence)
    try:
        code = family.design(n_codes, n_relations)
    except ValueError as error:
        assert "no bch code" in str(error)
        return
    assert code.capacity >= n_codes
    assert code.interference(n_relations) <= max_coherence
    for m in range(2, code.m):  # no shorter field works, with any t that holds N codes
        t = max(1, math.ceil(math.log2(n_codes) / m)) if n_codes > 1 else 1
        shorter = TraceCode(m=m, t=t)
        assert (
            shorter.interference(n_relations) > max_coherence
            or n_relations > 1 << m
            or 2 * t + 1 >= shorter.length
        )


def test_build_pads_to_the_code_length_and_keeps_unit_norm():
    book = BCHCodes().build(100, 40, np.random.default_rng(0))
    assert book.codes.shape == (100, 40)
    assert book.trace_code.length == 31
    assert np.allclose(np.linalg.norm(book.codes, axis=1), 1.0)
    assert not book.codes[:, 31:].any()
    with pytest.raises(ValueError, match="code_length >= 31"):
        BCHCodes().build(100, 30, np.random.default_rng(0))


def test_words_out_of_range_are_refused():
    with pytest.raises(ValueError, match=r"messages must lie in \[0, 2\^3\)"):
        trace_words([8], 3, [1])
    with pytest.raises(ValueError, match="m must be in"):
        antilog_table(17)
