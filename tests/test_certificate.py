"""The certificate against its judge, the forward pass: certified ⇒ exact, on sound and broken
weights."""

import dataclasses
import tracemalloc
from types import MappingProxyType

import numpy as np
import pytest
from cases import LAYOUT_CODEBOOKS, SUPERPOSED_BCH
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import (
    MemoryBudgetError,
    construct_single_hop,
    proven_dimension,
    required_dimension,
)
from geoconstruct.codes.codebooks import GridCodes
from geoconstruct.verification.certificate import _fraction_bits, certificate_bytes


def exactly_correct(construction):
    """Per query (q = r·N + s): does the forward pass's argmax give the right attribute?"""
    tokens, answers = construction.prompts()
    subjects, relations = tokens[:, 0], tokens[:, 1] - construction.vocabulary.relation_offset
    predicted = construction.predict(subjects, relations)
    return predicted == answers - construction.vocabulary.attribute_offset


def assert_sound(construction):
    """Every certified query is one the forward pass answers correctly; recall reports agree."""
    certificate = construction.certify()
    correct = exactly_correct(construction)
    assert not np.any(certificate.certified & ~correct), "certified a query the model gets wrong"
    certified_report = construction.recall(method="certified")
    exact_report = construction.recall()
    assert certified_report.n_correct == exact_report.n_correct == int(correct.sum())
    assert certified_report.n_fallback == int((~certificate.certified).sum())
    assert certified_report.min_margin <= exact_report.min_margin
    return certificate, correct


def with_weights(construction, **changes):
    """A copy of ``construction`` whose named weights are replaced (and frozen again)."""
    weights = dict(construction.weights)
    for name, array in changes.items():
        array = np.ascontiguousarray(array, dtype=construction.config.dtype)
        array.flags.writeable = False
        weights[name.replace("__", ".")] = array
    return dataclasses.replace(construction, weights=MappingProxyType(weights))


def build(n_subjects, n_relations, layout, codebook, seed, dtype="float64"):
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    return construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed, dtype=dtype
    )


