"""The single-hop construction, judged by the forward pass."""

import dataclasses
import math
import re
import tracemalloc

import numpy as np
import pytest
from cases import failing_seeds_allowed
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from geoconstruct import (
    GridCodes,
    MemoryBudgetError,
    construct_single_hop,
    proven_dimension,
    random_facts,
    required_dimension,
)
from geoconstruct.constructions.single_hop_sizes import memory_plan
from geoconstruct.model.transformer import forward, validate_weights
from geoconstruct.verification.evaluation import _unembedding_bytes, bytes_per_prompt

CODEBOOKS = ["grid", "gaussian", "rademacher"]
seeds = st.integers(0, 2**32 - 1)


def assert_recalls_at_minimum_and_refuses_one_less(n_subjects, n_relations, layout, codebook, seed):
    """Every fact at the proven dimension where the proof holds for every draw (a proof with
    probability 1 − δ is checked by counting, :func:`_failing_seeds_allowed`); below the
    assemble-able dimension, a refusal."""
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    construction = construct_single_hop(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=seed
    )
    assert construction.guarantee.proved
    report = construction.recall()
    assert report.n_facts == n_subjects * n_relations
    if construction.guarantee.scope == "every_draw":
        assert report.n_correct == report.n_facts, report.failures
        assert report.min_margin > 0
        assert report.failures == ()
    smallest = required_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    assert smallest <= d
    with pytest.raises(ValueError, match=re.escape(f"requires d >= {smallest}")):
        construct_single_hop(
            n_subjects, n_relations, smallest - 1, layout=layout, codebook=codebook, seed=seed
        )
    if smallest < d:  # random codes: buildable below the proof, with nothing promised
        below = construct_single_hop(
            n_subjects, n_relations, d - 1, layout=layout, codebook=codebook, seed=seed
        )
        assert not below.guarantee.proved and below.guarantee.scope == "none"
    return construction, report


@pytest.mark.parametrize("codebook", CODEBOOKS)
@settings(max_examples=25)
@given(n_subjects=st.integers(2, 400), n_relations=st.integers(1, 6), seed=seeds)
def test_block_layout_recalls_everything_at_required_dimension(
    codebook, n_subjects, n_relations, seed
):
    _, report = assert_recalls_at_minimum_and_refuses_one_less(
        n_subjects, n_relations, "block", codebook, seed
    )
    # block layout: the read-out is the clean code, so the margin is the codebook's
    assert report.min_margin >= 0.5 - 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("codebook", CODEBOOKS)
@settings(max_examples=8)
@given(n_subjects=st.integers(2, 3000), n_relations=st.integers(1, 16), seed=seeds)
@example(n_subjects=3000, n_relations=16, seed=2**32 - 1)  # the costliest corner, always run
@example(n_subjects=2, n_relations=16, seed=0)
def test_block_layout_recalls_everything_at_required_dimension_full_range(
    codebook, n_subjects, n_relations, seed
):
    event(f"N in [{n_subjects // 500 * 500}, {n_subjects // 500 * 500 + 500})")
    event(f"R in [{(n_relations - 1) // 4 * 4 + 1}, {(n_relations - 1) // 4 * 4 + 4}]")
    assert_recalls_at_minimum_and_refuses_one_less(n_subjects, n_relations, "block", codebook, seed)


@pytest.mark.parametrize("codebook", ["gaussian", "rademacher"])
@settings(max_examples=20)
@given(n_subjects=st.integers(2, 200), n_relations=st.integers(1, 3), seed=seeds)
def test_superposed_layout_recalls_everything_at_required_dimension(
    codebook, n_subjects, n_relations, seed
):
    assert_recalls_at_minimum_and_refuses_one_less(
        n_subjects, n_relations, "superposed", codebook, seed
    )


@pytest.mark.slow
@pytest.mark.parametrize(("n_subjects", "n_relations"), [(500, 2), (500, 4), (1000, 4)])
def test_superposed_layout_succeeds_on_twenty_seeds(n_subjects, n_relations):
    failing = 0
    for seed in range(20):
        _, report = assert_recalls_at_minimum_and_refuses_one_less(
            n_subjects, n_relations, "superposed", "gaussian", seed
        )
        failing += not report.all_correct
    assert failing <= _failing_seeds_allowed(20)


