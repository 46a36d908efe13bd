"""What makes N = 2^20 buildable and measurable: the tiled unembedding, codes drawn once with no
coherence check, and the embeddings superposed a chunk of subjects at a time."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.codes import codebooks
from geoconstruct.constructions import single_hop
from geoconstruct.constructions.single_hop import superpose
from geoconstruct.constructions.single_hop_sizes import memory_plan
from geoconstruct.model.linear_maps import LinearMap
from geoconstruct.verification.evaluation import _reduce_tiles


@st.composite
def unembeddings(draw):
    """Integer weights (every order of summation is exact) on a band of columns, small integer
    biases (ties are common), integer inputs, and an answer per row anywhere in the vocabulary."""
    d_in, d_out, n = draw(st.integers(1, 5)), draw(st.integers(1, 40)), draw(st.integers(1, 6))
    low = draw(st.integers(0, d_out))
    high = draw(st.integers(low, d_out))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weight = np.zeros((d_in, d_out))
    weight[:, low:high] = rng.integers(-2, 3, size=(d_in, high - low))
    bias = rng.integers(-2, 3, size=d_out).astype(np.float64)
    x = rng.integers(-2, 3, size=(n, d_in)).astype(np.float64)
    target = rng.integers(0, d_out, size=n)
    width = draw(st.integers(1, d_out + 3))
    return weight, bias, x, target, width


@settings(max_examples=200, deadline=None)
@given(case=unembeddings())
def test_tiles_reduce_to_what_the_whole_row_gives(case):
    weight, bias, x, target, width = case
    linear = LinearMap.of(weight, bias)
    logits = x @ weight + bias  # [n, d_out], exact: small integers
    rows = np.arange(x.shape[0])
    others = logits.copy()
    others[rows, target] = -np.inf

    buffer = np.empty((x.shape[0], max(width, weight.shape[1])))
    summary = _reduce_tiles(linear.column_tiles(x, width, buffer), x.shape[0], target)
    unasked = _reduce_tiles(linear.column_tiles(x, width, buffer), x.shape[0], None)

    assert summary.predicted.tolist() == np.argmax(logits, axis=1).tolist()  # first of ties
    assert unasked.predicted.tolist() == np.argmax(logits, axis=1).tolist()
    assert summary.answer_logit.tolist() == logits[rows, target].tolist()
    assert summary.best_other.tolist() == others.max(axis=1).tolist()


def test_a_bias_only_tile_is_one_row_for_every_prompt():
    weight = np.zeros((2, 6))
    weight[:, 4:] = 1.0
    linear = LinearMap.of(weight, np.arange(6.0))
    shapes = [tile.shape for _, tile in linear.column_tiles(np.ones((3, 2)), 2, np.empty((3, 2)))]
    assert shapes == [(1, 2), (1, 2), (3, 2)]


def _refuse_to_check(codes):
    raise AssertionError("the coherence was checked")


def test_the_superposed_layout_draws_its_codes_once_and_never_checks_them(monkeypatch):
    """R >= 2: the theorem averages over the codes' draw, so no coherence check runs, at any N."""
    monkeypatch.setattr(codebooks, "coherence", _refuse_to_check)
    n, r = 300, 3
    construction = construct_single_hop(n, r, proven_dimension(n, r), seed=4)
    assert construction.guarantee.scope == "with_probability"
    assert construction.guarantee.failure_probability == 0.01
    assert "codes and the read maps" in construction.guarantee.statement
    assert construction.recall().all_correct


def test_with_one_relation_the_codes_are_checked(monkeypatch):
    """R = 1: no crosstalk, and the proof is the coherence bound's, so the codes are checked."""
    monkeypatch.setattr(codebooks, "coherence", _refuse_to_check)
    with pytest.raises(AssertionError, match="the coherence was checked"):
        construct_single_hop(300, 1, proven_dimension(300, 1), seed=4)


def test_embeddings_superposed_a_chunk_of_subjects_at_a_time_are_the_whole_superposition(
    monkeypatch,
):
    whole = construct_single_hop(500, 3, 120, seed=2)
    monkeypatch.setattr(single_hop, "SUBJECT_CHUNK", 7)
    chunked = construct_single_hop(500, 3, 120, seed=2)
    expected = superpose(whole.facts, whole.codebook.codes, whole.metadata.read_maps)
    subject_span = whole.residual["subject"]
    assert np.allclose(chunked.weights["embed.W_E"][:500, subject_span], expected, atol=1e-12)
    assert np.allclose(chunked.weights["embed.W_E"], whole.weights["embed.W_E"], atol=1e-12)
    assert chunked.recall().n_correct == whole.recall().n_correct


def test_the_memory_estimate_bounds_the_peak_of_a_superposed_build():
    n, r = 400, 3
    d = proven_dimension(n, r)
    estimate = memory_plan(n, r, d).total
    tracemalloc.start()
    try:
        construct_single_hop(n, r, d)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate, (peak, estimate)
