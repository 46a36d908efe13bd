"""Run every sympy check of proofs/*.md, and show that a wrong constant makes a check fail.

A wrong constant in a check's own parameter fails it; so does a wrong constant in the library:
the last test monkeypatches the library's functions and constants one at a time.
"""

import dataclasses
import functools
import inspect
import math
import subprocess
import sys
import textwrap
from pathlib import Path

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
    checks.check_lattice_sum_in_library,
    checks.check_pair_failure_in_library,
    checks.check_read_maps_haar_in_library,
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


def _rewritten(owner, name, old, new):
    """``owner.name`` with its source's ``old`` replaced by ``new``, compiled where it was
    defined: a mutation of the function's code, not of its result. ``old`` must be there."""
    function = inspect.unwrap(getattr(owner, name)) if not inspect.isclass(owner) else None
    if function is None:
        function = owner.__dict__[name]
    source = textwrap.dedent(inspect.getsource(function))
    assert source.count(old) == 1, f"{name} no longer contains {old!r}"
    module = sys.modules[function.__module__]
    namespace = dict(vars(module))
    exec(compile(source.replace(old, new), module.__file__, "exec"), namespace)
    return namespace[name]


def _wrong_library():
    """(mutation, check, module, attribute, replacement): a wrong library, one change each, and
    the check that catches it. The audits' mutations come first; the rest are one or more per
    theorem."""
    from geoconstruct.analysis.theory import bounds
    from geoconstruct.codes import bch, codebooks, sphere
    from geoconstruct.constructions import (
        layouts,
        multi_hop,
        queries,
        relations,
        superposed_bound,
    )
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
            superposed_bound,
            "ROUNDING_MARGIN",
            0.0,
        ),
        (
            "gamma dropped from the code length only (the constant and the text unchanged)",
            checks.check_superposed_length_in_library,
            superposed_bound,
            "superposed_code_length",
            _rewritten(
                superposed_bound,
                "superposed_code_length",
                "_code_length(n_subjects, n_relations, delta, gamma, law)",
                "_code_length(n_subjects, n_relations, delta, 0.0, law)",
            ),
        ),
        (
            "the certificate subtracting epsilon instead of 2 epsilon",
            checks.check_certificate_margins_in_library,
            queries,  # where the construction calls it from
            "certify_single_hop",
            _rewritten(
                certificate,
                "certify_single_hop",
                "margins -= 2.0 * rounding + own_error",
                "margins -= rounding + own_error",
            ),
        ),
        (
            "the guarantee's text saying within 2^-16 instead of 2^-17",
            checks.check_superposed_length_in_library,
            layouts.Shared,
            "proved_guarantee",
            _rewritten(layouts.Shared, "proved_guarantee", "2^{exponent - 1}", "2^{exponent}"),
        ),
        (
            "the R = 2 union bound counting N(N-1) instead of 2N(N-1)",
            checks.check_r2_tail_in_library,
            superposed_bound,
            "superposed_failure_bound",
            _rewritten(
                superposed_bound,
                "superposed_failure_bound",
                "pairs = n_subjects * (n_subjects - 1) * n_relations",
                "pairs = n_subjects * (n_subjects - 1) * (1 if n_relations == 2 else n_relations)",
            ),
        ),
        (
            "read maps without the sign fix (not Haar)",
            checks.check_read_maps_haar_in_library,
            relations,
            "_haar_orthogonal",
            _rewritten(
                relations,
                "_haar_orthogonal",
                "orthogonal: FloatArray = q * np.sign(np.diag(r))",
                "orthogonal: FloatArray = q",
            ),
        ),
        (
            "the superposed failure bound with R in place of R - 1",
            checks.check_superposed_length_in_library,
            superposed_bound,
            "superposed_failure_bound",
            lambda n, relations, k, margin=None, inner_products="sphere": min(
                1.0,
                n * (n - 1) * relations * math.exp(-k * (8 * relations - 9) / (32 * relations**2)),
            ),
        ),
        (
            "a coarse R = 2 upper sum (8 intervals)",
            checks.check_r2_tail_in_library,
            superposed_bound,
            "TAIL_GRID",
            8,
        ),
        (
            "Theorem 2 with the coordinates rounded down in its upper bracket",
            checks.check_lattice_sum_in_library,
            sphere,
            "coordinate_sum_tail",
            _rewritten(
                sphere,
                "coordinate_sum_tail",
                "rounded_up = np.concatenate([[under], cells])",
                "rounded_up = np.concatenate([cells, [0.0]])",
            ),
        ),
        (
            "Theorem 2 summing one crosstalk term too few",
            checks.check_pair_failure_in_library,
            superposed_bound,
            "_bracket",
            _rewritten(
                superposed_bound,
                "_bracket",
                "law_of_sum = coordinate_sum_tail(k, terms)",
                "law_of_sum = coordinate_sum_tail(k, terms - 1)",
            ),
        ),
        (
            "Theorem 2's upper sum at the left ends of the code grid",
            checks.check_r2_tail_in_library,
            superposed_bound,
            "_bracket",
            _rewritten(
                superposed_bound,
                "_bracket",
                "upper_tail(_threshold(right, margin))",
                "upper_tail(_threshold(left, margin))",
            ),
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
            superposed_bound,
            "SUPERPOSED_FAILURE_PROBABILITY",
            0.5,  # would promise far less than the documented 0.99
        ),
        (
            "the superposed code length halved",
            checks.check_superposed_length_in_library,
            superposed_bound,
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
            layouts.Relations,
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
MUTATION_IDS = [f"{m} -> {c}" for m, c in MUTATIONS]


def _forget():
    """Clear every remembered result in the library, as a fresh process would start."""
    for name, module in list(sys.modules.items()):
        if name.startswith("geoconstruct"):
            for value in list(vars(module).values()):
                if isinstance(value, functools._lru_cache_wrapper):
                    value.cache_clear()


@pytest.mark.parametrize("case", range(len(MUTATIONS)), ids=MUTATION_IDS)
def test_a_wrong_library_fails_a_check(case, monkeypatch):
    """Each mutation, applied by monkeypatch after its check has passed (so with the library's
    memos warm, then cleared), makes its check fail (the test id names both)."""
    _, check, target, attribute, replacement = _wrong_library()[case]
    assert check() is True
    monkeypatch.setattr(target, attribute, replacement)
    _forget()
    try:
        assert _fails(check)
    finally:
        monkeypatch.undo()
        _forget()


def _fails(check):
    """Whether the check fails: returns False, or raises (a library that cannot even evaluate
    the proof's quantities fails it too)."""
    try:
        return check() is False
    except Exception:
        return True


def apply_and_check(case):
    """In a fresh process: apply mutation ``case`` before anything ran; whether its check fails."""
    _, check, target, attribute, replacement = _wrong_library()[case]
    setattr(target, attribute, replacement)
    return _fails(check)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(MUTATIONS)), ids=MUTATION_IDS)
def test_a_wrong_library_fails_a_check_in_a_fresh_process(case):
    """The same mutations, each in a new interpreter where nothing was computed before it."""
    code = f"import test_sympy_checks as t; raise SystemExit(0 if t.apply_and_check({case}) else 1)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