def _failing_seeds_allowed(n_seeds):
    """At most this many seeds may miss a fact when each does with probability at most 1/100
    (false alarm 10⁻⁴); more would refute the guarantee."""
    return failing_seeds_allowed(n_seeds, 0.01, 1e-4)


@pytest.mark.slow
def test_the_superposed_guarantee_holds_as_a_rate():
    """With probability >= 0.99 per draw, so over 100 seeds at most a handful may miss a fact
    (the sharp R = 2 theorem leaves some: seed 219 at N = 162, 3 of 400 seeds at N = 50)."""
    d = proven_dimension(50, 2)
    failing = sum(
        not construct_single_hop(50, 2, d, seed=seed).recall().all_correct for seed in range(100)
    )
    assert failing <= _failing_seeds_allowed(100)


def test_superposed_dimension_formula():
    # R = 1: the coherent length ⌈8 ln(2N(N-1))⌉ (μ = 1/2). R >= 2: the exact tail's k, which is
    # at most Theorem 1's closed form ⌈32(R-1)²/(8R-9-16γ(R-1)) · ln(N(N-1)R/δ)⌉ (δ = 1/100,
    # γ = 2^-16) and, at these sizes, at least 4/5 of it (proofs/superposed_recall.md; its
    # sympy checks pin the exact k). d = k + R in place (the default), 2k + R separate.
    gamma = 2.0**-16
    for n_subjects, n_relations in [(1000, 4), (4000, 8), (50, 1), (300, 3)]:
        pairs = n_subjects * (n_subjects - 1)
        k = proven_dimension(n_subjects, n_relations) - n_relations
        if n_relations == 1:
            assert k == math.ceil(2 * math.log(2 * pairs) / 0.25)
        else:
            rate = (8 * n_relations - 9 - 16 * gamma * (n_relations - 1)) / (
                32 * (n_relations - 1) ** 2
            )
            closed_form = math.ceil(math.log(pairs * n_relations * 100) / rate)
            assert 0.8 * closed_form <= k <= closed_form
        assert (
            proven_dimension(
                n_subjects, n_relations, layout="superposed_separate", codebook="gaussian"
            )
            == 2 * k + n_relations
        )


@pytest.mark.parametrize("n_subjects", [64, 1000, 4096])
def test_the_r2_dimension_is_where_the_exact_tail_meets_delta(n_subjects):
    """R = 2 (Theorem 2): 2N(N−1)·E[T_k(x(c))] <= 1/100 at the library's k, evaluated here by
    scipy quadrature of the sphere tail against the density of c, not by the library's sum; the
    library's upper sum may ask for one code length more than the integral, never fewer."""
    from scipy.integrate import quad
    from scipy.special import beta, betainc

    gamma = 2.0**-16

    def tail(k, x):
        if x <= -1:
            return 1.0
        if x >= 1:
            return 0.0
        upper = 0.5 * betainc((k - 1) / 2, 0.5, 1 - x * x)
        return upper if x >= 0 else 1 - upper

    def failure(k):
        def integrand(c):
            distance = math.sqrt(2 * (1 - c))
            x = distance / 2 - gamma / distance if distance > 0 else -math.inf
            return tail(k, x) * (1 - c * c) ** ((k - 3) / 2) / beta((k - 1) / 2, 0.5)

        value, _ = quad(integrand, -1, 1, points=[0.0], limit=200, epsabs=0, epsrel=1e-10)
        return 2 * n_subjects * (n_subjects - 1) * value

    k = proven_dimension(n_subjects, 2) - 2
    assert failure(k) <= 0.01
    assert failure(k - 2) > 0.01  # at most one code length above the integral's smallest k


