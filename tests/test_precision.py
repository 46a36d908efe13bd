"""Numeric formats, quantisation of the fact-dependent parameters, and storage efficiency."""

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geoconstruct.analysis.measurement.precision import (
    numeric_format,
    quantize,
    quantize_construction,
    storage_efficiency,
)
from geoconstruct.codes.codebooks import GridCodes
from geoconstruct.constructions.single_hop import construct_single_hop
from geoconstruct.constructions.single_hop_sizes import proven_dimension

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("name", "bits", "integer"),
    [("float64", 64, False), ("bfloat16", 16, False), ("int2", 2, True), ("int16", 16, True)],
)
def test_formats_parse(name, bits, integer):
    form = numeric_format(name)
    assert (form.name, form.bits, form.integer) == (name, bits, integer)


@pytest.mark.parametrize("name", ["int1", "int17", "int", "float8", "INT8", ""])
def test_unknown_formats_are_refused(name):
    with pytest.raises(ValueError, match="format must be one of"):
        numeric_format(name)
    with pytest.raises(TypeError, match="format must be a string"):
        numeric_format(8)


@given(values=st.lists(finite, min_size=1, max_size=40), bits=st.integers(2, 16))
@example(values=[5e-324, -1e-323], bits=8)  # subnormal: largest / top underflows to 0
def test_integer_formats_round_to_the_nearest_step(values, bits):
    quantized = quantize(values, f"int{bits}")
    original = np.asarray(values)
    steps = quantized.values / quantized.scale  # scale·q, divided back (one rounding)
    assert np.allclose(steps, np.rint(steps), rtol=0, atol=1e-6)
    assert np.all(np.abs(np.rint(steps)) <= 2 ** (bits - 1))
    assert quantized.max_error <= quantized.scale / 2 * (1 + 1e-9) + 1e-12
    assert quantized.max_error == pytest.approx(np.abs(quantized.values - original).max())


@given(
    values=st.lists(st.integers(-(2**15), 2**15 - 1), min_size=1, max_size=40),
    bits=st.integers(2, 16),
)
def test_integers_that_fit_are_kept_exactly(values, bits):
    top = 2 ** (bits - 1) - 1
    inside = [min(max(value, -top - 1), top) for value in values]
    quantized = quantize(inside, f"int{bits}")
    assert quantized.scale == 1.0 and quantized.max_error == 0.0
    assert quantized.values.tolist() == inside


@given(values=st.lists(st.floats(-6e4, 6e4, allow_nan=False), min_size=1, max_size=40))
def test_float_formats_round_to_nearest(values):
    original = np.asarray(values)
    assert np.array_equal(quantize(values, "float16").values, original.astype(np.float16))
    assert np.array_equal(quantize(values, "float32").values, original.astype(np.float32))
    bfloat = quantize(values, "bfloat16").values
    # 8 significant bits: relative error at most 2^-8 of the value (half a unit in the last place)
    single = original.astype(np.float32).astype(np.float64)
    assert np.all(np.abs(bfloat - single) <= np.abs(single) * 2.0**-8 + 1e-38)
    # and bfloat16 values have 16 zero low bits as float32
    assert not np.any(bfloat.astype(np.float32).view(np.uint32) & 0xFFFF)


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match="not finite"):
        quantize([1.0, np.inf], "int8")
    with pytest.raises(ValueError, match="overflow float16"):
        quantize([1e6], "float16")


def test_quantize_construction_changes_only_the_fact_dependent_block():
    c = construct_single_hop(
        500, 3, proven_dimension(500, 3, codebook="gaussian"), codebook="gaussian", seed=2
    )
    q = quantize_construction(c, "int8")
    for name, array in c.weights.items():
        if name != "embed.W_E":
            assert q.weights[name] is array
    before, after = np.array(c.weights["embed.W_E"]), np.array(q.weights["embed.W_E"])
    subject = c.residual["subject"]
    rows = slice(0, c.facts.n_subjects)
    assert np.array_equal(np.delete(before, subject, axis=1), np.delete(after, subject, axis=1))
    assert np.array_equal(before[c.facts.n_subjects :], after[c.facts.n_subjects :])
    assert np.array_equal(after[rows, subject], quantize(before[rows, subject], "int8").values)
    # the quantised model is judged as it is: certified and exact agree
    certified, exact = q.recall(method="certified"), q.recall()
    assert certified.n_correct == exact.n_correct == 1500


@settings(max_examples=30)
@given(log_n=st.integers(2, 22), bits=st.integers(2, 12), n_relations=st.integers(1, 5))
def test_grid_storage_efficiency_is_the_rounding_of_log2_n_to_digits(log_n, bits, n_relations):
    n_subjects = 2**log_n
    grid = GridCodes(bits=bits)
    k = grid.min_code_length(n_subjects)
    # the per-subject efficiency needs only d_s = R·k, not a construction
    expected = log_n / (bits * math.ceil(log_n / bits))
    assert k == math.ceil(log_n / bits)
    assert n_relations * log_n / (n_relations * k * bits) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("log_n", "bits", "n_relations"), [(16, 8, 4), (16, 8, 1), (20, 4, 2), (12, 4, 3)]
)
def test_grid_codes_meet_the_per_subject_bound_on_quantised_weights(log_n, bits, n_relations):
    n_subjects, grid = 2**log_n, GridCodes(bits=bits)
    d = proven_dimension(n_subjects, n_relations, layout="block", codebook=grid)
    c = construct_single_hop(
        n_subjects, n_relations, d, layout="block", codebook=grid, seed=1, dtype="float32"
    )
    q = quantize_construction(c, f"int{bits}")
    assert q.weights["embed.W_E"].tobytes() == c.weights["embed.W_E"].tobytes()  # lossless
    report = q.recall(method="certified")
    assert report.n_correct == report.n_facts and report.n_fallback == 0
    efficiency = storage_efficiency(q, f"int{bits}")
    bound = log_n / (bits * math.ceil(log_n / bits))
    assert efficiency.per_subject >= 0.99 * bound
    assert efficiency.per_subject == pytest.approx(1.0)  # log2 N is a multiple of p here
    assert efficiency.global_ < efficiency.per_subject  # R·log2 N! < N·R·log2 N


def test_lossy_quantisation_is_caught_by_the_judge():
    # 8-bit grid codes squeezed into int4 lose digits: recall must report the failures
    grid = {"layout": "block", "codebook": "grid"}
    c = construct_single_hop(4096, 2, proven_dimension(4096, 2, **grid), seed=0, **grid)
    q = quantize_construction(c, "int4")
    certified, exact = q.recall(method="certified"), q.recall()
    assert exact.n_correct < exact.n_facts
    assert certified.n_correct == exact.n_correct
