"""What makes N = 2^20 buildable and measurable: the tiled unembedding, the unchecked-coherence
regime, and the embeddings superposed a chunk of subjects at a time."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension
from geoconstruct.codes import codebooks
from geoconstruct.constructions import layouts, single_hop
from geoconstruct.constructions.single_hop import construction_bytes, superpose
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


def test_above_the_work_limit_the_codes_are_drawn_once_and_their_tail_joins_delta(monkeypatch):
    n, r = 300, 3
    d = proven_dimension(n, r)
    checked = construct_single_hop(n, r, d, seed=4)
    monkeypatch.setattr(layouts, "COHERENCE_CHECK_WORK", 0)
    monkeypatch.setattr(codebooks, "coherence", _refuse_to_check)
    unchecked = construct_single_hop(n, r, d, seed=4)

    k = unchecked.codebook.code_length
    tail = n * (n - 1) * math.exp(-k * 0.5**2 / 2)  # proofs/unit_codes.md, μ = 1/2
    assert unchecked.guarantee.scope == "with_probability"
    assert unchecked.guarantee.failure_probability == pytest.approx(0.01 + tail, rel=1e-12)
    assert "unchecked" in unchecked.guarantee.statement
    assert checked.guarantee.failure_probability == 0.01
    assert unchecked.recall().all_correct
    # The first draw passes the check at this length, so skipping it changes no weight.
    for name, array in checked.weights.items():
        assert np.array_equal(array, unchecked.weights[name]), name


def test_below_the_work_limit_the_codes_are_checked(monkeypatch):
    monkeypatch.setattr(codebooks, "coherence", _refuse_to_check)
    with pytest.raises(AssertionError, match="the coherence was checked"):
        construct_single_hop(300, 3, proven_dimension(300, 3), seed=4)


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


def test_the_memory_estimate_bounds_the_peak_where_the_coherence_is_not_checked(monkeypatch):
    n, r = 400, 3
    d = proven_dimension(n, r)
    checked = construction_bytes(n, r, d)
    monkeypatch.setattr(layouts, "COHERENCE_CHECK_WORK", 0)
    unchecked = construction_bytes(n, r, d)
    assert unchecked < checked  # no block of the Gram matrix to plan for
    tracemalloc.start()
    try:
        construct_single_hop(n, r, d)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= unchecked, (peak, unchecked)
