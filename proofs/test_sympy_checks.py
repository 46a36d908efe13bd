"""Run every sympy check of proofs/*.md, and show that a wrong constant makes a check fail."""

import pytest
import sympy as sp
import sympy_checks as checks

ALL_CHECKS = [
    checks.check_gate_lemma,
    checks.check_gate_needs_the_bound,
    checks.check_copy_attention,
    checks.check_nearest_neighbour_identity,
    checks.check_grid_margin,
    checks.check_unit_code_margin,
    checks.check_block_dimension,
    checks.check_unit_code_length,
    checks.check_sphere_moments,
    checks.check_subgaussian_series,
    checks.check_chernoff_optimum,
    checks.check_superposed_exponent,
    checks.check_superposed_length,
    checks.check_global_bound,
    checks.check_per_subject_bound,
    checks.check_grid_meets_per_subject_bound,
    checks.check_pair_error_bounds,
    checks.check_pair_error_needs_the_gate,
    checks.check_certified_grid_margin,
    checks.check_certified_unit_margin,
    checks.check_affine_last_position,
    checks.check_sign_inner_product,
    checks.check_trace_sum_weight,
    checks.check_weil_to_coherence,
    checks.check_superposed_sign_margin,
    checks.check_cap_fraction_sphere,
    checks.check_hard_attention_leakage,
    checks.check_leaky_gate,
    checks.check_score_gap,
    checks.check_decoding_under_error,
    checks.check_multi_hop_dimension,
    checks.check_per_pass_counting,
    checks.check_key_value_units,
    checks.check_outer_product_units,
    checks.check_linear_memory_transfer,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda check: check.__name__)
def test_check_holds(check):
    assert check() is True


@pytest.mark.parametrize(
    ("check", "wrong_constant"),
    [
        (checks.check_gate_needs_the_bound, sp.Rational(9, 10)),
        (checks.check_pair_error_needs_the_gate, sp.Rational(1, 2)),
        (checks.check_weil_to_coherence, 0),
        (checks.check_cap_fraction_sphere, sp.Rational(1, 3)),
        (checks.check_certified_grid_margin, sp.Rational(1, 2)),
        (checks.check_copy_attention, sp.Integer(1)),
        (checks.check_grid_margin, sp.Rational(3, 4)),
        (checks.check_unit_code_margin, sp.Integer(1)),
        (checks.check_unit_code_length, sp.Rational(1, 3)),
        (checks.check_superposed_exponent, sp.Integer(8)),
        (checks.check_superposed_length, sp.Integer(2)),
        (checks.check_hard_attention_leakage, sp.Symbol("g", positive=True) - 1),
        (checks.check_leaky_gate, sp.Integer(1)),
        (checks.check_score_gap, sp.Integer(2)),
        (checks.check_key_value_units, sp.Integer(-1)),
        (checks.check_outer_product_units, sp.Integer(0)),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_wrong_constant_fails(check, wrong_constant):
    assert check(wrong_constant) is False
