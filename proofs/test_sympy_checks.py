"""Run every sympy check of proofs/*.md, and show that a wrong constant makes a check fail.

A wrong constant in a check's own parameter fails it; so does a wrong constant in the library:
the last test monkeypatches the library's functions and constants one at a time.
"""

import dataclasses
import math

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
    checks.check_layout_dimensions_in_library,
    checks.check_unit_code_length,
    checks.check_sphere_moments,
    checks.check_subgaussian_series,
    checks.check_chernoff_optimum,
    checks.check_superposed_exponent,
    checks.check_superposed_average,
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
    checks.check_disjoint_relation_bonus,
    checks.check_disjoint_dimension,
    checks.check_disjoint_bonus_in_library,
    checks.check_grid_code_length_in_library,
    checks.check_grid_exactness_in_library,
    checks.check_unit_code_length_in_library,
    checks.check_superposed_length_in_library,
    checks.check_gate_scale_in_library,
    checks.check_score_gap_in_library,
    checks.check_bch_coherence_in_library,
    checks.check_bch_length_in_library,
    checks.check_packing_bound_in_library,
    checks.check_multi_hop_dimension_in_library,
    checks.check_in_place_gate_bound,
    checks.check_hypergeometric_likelihood_ratio,
    checks.check_certificate_margins_in_library,
    checks.check_significand_bits_in_library,
    checks.check_rounding_bound_in_library,
    checks.check_sampled_interval_in_library,
    checks.check_r2_tail_monotone,
    checks.check_r2_tail_in_library,
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
        (checks.check_disjoint_relation_bonus, sp.Rational(1, 2)),
        (checks.check_grid_margin, sp.Rational(3, 4)),
        (checks.check_unit_code_length, sp.Rational(1, 3)),
        (checks.check_superposed_exponent, sp.Integer(4)),
        (checks.check_superposed_average, sp.Integer(1)),
        (checks.check_superposed_length, sp.Integer(16)),
        (checks.check_hard_attention_leakage, sp.Symbol("g", positive=True) - 1),
        (checks.check_leaky_gate, sp.Integer(1)),
        (checks.check_score_gap, sp.Integer(2)),
        (checks.check_key_value_units, sp.Integer(-1)),
        (checks.check_outer_product_units, sp.Integer(0)),
        (checks.check_in_place_gate_bound, sp.Integer(1)),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_a_wrong_constant_fails(check, wrong_constant):
    assert check(wrong_constant) is False