def test_ten_thousand_subjects_eight_relations_all_recalled():
    d = proven_dimension(10_000, 8, layout="block", codebook="grid")
    construction = construct_single_hop(
        n_subjects=10_000, n_relations=8, d=d, layout="block", codebook="grid", seed=0
    )
    report = construction.recall()
    assert (report.n_correct, report.n_facts) == (80_000, 80_000)
    assert report.accuracy == 1.0


@pytest.mark.parametrize("codebook", CODEBOOKS)
def test_float32_recalls_everything(codebook):
    d = proven_dimension(300, 3, layout="block", codebook=codebook)
    construction = construct_single_hop(
        300, 3, d, layout="block", codebook=codebook, seed=2, dtype="float32"
    )
    assert all(array.dtype == np.float32 for array in construction.weights.values())
    assert construction.recall().all_correct


def test_a_single_subject_works():
    for layout, codebook in [("block", "grid"), ("superposed", "gaussian")]:
        d = proven_dimension(1, 3, layout=layout, codebook=codebook)
        construction = construct_single_hop(1, 3, d, layout=layout, codebook=codebook)
        assert construction.recall().all_correct
        assert construction.predict([0, 0, 0], [0, 1, 2]).tolist() == [
            0,
            0,
            0,
        ]


@pytest.mark.parametrize("layout,codebook", [("block", "grid"), ("superposed", "rademacher")])
def test_larger_d_is_used_and_still_recalls(layout, codebook):
    minimum = proven_dimension(200, 3, layout=layout, codebook=codebook)
    for d in (minimum + 1, minimum + 7, 2 * minimum):
        construction = construct_single_hop(200, 3, d, layout=layout, codebook=codebook, seed=1)
        assert construction.config.d_model == d
        assert construction.residual.unused.stop == d
        assert construction.recall().all_correct


@pytest.mark.parametrize(
    "layout,codebook",
    [
        ("block", "grid"),
        ("superposed", "gaussian"),
        ("block_separate", "grid"),
        ("superposed_separate", "gaussian"),
    ],
)
def test_weights_have_the_documented_structure(layout, codebook):
    n_subjects, n_relations = 120, 3
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    c = construct_single_hop(n_subjects, n_relations, d, layout=layout, codebook=codebook, seed=4)
    validate_weights(c.weights, c.config)
    assert (c.config.n_layers, c.config.n_heads, c.config.n_ctx) == (1, 1, 2)
    assert c.config.d_vocab == 2 * n_subjects + n_relations
    k = c.codebook.code_length
    assert c.config.d_mlp == 2 * n_relations * k
    # e_s = Σ_r B_r u_{π_r(s)}, recomputed here from the recorded read maps and codes
    superposition = sum(
        c.codebook.codes[c.facts.permutations[r]] @ c.metadata.read_maps[r].T
        for r in range(n_relations)
    )
    np.testing.assert_allclose(c.subject_embeddings, superposition, atol=1e-12)
    # the read maps have orthonormal columns
    for read in c.metadata.read_maps:
        np.testing.assert_allclose(read.T @ read, np.eye(k), atol=1e-10)
    # the residual layout tiles [0, d)
    spans = c.residual.as_dict()
    assert spans["subject"][0] == 0 and spans["unused"][1] == d
    assert spans["subject"][1] == spans["relation"][0]
    if layout.endswith("_separate"):
        assert spans["relation"][1] == spans["output"][0]
    else:  # read out in place: the output coordinates are the first k of the subject subspace
        assert spans["output"] == [0, k] and spans["relation"][1] == spans["unused"][0]
    for name in ("blocks.0.attn.W_Q", "blocks.0.attn.W_K", "pos_embed.W_pos"):
        assert not c.weights[name].any()


def test_weights_are_read_only():
    c = construct_single_hop(50, 2, proven_dimension(50, 2))
    with pytest.raises(ValueError, match="read-only"):
        c.weights["embed.W_E"][0, 0] = 1.0