@pytest.mark.parametrize(("layout", "codebook"), LAYOUT_CODEBOOKS)
@settings(max_examples=12)
@given(
    n_subjects=st.integers(2, 120),
    n_relations=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_certified_implies_exact(layout, codebook, n_subjects, n_relations, seed, dtype):
    construction = build(n_subjects, n_relations, layout, codebook, seed, dtype)
    certificate, correct = assert_sound(construction)
    if construction.guarantee.scope == "every_draw":  # superposed: with probability 0.99 only
        assert correct.all()
    if layout == "block":
        # the block layout reads the clean code: the certificate proves every query
        assert certificate.reason is None
        assert certificate.certified.all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_grid_constructions_are_exact_in_floating_point(dtype):
    construction = build(700, 3, "block", "grid", seed=2, dtype=dtype)
    certificate = construction.certify()
    assert certificate.rounding_error == 0.0
    assert certificate.margins.min() == 0.5  # exact arithmetic: no rounding slack at all


@settings(max_examples=12, deadline=None)
@given(
    bits=st.integers(1, 12),
    n_subjects=st.integers(2, 3000),
    n_relations=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_grid_codes_in_float32_certify_at_margin_one_half_at_every_accepted_width(
    bits, n_subjects, n_relations, seed
):
    """Regression: at 10–12 bits the stagewise magnitude bound overflowed float32's significand,
    so nothing was certified (the rounding bound read 3.6–81) and the search raised."""
    family = GridCodes(bits=bits)
    d = required_dimension(n_subjects, n_relations, layout="block", codebook=family)
    try:
        construction = construct_single_hop(
            n_subjects, n_relations, d, layout="block", codebook=family, dtype="float32", seed=seed
        )
    except ValueError as error:  # this width and code length are not exact in float32
        assert "not exact in float32" in str(error)
        return
    report = construction.recall(method="certified")
    assert report.n_fallback == 0 and report.all_correct
    certificate = construction.certify()
    assert certificate.rounding_error == 0.0
    assert certificate.margins.min() == 0.5


@pytest.mark.parametrize("bits", [10, 11, 12])
def test_the_widest_grid_codes_certify_every_query_in_float32(bits):
    family = GridCodes(bits=bits)
    d = required_dimension(4096, 4, layout="block", codebook=family)
    construction = construct_single_hop(
        4096, 4, d, layout="block", codebook=family, dtype="float32"
    )
    assert construction.recall(method="certified").n_fallback == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_a_swapped_embedding_row_is_not_certified(dtype, seed, data):
    construction = build(60, 3, "block", "grid", seed, dtype)
    first, second = data.draw(st.lists(st.integers(0, 59), min_size=2, max_size=2, unique=True))
    W_E = np.array(construction.weights["embed.W_E"])
    W_E[[first, second]] = W_E[[second, first]]
    broken = with_weights(construction, embed__W_E=W_E)
    certificate, correct = assert_sound(broken)
    assert not correct.all()
    assert not certificate.certified[~correct].any()


@pytest.mark.parametrize(("layout", "codebook"), LAYOUT_CODEBOOKS)
@pytest.mark.parametrize("change", [1.0, -0.25, 0.5])
def test_a_changed_gate_bias_is_not_certified(layout, codebook, change):
    construction = build(40, 3, layout, codebook, seed=5)
    b_in = np.array(construction.weights["blocks.0.mlp.b_in"])
    b_in[0] += change * construction.metadata.gate_scale  # relation 0's first pair
    broken = with_weights(construction, blocks__0__mlp__b_in=b_in)
    certificate, _ = assert_sound(broken)
    assert certificate.reason is not None
    assert certificate.n_certified == 0


@pytest.mark.parametrize(("layout", "codebook"), LAYOUT_CODEBOOKS)
@pytest.mark.parametrize("coordinate_change", [0.01, 0.6, 3.0])
def test_a_perturbed_unembedding_column_is_not_certified(layout, codebook, coordinate_change):
    construction = build(40, 2, layout, codebook, seed=6)
    W_U = np.array(construction.weights["unembed.W_U"])
    column = construction.vocabulary.attribute_offset + 7
    W_U[construction.residual["output"].start, column] += coordinate_change
    broken = with_weights(construction, unembed__W_U=W_U)
    certificate, _ = assert_sound(broken)
    assert certificate.n_certified == 0
    assert "codebook" in certificate.reason


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**32 - 1),
    subject=st.integers(0, 29),
    coordinate=st.integers(0, 5),
    shift=st.sampled_from([0.5, -0.5, 0.4999, 0.5001, 0.2, -0.7, 1.5]),
)
def test_subject_rows_pushed_towards_a_neighbour(seed, subject, coordinate, shift):
    # block grid layout, k = 1 per relation slot: coordinate j is relation j's code
    construction = build(30, 6, "block", "grid", seed, "float64")
    W_E = np.array(construction.weights["embed.W_E"])
    W_E[subject, coordinate] += shift
    broken = with_weights(construction, embed__W_E=W_E)
    certificate, correct = assert_sound(broken)
    query = coordinate * 30 + subject
    if abs(shift) >= 0.5:  # a tie or worse: never provable
        assert not certificate.certified[query]
    else:
        assert certificate.certified[query] and correct[query]
    others = np.delete(np.arange(certificate.certified.size), query)
    assert certificate.certified[others].all()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("blocks.0.attn.W_Q", "W_Q"),
        ("blocks.0.attn.W_K", "W_K"),
        ("blocks.0.mlp.W_out", "output rows"),
    ],
)
def test_structure_changes_that_the_theorem_does_not_cover_fall_back(name, reason):
    construction = build(50, 2, "block", "grid", seed=3)
    array = np.array(construction.weights[name])
    array.reshape(-1)[0] += 0.25
    broken = with_weights(construction, **{name.replace(".", "__"): array})
    certificate, _ = assert_sound(broken)
    assert certificate.n_certified == 0
    assert reason in certificate.reason


def test_random_codes_beyond_the_coherence_work_limit_fall_back(monkeypatch):
    import geoconstruct.verification.certificate as certificate_module

    monkeypatch.setattr(certificate_module, "COHERENCE_WORK_LIMIT", 10)
    construction = build(30, 2, "block", "gaussian", seed=1)
    report = construction.recall(method="certified")
    assert report.n_fallback == report.n_facts == report.n_correct
    assert "coherence" in construction.certify().reason


