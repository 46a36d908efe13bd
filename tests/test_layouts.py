"""Layouts as objects, and the in-place read-out (the output shares the subject subspace).

The in-place layouts were the first construction variant added on the one mechanism: they live
in ``constructions/layouts.py`` alone, and are now the default ``block`` and ``superposed``; the
separate output subspace remains as ``block_separate`` and ``superposed_separate``. Their
dimension formulas are computed here from the issue's statement (block: R·(k + 1); superposed:
k + R), not from the code.
"""

import numpy as np
import pytest
from cases import dimension_with_slack
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension, required_dimension
from geoconstruct.codes.registry import resolve_codebook
from geoconstruct.constructions.layouts import LAYOUTS, resolve_layout
from geoconstruct.constructions.superposed_bound import superposed_failure_bound
from geoconstruct.model.transformer import forward

IN_PLACE = [
    ("block", "grid"),
    ("block", "gaussian"),
    ("block", "rademacher"),
    ("superposed", "gaussian"),
    ("superposed", "rademacher"),
    ("superposed", "bch"),
]


def expected_dimension(layout, n_relations, k):
    return n_relations * (k + 1) if layout == "block" else k + n_relations


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    n_subjects=st.integers(2, 300),
    n_relations=st.integers(1, 5),
    setting=st.sampled_from(IN_PLACE),
    seed=st.integers(0, 2**32 - 1),
    extra=st.integers(0, 3),
)
def test_in_place_read_out_recalls_every_fact(n_subjects, n_relations, setting, seed, extra):
    """Every fact, on every draw where the guarantee is every draw; for superposed random codes,
    whose guarantee is a probability, at a d where the theorem's bound is at most 1e-7 (so the 15
    draws fail by chance with probability at most 1.5e-6, a union bound)."""
    layout, codebook = setting
    shape, family = resolve_layout(layout), resolve_codebook(codebook)
    k = shape.relations.min_code_length(n_subjects, n_relations, family)
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    assert d == expected_dimension(layout, n_relations, k)
    d = dimension_with_slack(n_subjects, n_relations, layout, codebook, 1e-8) + extra
    law = family.inner_product_law
    if shape.relations.superposed and law is not None and n_relations >= 2:
        k_at = shape.code_length_at(n_relations, d)
        assume(superposed_failure_bound(n_subjects, n_relations, k_at, inner_products=law) <= 1e-7)
    construction = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed
    )
    residual = construction.residual
    # no separate output subspace: the read-out sits inside the subject subspace
    assert residual["output"].start >= residual["subject"].start
    assert residual["output"].stop <= residual["subject"].stop
    report = construction.recall()
    assert report.n_correct == report.n_queries, report.failures
    # the last position's output coordinates hold B_rᵀ e_s after the MLP: check it directly
    tokens, answers = construction.prompts()
    logits = forward(construction.weights, construction.config, tokens, last_position_only=True)
    assert np.array_equal(logits.argmax(axis=1), answers)
    certified = construction.recall(method="certified")
    assert certified.n_correct == report.n_correct


@pytest.mark.parametrize(("layout", "codebook"), IN_PLACE)
def test_one_dimension_less_is_refused(layout, codebook):
    d = required_dimension(500, 3, layout=layout, codebook=codebook)
    with pytest.raises(ValueError, match=f"requires d >= {d}, got d={d - 1}"):
        construct_single_hop(500, 3, d - 1, layout=layout, codebook=codebook)


def test_in_place_saves_an_output_subspace():
    for base in ("block", "superposed"):
        codebook = "grid" if base == "block" else "gaussian"
        separate = proven_dimension(4096, 4, layout=f"{base}_separate", codebook=codebook)
        in_place = proven_dimension(4096, 4, layout=base, codebook=codebook)
        k = resolve_layout(base).relations.min_code_length(4096, 4, resolve_codebook(codebook))
        assert separate - in_place == k  # exactly the output subspace


def test_in_place_block_grid_keeps_the_exact_margin():
    construction = construct_single_hop(
        4096,
        4,
        proven_dimension(4096, 4, layout="block", codebook="grid"),
        layout="block",
        codebook="grid",
        seed=2,
    )
    report = construction.recall(method="certified")
    assert report.all_correct and report.n_fallback == 0 and report.min_margin == 0.5


def test_every_layout_inverts_its_dimension_formula():
    for layout in LAYOUTS.values():
        for n_relations in range(1, 7):
            for k in range(1, 40):
                d = layout.dimension(n_relations, k)
                assert layout.code_length_at(n_relations, d) == k
                assert layout.code_length_at(n_relations, d - 1) == k - 1 or k == 1