def test_attention_copies_the_subject_exactly():
    c = construct_single_hop(
        60, 3, proven_dimension(60, 3, codebook="gaussian"), codebook="gaussian", seed=3
    )
    tokens, _ = c.prompts()
    W = c.weights
    resid = W["embed.W_E"][tokens]
    # uniform attention over two positions, W_V = I, W_O = 2I on the subject subspace
    copied = (
        resid[:, 1]
        + (resid[:, 0] + resid[:, 1]) @ (W["blocks.0.attn.W_V"][0] @ W["blocks.0.attn.W_O"][0]) / 2
    )
    expected = resid[:, 1].copy()
    expected[:, c.residual["subject"]] = resid[:, 0, c.residual["subject"]]
    np.testing.assert_array_equal(copied, expected)


def test_mlp_and_readout_do_not_depend_on_the_facts():
    n_subjects, n_relations = 200, 4
    for layout, codebook in [("block", "grid"), ("block", "gaussian"), ("superposed", "gaussian")]:
        d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
        builds = [
            construct_single_hop(
                n_subjects,
                n_relations,
                d,
                layout=layout,
                codebook=codebook,
                seed=9,
                facts=random_facts(n_subjects, n_relations, seed=fact_seed),
            )
            for fact_seed in (1, 2)
        ]
        assert builds[0].facts != builds[1].facts
        for name in builds[0].weights:
            same = np.array_equal(builds[0].weights[name], builds[1].weights[name])
            assert same == (name != "embed.W_E"), name
        assert all(build.recall().all_correct for build in builds)


def test_parameter_count_split():
    counts = {}
    for n_subjects in (300, 600):  # both need k = 2 grid digits of 8 bits
        grid = {"layout": "block", "codebook": "grid"}
        c = construct_single_hop(n_subjects, 4, proven_dimension(n_subjects, 4, **grid), **grid)
        count = c.parameter_count
        d_s = c.residual["subject"].stop
        assert count.fact_dependent == n_subjects * d_s
        assert count.total == c.config.n_params()
        assert count.total == sum(array.size for array in c.weights.values())
        assert count.generic == count.total - count.fact_dependent
        counts[n_subjects] = count
    # the selector does not grow with N
    assert counts[300].mlp == counts[600].mlp
    assert counts[600].fact_dependent == 2 * counts[300].fact_dependent


def test_same_seed_gives_bit_identical_weights_and_different_seeds_different_facts():
    for layout, codebook in [
        ("block", "grid"),
        ("block", "rademacher"),
        ("superposed", "gaussian"),
    ]:
        d = proven_dimension(150, 3, layout=layout, codebook=codebook)
        first, again, other = (
            construct_single_hop(150, 3, d, layout=layout, codebook=codebook, seed=seed)
            for seed in (11, 11, 12)
        )
        assert first.weights.keys() == again.weights.keys()
        for name in first.weights:
            assert first.weights[name].tobytes() == again.weights[name].tobytes(), name
        assert first.facts == again.facts
        assert first.facts != other.facts
        assert first.weights["embed.W_E"].tobytes() != other.weights["embed.W_E"].tobytes()


def test_prompts_and_predict_agree_with_the_facts():
    c = construct_single_hop(90, 3, proven_dimension(90, 3), seed=5)
    tokens, answers = c.prompts()
    assert tokens.shape == (270, 2) and answers.shape == (270,)
    subjects, relations = tokens[:, 0], tokens[:, 1] - 90
    assert np.array_equal(answers - 93, c.facts.answer(subjects, relations))
    assert np.array_equal(c.predict(subjects, relations), c.facts.answer(subjects, relations))
    grid = c.predict(np.arange(90)[:, None], np.arange(3)[None, :])
    assert grid.shape == (90, 3)
    assert np.array_equal(grid, c.facts.permutations.T)


def test_predict_refuses_out_of_range_ids():
    c = construct_single_hop(20, 2, proven_dimension(20, 2))
    with pytest.raises(ValueError, match="subjects must lie in \\[0, 20\\)"):
        c.predict([20], [0])
    with pytest.raises(ValueError, match="relations must lie in \\[0, 2\\)"):
        c.predict([0], [-1])
    with pytest.raises(TypeError, match="subjects must be integer ids"):
        c.predict([0.5], [0])