def test_certificate_memory_guard_refuses_fast_and_allocates_nothing_large():
    construction = build(200_000, 4, "block", "grid", seed=0)
    needed = certificate_bytes(
        construction.config, construction.queries.prompt_layout(construction)
    )
    tracemalloc.start()
    try:
        with pytest.raises(MemoryBudgetError, match=f"{needed:,} bytes"):
            construction.recall(method="certified", memory_budget=needed - 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused before anything large was allocated


@pytest.mark.parametrize(
    ("n_subjects", "n_relations", "layout", "codebook", "dtype"),
    [
        (50_000, 8, "block", "grid", "float64"),
        (20_000, 4, "block", "bch", "float32"),
        (2_000, 3, "superposed", SUPERPOSED_BCH, "float32"),
    ],
)
def test_certificate_peak_memory_is_within_its_estimate(
    n_subjects, n_relations, layout, codebook, dtype
):
    construction = build(n_subjects, n_relations, layout, codebook, seed=0, dtype=dtype)
    needed = certificate_bytes(
        construction.config, construction.queries.prompt_layout(construction)
    )
    tracemalloc.start()
    try:
        certificate = construction.certify()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert certificate.certified.all()
    assert peak <= needed, (peak, needed)


def test_recall_method_is_checked():
    construction = build(20, 2, "block", "grid", seed=0)
    with pytest.raises(ValueError, match="method must be one of 'exact', 'certified'"):
        construction.recall(method="fast")


@given(
    values=st.lists(st.integers(-(2**20), 2**20).map(lambda n: n / 2**5), min_size=1, max_size=20)
)
def test_fraction_bits_finds_the_coarsest_grid(values):
    bits = _fraction_bits(values)
    assert bits is not None and 0 <= bits <= 5
    scaled = np.asarray(values) * 2.0**bits
    assert np.array_equal(scaled, np.round(scaled))
    if bits > 0:
        coarser = np.asarray(values) * 2.0 ** (bits - 1)
        assert not np.array_equal(coarser, np.round(coarser))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_subjects", "n_relations", "layout", "codebook", "dtype"),
    [
        (30_000, 8, "block", "grid", "float32"),
        (3_000, 4, "superposed", SUPERPOSED_BCH, "float32"),
        (3_000, 4, "block", "gaussian", "float32"),
    ],
)
def test_certified_and_exact_agree_at_scale(n_subjects, n_relations, layout, codebook, dtype):
    construction = build(n_subjects, n_relations, layout, codebook, seed=7, dtype=dtype)
    certified = construction.recall(method="certified")
    exact = construction.recall()
    assert certified.n_fallback == 0
    assert certified.n_correct == exact.n_correct == n_subjects * n_relations
    assert 0 < certified.min_margin <= exact.min_margin


def test_a_construction_sitting_exactly_on_a_bound_is_not_certified():
    """Two attributes share one code (coherence exactly 1), or differ below float64 resolution:
    the true margin of their queries is 0 (a tie) or about 1e-17. The certificate, with its
    float64 slack on the measured coherence and norms, must leave every such query open, and the
    certified report must agree with the forward pass."""
    import dataclasses

    from geoconstruct.constructions import single_hop

    base = construct_single_hop(
        200, 2, proven_dimension(200, 2, codebook="gaussian"), codebook="gaussian", seed=3
    )
    for nudge in (0.0, 1e-17):
        codes = np.array(base.codebook.codes)
        codes[1] = codes[0] + nudge * codes[2]
        codes[1] /= np.linalg.norm(codes[1])
        codes.flags.writeable = False
        tied = dataclasses.replace(base.codebook, codes=codes)
        construction = single_hop.assemble(
            base.facts, tied, base.metadata, base.config.d_model, base.config.dtype, base.seed
        )
        certificate = construction.certify()
        answers = construction.facts.permutations.reshape(-1)  # query q = r·N + s
        assert not certificate.certified[np.isin(answers, [0, 1])].any()
        exact, certified = construction.recall(), construction.recall(method="certified")
        assert certified.n_correct == exact.n_correct
