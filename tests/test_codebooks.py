import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geoconstruct.codes.codebooks import (
    GaussianCodes,
    GridCodes,
    RademacherCodes,
    _draw_until_coherent,
    coherence,
)
from geoconstruct.codes.registry import resolve_codebook

UNIT_FAMILIES = [GaussianCodes(), RademacherCodes()]


@given(n_codes=st.integers(1, 5000), bits=st.integers(1, 12), extra=st.integers(0, 2))
def test_grid_codes_are_distinct_signed_integers_of_minimal_length(n_codes, bits, extra):
    family = GridCodes(bits=bits)
    length = family.min_code_length(n_codes)
    # minimal: length digits hold n_codes values, one digit fewer does not (unless length is 1)
    assert 2 ** (bits * length) >= n_codes
    assert length == 1 or 2 ** (bits * (length - 1)) < n_codes
    book = family.build(n_codes, length + extra, np.random.default_rng(0))
    codes = book.codes
    assert codes.shape == (n_codes, length + extra)
    assert np.array_equal(codes, np.round(codes))
    assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1
    assert len({tuple(row) for row in codes.tolist()}) == n_codes
    assert np.abs(codes).max() <= book.coordinate_bound
    assert np.linalg.norm(codes, axis=1).max() <= book.norm_bound


@given(n_codes=st.integers(2, 300), seed=st.integers(0, 2**32 - 1))
def test_grid_nearest_neighbour_decoding_tolerates_less_than_half(n_codes, seed):
    book = GridCodes(bits=3).build(n_codes, GridCodes(bits=3).min_code_length(n_codes), None)
    rng = np.random.default_rng(seed)
    # noise of max-norm < 1/2 per coordinate, scaled so its Euclidean norm is < 1/2 too
    noise = rng.uniform(-1, 1, size=book.codes.shape)
    noise *= 0.49 / np.maximum(np.linalg.norm(noise, axis=1, keepdims=True), 1e-12)
    assert book.decode(book.codes + noise).tolist() == list(range(n_codes))


@pytest.mark.parametrize("family", UNIT_FAMILIES, ids=lambda f: f.name)
@given(n_codes=st.integers(1, 400), extra=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_unit_codes_have_unit_norm_and_bounded_coherence(family, n_codes, extra, seed):
    length = family.min_code_length(n_codes) + extra
    book = family.build(n_codes, length, np.random.default_rng(seed))
    assert np.allclose(np.linalg.norm(book.codes, axis=1), 1.0, atol=1e-12)
    gram = book.codes @ book.codes.T
    np.fill_diagonal(gram, 0.0)
    assert np.abs(gram).max() <= family.max_coherence + 1e-12
    assert book.decode(book.codes).tolist() == list(range(n_codes))


@pytest.mark.parametrize("mu", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("n_codes", [2, 3, 10, 1000, 10**6])
def test_unit_code_length_is_the_smallest_where_the_union_bound_is_at_most_half(mu, n_codes):
    # The proof: P(coherence > mu) <= N(N-1) exp(-k mu^2 / 2) (two tails, N(N-1)/2 pairs).
    def failure_bound(k):
        return n_codes * (n_codes - 1) * math.exp(-k * mu**2 / 2)

    length = GaussianCodes(max_coherence=mu).min_code_length(n_codes)
    assert failure_bound(length) <= 0.5
    assert failure_bound(length - 1) > 0.5
    assert RademacherCodes(max_coherence=mu).min_code_length(n_codes) == length


def test_coherence_against_brute_force():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((37, 5))
    brute = max(
        abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))
        for a, b in itertools.combinations(vectors, 2)
    )
    assert coherence(vectors, block_rows=7) == pytest.approx(brute, abs=1e-12)
    assert coherence(vectors[:1]) == 0.0
    with pytest.raises(ValueError, match="zero code"):
        coherence([[0.0, 0.0], [1.0, 0.0]])


def test_random_codebooks_are_reproducible_by_seed():
    family = GaussianCodes()
    length = family.min_code_length(100)
    first = family.build(100, length, np.random.default_rng(5)).codes
    again = family.build(100, length, np.random.default_rng(5)).codes
    other = family.build(100, length, np.random.default_rng(6)).codes
    assert first.tobytes() == again.tobytes()
    assert not np.array_equal(first, other)


def test_an_unattainable_coherence_gives_up_with_a_clear_error():
    # two 1-d unit vectors are ±1: coherence 1 > 0.5 on every draw
    with pytest.raises(RuntimeError, match="no gaussian codebook"):
        _draw_until_coherent("gaussian", lambda: np.array([[1.0], [-1.0]]), 0.5, max_draws=3)


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("hadamard", ValueError, "codebook must be one of"),
        (3, ValueError, "codebook must be one of"),
        (None, ValueError, "codebook must be one of"),
    ],
)
def test_resolve_codebook_refuses_unknown_names(spec, error, message):
    with pytest.raises(error, match=message):
        resolve_codebook(spec)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: GridCodes(bits=0), ValueError, "bits"),
        (lambda: GridCodes(bits=17), ValueError, "bits"),
        (lambda: GridCodes(bits=2.5), TypeError, "bits"),
        (lambda: GaussianCodes(max_coherence=1.0), ValueError, "max_coherence"),
        (lambda: RademacherCodes(max_coherence=0), ValueError, "max_coherence"),
        (lambda: GridCodes().build(300, 1, None), ValueError, "code_length >= 2"),
        (lambda: GaussianCodes().build(10, 0, None), ValueError, "code_length"),
    ],
)
def test_bad_codebook_parameters_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_random_codes_below_the_coherent_length_are_drawn_once_without_the_guarantee():
    """Below ``min_code_length`` a random codebook is one seeded draw: unit vectors, no promise."""
    family = GaussianCodes()
    short = family.min_code_length(500) - 1
    assert not family.coherent_at(500, short) and family.coherent_at(500, short + 1)
    first = family.build(500, short, np.random.default_rng(4))
    again = family.build(500, short, np.random.default_rng(4))
    assert first.codes.tobytes() == again.codes.tobytes()  # one draw per seed
    assert np.allclose(np.linalg.norm(first.codes, axis=1), 1.0)
    tiny = RademacherCodes().build(500, 3, np.random.default_rng(0))
    assert tiny.coherence() > 1 - 1e-12  # 500 codes in {±1/√3}^3 repeat: nothing promised


def test_long_grid_codes_build_and_recall_without_a_warning():
    """256**k overflows int64 from k = 8: nothing may compute it (no RuntimeWarning)."""
    import warnings

    from geoconstruct import construct_single_hop

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        construction = construct_single_hop(1000, 4, 64, layout="block", codebook="grid")
        assert construction.codebook.code_length == 15
        assert construction.recall(method="certified").all_correct