def test_recall_reports_broken_weights():
    c = construct_single_hop(50, 2, proven_dimension(50, 2), seed=1)
    weights = {name: array.copy() for name, array in c.weights.items()}
    weights["embed.W_E"][[3, 7]] = weights["embed.W_E"][[7, 3]]  # swap two subjects
    broken = dataclasses.replace(c, weights=weights)
    report = broken.recall(max_failures=3)
    assert report.n_correct == report.n_facts - 4
    assert report.min_margin < 0
    assert len(report.failures) == 3
    first = report.failures[0]
    assert (first.subject, first.relation) == (3, 0)
    assert first.expected == c.facts.answer(3, 0)
    assert first.predicted == c.facts.answer(7, 0)


def test_min_margin_matches_an_independent_computation():
    c = construct_single_hop(
        80, 3, proven_dimension(80, 3, codebook="rademacher"), codebook="rademacher", seed=8
    )
    tokens, answers = c.prompts()
    logits = forward(c.weights, c.config, tokens)[:, -1]
    true = logits[np.arange(len(answers)), answers]
    others = np.array(
        [np.delete(row, answer).max() for row, answer in zip(logits, answers, strict=True)]
    )
    assert c.recall().min_margin == pytest.approx((true - others).min(), abs=1e-12)


@pytest.mark.parametrize(
    ("n_subjects", "layout", "codebook"),
    [(4000, "block", "grid"), (300, "superposed", "gaussian")],
)
def test_recall_memory_stays_within_the_budget(n_subjects, layout, codebook):
    d = proven_dimension(n_subjects, 4, layout=layout, codebook=codebook)
    c = construct_single_hop(n_subjects, 4, d, layout=layout, codebook=codebook, seed=0)
    tokens, answers = c.prompts()
    table = tokens.nbytes + answers.nbytes
    # the table, the logits buffer and 32 prompts a chunk
    budget = table + _unembedding_bytes(c.config) + 32 * bytes_per_prompt(c.config)
    tracemalloc.start()
    try:
        report = c.recall(memory_budget=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.all_correct
    assert peak <= budget + 2**20, peak
    chunks = []
    c.recall(memory_budget=budget, progress=chunks.append)
    assert sum(chunks) == report.n_facts and len(chunks) > 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_subjects": 0}, ValueError, "n_subjects must be an integer >= 1, got 0"),
        ({"n_subjects": -5}, ValueError, "n_subjects must be an integer >= 1"),
        ({"n_subjects": 10.0}, TypeError, "n_subjects must be an integer, got 10.0"),
        ({"n_subjects": "10"}, TypeError, "n_subjects must be an integer"),
        ({"n_relations": 0}, ValueError, "n_relations must be an integer >= 1, got 0"),
        ({"n_relations": -1}, ValueError, "n_relations"),
        ({"n_relations": 2.5}, TypeError, "n_relations must be an integer"),
        ({"n_relations": "2"}, TypeError, "n_relations must be an integer"),
        ({"d": 30.0}, TypeError, "d must be an integer, got 30.0"),
        ({"d": "30"}, TypeError, "d must be an integer"),
        ({"d": 0}, ValueError, "d must be an integer >= 1"),
        ({"d": [30]}, TypeError, "d must be an integer"),  # None: the proved d (test_friction)
        ({"layout": "diagonal"}, ValueError, "layout must be one of 'superposed', 'block'"),
        ({"codebook": "hadamard"}, ValueError, "codebook must be one of 'grid'"),
        ({"layout": "superposed", "codebook": "grid", "d": 10**4}, ValueError, "unit-norm"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"dtype": "float16"}, ValueError, "dtype must be one of"),
        ({"facts": [[0, 1]]}, TypeError, "facts must be a Facts object"),
        ({"facts": random_facts(10, 3)}, ValueError, "facts hold N=10, R=3"),
        ({"d": 4}, ValueError, "requires d >= 5, got d=4"),  # gaussian, superposed: k + R
    ],
)
def test_bad_input_raises_a_clear_error_naming_the_argument(kwargs, error, message):
    arguments = {"n_subjects": 1000, "n_relations": 4, "d": 14, **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        construct_single_hop(**arguments)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 4), {}, ValueError, "n_subjects"),
        ((10, 0), {}, ValueError, "n_relations"),
        ((10.0, 4), {}, TypeError, "n_subjects"),
        ((10, 4), {"layout": "grid"}, ValueError, "layout"),
        ((10, 4), {"codebook": "hadamard"}, ValueError, "codebook"),
        ((10, 4), {"codebook": "grid"}, ValueError, "unit-norm"),
    ],
)
def test_required_dimension_validates(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        proven_dimension(*args, **kwargs)


def test_grid_bits_trade_code_length_for_precision():
    n_subjects, n_relations = 5000, 2
    for bits in (1, 4, 8, 13):
        k = math.ceil(math.log2(n_subjects) / bits)
        d = proven_dimension(n_subjects, n_relations, layout="block", codebook=GridCodes(bits=bits))
        assert d == n_relations * (k + 1)
    c = construct_single_hop(
        n_subjects,
        n_relations,
        proven_dimension(n_subjects, n_relations, layout="block", codebook=GridCodes(bits=4)),
        layout="block",
        codebook=GridCodes(bits=4),
        seed=0,
    )
    assert c.recall().all_correct


@pytest.mark.parametrize(
    ("n_subjects", "n_relations", "layout", "codebook", "dtype"),
    [
        (3000, 4, "block", "grid", "float64"),
        (500, 3, "block", "gaussian", "float32"),
        (400, 3, "superposed", "rademacher", "float64"),
    ],
)
def test_the_memory_plan_bounds_the_measured_peak(n_subjects, n_relations, layout, codebook, dtype):
    d = proven_dimension(n_subjects, n_relations, layout=layout, codebook=codebook)
    estimate = memory_plan(
        n_subjects, n_relations, d, layout=layout, codebook=codebook, dtype=dtype
    ).total
    tracemalloc.start()
    try:
        construction = construct_single_hop(
            n_subjects, n_relations, d, layout=layout, codebook=codebook, dtype=dtype
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate, (peak, estimate)
    assert estimate <= 1.5 * peak + 64 * 2**20, (peak, estimate)  # a bound, not a guess
    assert construction.recall().all_correct


def test_a_construction_over_budget_fails_fast_and_allocates_nothing_large():
    d = proven_dimension(10**7, 16, codebook="gaussian")
    tracemalloc.start()
    try:
        with pytest.raises(MemoryBudgetError, match=r"would need about [0-9,]+ bytes") as error:
            construct_single_hop(10**7, 16, d, codebook="gaussian")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # refused before anything large was drawn or allocated
    assert isinstance(error.value, MemoryError)
    needed = memory_plan(10**7, 16, d, codebook="gaussian").total
    assert f"{needed:,} bytes" in str(error.value)
    # a budget above the estimate is accepted (checked on a small request)
    small = proven_dimension(100, 2)
    enough = memory_plan(100, 2, small).total
    construct_single_hop(100, 2, small, memory_budget=enough)
    with pytest.raises(MemoryBudgetError):
        construct_single_hop(100, 2, small, memory_budget=enough - 1)


def test_recall_and_predict_over_budget_refuse_before_allocating():
    grid = {"layout": "block", "codebook": "grid"}  # a small d: the smallest budget stays quick
    c = construct_single_hop(2000, 4, proven_dimension(2000, 4, **grid), **grid)
    table = 2000 * 4 * 3 * 8
    with pytest.raises(MemoryBudgetError, match="recall would need about"):
        c.recall(memory_budget=table)
    with pytest.raises(MemoryBudgetError, match="predict would need about"):
        c.predict(np.arange(2000), 0, memory_budget=1000)
    with pytest.raises(TypeError, match="memory_budget"):
        c.recall(memory_budget=1.5e9)
    smallest = table + _unembedding_bytes(c.config) + bytes_per_prompt(c.config)
    assert c.recall(memory_budget=smallest).all_correct