def _wrong_library():
    """(mutation, check, module, attribute, replacement): a wrong library, one change each, and
    the check that catches it. The first four are the audit's mutations that every check used to
    survive; the rest are one or more per theorem."""
    from geoconstruct.analysis.theory import bounds
    from geoconstruct.codes import bch, codebooks
    from geoconstruct.constructions import layouts, multi_hop
    from geoconstruct.verification import certificate, report

    attention_bound = multi_hop._attention_bound
    cap_fraction = bounds.cap_fraction
    coherence = certificate.coherence
    interval = report.accuracy_interval
    return [
        (
            "a wrong in-place inverse: k = d - R + 1",
            checks.check_layout_dimensions_in_library,
            layouts.Layout,
            "code_length_at",
            lambda self, n_relations, d: d - n_relations + 1,
        ),
        (
            "a wrong in-place inverse: k = d // R",
            checks.check_layout_dimensions_in_library,
            layouts.Layout,
            "code_length_at",
            lambda self, n_relations, d: d // n_relations,
        ),
        (
            "the certificate's float slack removed",
            checks.check_rounding_bound_in_library,
            certificate,
            "_rounding_error",
            lambda *args: 0.0,
        ),
        (
            "a float32 significand of 26 bits",
            checks.check_significand_bits_in_library,
            codebooks,
            "SIGNIFICAND_BITS",
            {"float64": 53, "float32": 26},
        ),
        (
            "a 90 % interval labelled 95 %",
            checks.check_sampled_interval_in_library,
            report,
            "accuracy_interval",
            lambda correct, sampled, population, confidence=0.95: interval(
                correct, sampled, population, 0.90
            ),
        ),
        (
            "the superposed theorem without its margin for rounding (gamma = 0)",
            checks.check_superposed_length_in_library,
            layouts,
            "ROUNDING_MARGIN",
            0.0,
        ),
        (
            "the superposed failure bound with R in place of R - 1",
            checks.check_superposed_length_in_library,
            layouts,
            "superposed_failure_bound",
            lambda n, relations, k, margin=2.0**-16, inner_products="sphere": min(
                1.0,
                n * (n - 1) * relations * math.exp(-k * (8 * relations - 9) / (32 * relations**2)),
            ),
        ),
        (
            "a coarse R = 2 upper sum (8 intervals)",
            checks.check_r2_tail_in_library,
            layouts,
            "TAIL_GRID",
            8,
        ),
        (
            "grid codes one digit long",
            checks.check_grid_code_length_in_library,
            codebooks.GridCodes,
            "min_code_length",
            lambda self, n_codes: 1,  # "one digit is always enough"
        ),
        (
            "one bit too generous an exactness test",
            checks.check_grid_exactness_in_library,
            codebooks,
            "exact_grid_logits",
            lambda bits, k, m: 3 * k * 4 ** (bits - 1) <= 2 ** (m + 1),  # one bit too generous
        ),
        (
            "random unit codes half as long",
            checks.check_unit_code_length_in_library,
            codebooks,
            "_unit_code_length",
            lambda n, mu: math.ceil(1.0 * math.log(2 * n * (n - 1)) / mu**2) if n > 1 else 1,
        ),
        (
            "delta = 1/2 instead of 1/100",
            checks.check_superposed_length_in_library,
            layouts,
            "SUPERPOSED_FAILURE_PROBABILITY",
            0.5,  # would promise far less than the documented 0.99
        ),
        (
            "the superposed code length halved",
            checks.check_superposed_length_in_library,
            layouts,
            "superposed_code_length",
            lambda n, relations, failure_probability=0.01, margin=0.0, inner_products="": (
                math.ceil(
                    8 * (relations - 1) * math.log(n * (n - 1) * relations / failure_probability)
                )
                // 2
            ),  # the old worst-case exponent, halved: too short
        ),
        (
            "half the gate scale",
            checks.check_gate_scale_in_library,
            layouts.Layout,
            "selected_bound",
            lambda self, codebook, n_relations: codebook.coordinate_bound / 2,
        ),
        (
            "a multi-hop score gap 40 times too small",
            checks.check_score_gap_in_library,
            multi_hop,
            "_attention_bound",
            lambda book, g, mu: dataclasses.replace(
                attention_bound(book, g, mu), score_gap=attention_bound(book, g, mu).score_gap / 40
            ),
        ),
        (
            "a BCH coherence bound too small",
            checks.check_bch_coherence_in_library,
            bch,
            "coherence_bound",
            lambda m, degree: ((degree - 2) * math.sqrt(2**m) + 1) / (2**m - 1),
        ),
        (
            "a one-sided packing bound",
            checks.check_packing_bound_in_library,
            bounds,
            "cap_fraction",
            lambda dimension, angle: cap_fraction(dimension, angle) / 2,  # one-sided packing
        ),
        (
            "only the longest chains counted",
            checks.check_multi_hop_dimension_in_library,
            multi_hop,
            "chain_count",
            lambda n_relations, max_length: n_relations**max_length,  # longest chains only
        ),
        (
            "a coherence measured too small",
            checks.check_certificate_margins_in_library,
            certificate,
            "coherence",
            lambda codes: coherence(codes) / 2,  # a coherence measured too small
        ),
    ]


MUTATIONS = [(mutation, check.__name__) for mutation, check, *_ in _wrong_library()]


@pytest.mark.parametrize("case", range(len(MUTATIONS)), ids=[f"{m} -> {c}" for m, c in MUTATIONS])
def test_a_wrong_library_fails_a_check(case, monkeypatch):
    """Each mutation, applied by monkeypatch, makes its check fail (the test id names both)."""
    _, check, target, attribute, replacement = _wrong_library()[case]
    assert check() is True
    monkeypatch.setattr(target, attribute, replacement)
    assert check() is False
