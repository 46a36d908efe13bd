"""Random codes build at every d that can be assembled, and say what is proved there.

Below ``proven_dimension`` nothing is proved and recall is measured; the forward pass the
library runs is checked against an independent one written here, so that what is measured is
what a transformer computes.
"""

import math

import pytest
from cases import failing_seeds_allowed, independent_argmax
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension, required_dimension
from geoconstruct.codes.codebooks import GaussianCodes
from geoconstruct.constructions.layouts import resolve_layout
from geoconstruct.constructions.superposed_bound import superposed_failure_bound


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    n_subjects=st.integers(2, 2000),
    n_relations=st.integers(1, 8),
    layout=st.sampled_from(["superposed", "block", "superposed_separate"]),
    codebook=st.sampled_from(["gaussian", "rademacher"]),
    share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_recall_at_any_accepted_d_agrees_with_an_independent_forward_pass(
    n_subjects, n_relations, layout, codebook, share, seed
):
    low = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    high = min(proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook), 300)
    d = low + int(share * max(0, high - low))
    construction = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed
    )
    report = construction.recall()
    tokens, answers = construction.prompts()
    right = independent_argmax(construction.weights, tokens) == answers
    assert report.n_correct == int(right.sum())
    assert report.n_queries == n_subjects * n_relations


def test_every_d_from_the_required_one_upward_builds_and_says_what_is_proved():
    n, r = 1000, 4  # the defaults: gaussian codes, superposed, read out in place
    low = required_dimension(n, r)
    proven = proven_dimension(n, r)
    # code length 1; the proof's k + R, at most Theorem 1's ⌈32·3²/23 · ln(1000·999·4·100)⌉
    # (Theorem 2's exact tail is sharper; proofs/sympy_checks.py checks its k)
    assert low == 1 + r and proven <= math.ceil(288 / 23 * math.log(1000 * 999 * 400)) + r
    with pytest.raises(ValueError, match=f"requires d >= {low}, got d={low - 1}"):
        construct_single_hop(n, r, low - 1)
    coherent_from = GaussianCodes().min_code_length(n) + r
    for d in [*range(low, low + 30), 100, coherent_from - 1, coherent_from, proven - 1]:
        construction = construct_single_hop(n, r, d)
        assert construction.config.d_model == d and construction.codebook.family == "gaussian"
        guarantee = construction.guarantee
        assert guarantee.scope == "none" and not guarantee.proved
        # below the proof no bound is used, so none is paid for: one draw, no O(N²k) check
        assert "without rejection" in guarantee.statement, (d, guarantee.statement)
    block = {"layout": "block", "codebook": "gaussian"}  # the block proof uses the coherence
    for d in (r * (coherent_from - r), r * (coherent_from - r + 1)):
        statement = construct_single_hop(n, r, d, **block).guarantee.statement
        k = d // r - 1
        assert ("without rejection" in statement) == (k < coherent_from - r), (d, statement)
    at_proof = construct_single_hop(n, r, proven).guarantee
    assert at_proof.scope == "with_probability" and at_proof.failure_probability == 0.01


def test_what_each_proved_construction_promises():
    def guarantee(layout, codebook):
        d = proven_dimension(300, 3, layout=layout, codebook=codebook)
        return construct_single_hop(300, 3, d, layout=layout, codebook=codebook).guarantee

    assert guarantee("block", "grid").scope == "every_draw"
    assert guarantee("block", "gaussian").scope == "every_draw"  # coherence by rejection
    assert guarantee("superposed", "bch").scope == "every_draw"  # closed form, every fact set
    assert guarantee("superposed", "rademacher").scope == "with_probability"
    assert guarantee("superposed_separate", "gaussian").scope == "with_probability"


@pytest.mark.slow
def test_at_the_proven_dimension_failing_seeds_are_as_rare_as_the_bound_says():
    """Each seed fails with probability at most the theorem's bound p at the proved d; more
    failing seeds of 20 than the binomial quantile refutes it (false alarm at most 1e-6)."""
    n, r = 1000, 4
    d = proven_dimension(n, r)  # the default construction
    k = resolve_layout("superposed").code_length_at(r, d)
    bound = superposed_failure_bound(n, r, k)
    failing = sum(
        not construct_single_hop(n, r, d, seed=seed).recall().all_correct for seed in range(20)
    )
    assert failing <= failing_seeds_allowed(20, bound, 1e-6)
