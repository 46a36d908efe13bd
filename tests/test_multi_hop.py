"""Multi-hop recall through the chain-of-thought loop, judged by the forward pass."""

import dataclasses
import hashlib
import itertools
import math
import re
import tracemalloc
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from geoconstruct import MemoryBudgetError, random_facts
from geoconstruct.analysis.measurement.tradeoff import tradeoff_table
from geoconstruct.analysis.output.tables import render_table
from geoconstruct.analysis.theory.bounds import (
    log2_falling_factorial,
    per_pass_bits,
    per_pass_bits_random,
    per_pass_min_dimension,
)
from geoconstruct.codes.codebooks import BCHCodes, GaussianCodes, GridCodes, RademacherCodes
from geoconstruct.constructions.multi_hop import (
    chain_count,
    chain_keys,
    construct_multi_hop,
    hops_per_pass,
    multi_hop_dimension,
)
from geoconstruct.facts import Facts
from geoconstruct.model.transformer import residual_stream, validate_weights

seeds = st.integers(0, 2**32 - 1)


def follow_by_hand(permutations, entity, chain):
    """π_{r_h}(… π_{r_1}(x)) by a plain loop (independent of Facts.follow)."""
    for relation in chain:
        entity = int(permutations[relation][entity])
    return entity


def assert_every_pass_right(construction, entities, chains):
    """Run the loop and compare every pass with entities computed by hand."""
    predicted, margins = construction.queries.run(construction, entities, chains)
    g = construction.metadata.hops_per_pass
    permutations = construction.facts.permutations.tolist()
    for q, (entity, chain) in enumerate(zip(entities, chains, strict=True)):
        for step in range(construction.queries.n_passes):
            prefix = list(chain[: min((step + 1) * g, len(chain))])
            assert predicted[q, step] == follow_by_hand(permutations, int(entity), prefix)
    assert (margins > 0).all()


@st.composite
def multi_hop_sizes(draw, max_entities=512, max_relations=3, max_hops=4):
    n_entities = draw(st.integers(2, max_entities))
    n_relations = draw(st.integers(1, max_relations))
    hops = draw(st.integers(1, max_hops))
    steps = draw(st.integers(1, hops))
    return n_entities, n_relations, hops, steps


@settings(max_examples=30)
@given(sizes=multi_hop_sizes(), seed=seeds)
@example(sizes=(512, 3, 4, 1), seed=0)
@example(sizes=(512, 3, 4, 2), seed=1)
@example(sizes=(512, 3, 4, 3), seed=2)
@example(sizes=(512, 3, 4, 4), seed=3)
@example(sizes=(257, 3, 3, 1), seed=4)  # 257 entities: k = 2 digits
@example(sizes=(2, 1, 1, 1), seed=5)
def test_every_query_and_intermediate_is_answered_at_the_required_dimension(sizes, seed):
    n_entities, n_relations, hops, steps = sizes
    d = multi_hop_dimension(n_entities, n_relations, hops, steps)
    construction = construct_multi_hop(n_entities, n_relations, hops, steps, d, seed=seed)
    report = construction.recall()
    assert not report.sampled
    assert report.n_queries == report.total_queries == n_entities * n_relations**hops
    assert report.n_facts == n_entities * n_relations  # stored: the R bijections
    assert report.n_correct == report.n_queries, report.failures
    assert report.pass_correct == (report.n_queries,) * construction.queries.n_passes
    assert report.min_margin >= 0.5 - 1e-9  # grid codes: half the minimum distance
    # the report's truth is checked against entities computed by hand on a sample of queries
    rng = np.random.default_rng(seed)
    entities = rng.integers(0, n_entities, 40)
    chains = rng.integers(0, n_relations, (40, hops))
    assert_every_pass_right(construction, entities, chains)
    with pytest.raises(ValueError, match=re.escape(f"requires d >= {d}")):
        construct_multi_hop(n_entities, n_relations, hops, steps, d - 1, seed=seed)


UNIT_CODEBOOKS = [GaussianCodes(), RademacherCodes(), BCHCodes()]


@pytest.mark.parametrize("codebook", UNIT_CODEBOOKS, ids=lambda family: family.name)
@settings(max_examples=8)
@given(sizes=multi_hop_sizes(max_entities=96, max_relations=2, max_hops=3), seed=seeds)
@example(sizes=(96, 2, 3, 1), seed=0)
@example(sizes=(96, 2, 3, 2), seed=1)
def test_unit_codes_answer_every_query_at_the_required_dimension(codebook, sizes, seed):
    n_entities, n_relations, hops, steps = sizes
    d = multi_hop_dimension(n_entities, n_relations, hops, steps, codebook=codebook)
    construction = construct_multi_hop(
        n_entities, n_relations, hops, steps, d, codebook=codebook, seed=seed, dtype="float32"
    )
    report = construction.recall()
    assert report.n_correct == report.n_queries == n_entities * n_relations**hops
    # inner-product decoding: the margin is at least 1 - coherence, less the leakage's error
    bound = construction.metadata.attention_bound
    assert report.min_margin >= 2 * bound.decoding_tolerance - 2 * bound.output_error_bound - 1e-5
    with pytest.raises(ValueError, match=re.escape(f"requires d >= {d}")):
        construct_multi_hop(n_entities, n_relations, hops, steps, d - 1, codebook=codebook)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_every_query_at_4096_entities(steps):
    """262,144 three-hop queries over 4096 entities, every one through the loop."""
    d = multi_hop_dimension(4096, 4, 3, steps)
    construction = construct_multi_hop(4096, 4, 3, steps, d, seed=steps, dtype="float32")
    report = construction.recall()
    assert not report.sampled and report.n_queries == 4096 * 4**3
    assert report.all_correct, report.failures


@pytest.mark.parametrize("n_relations", [1, 2, 3, 5])
def test_full_chain_of_thought_dimension_does_not_depend_on_the_hops(n_relations):
    n_entities = 300
    full_cot = {multi_hop_dimension(n_entities, n_relations, h, h) for h in range(1, 9)}
    assert len(full_cot) == 1
    single_pass = [multi_hop_dimension(n_entities, n_relations, h, 1) for h in range(1, 6)]
    assert all(a < b for a, b in itertools.pairwise(single_pass))
    (d,) = full_cot
    for hops in (1, 3, 6):
        construction = construct_multi_hop(n_entities, n_relations, hops, hops, d, seed=hops)
        assert (
            construction.residual["subject"].stop == n_relations * construction.codebook.code_length
        )
        report = construction.recall(sample=3_000, seed=hops)
        assert report.all_correct
        assert len(report.pass_correct) == hops


def test_hops_per_pass_and_passes():
    cases = {(4, 1): (4, 1), (4, 2): (2, 2), (4, 3): (2, 2), (4, 4): (1, 4), (5, 2): (3, 2)}
    for (hops, steps), (g, passes) in cases.items():
        assert hops_per_pass(hops, steps) == g
        d = multi_hop_dimension(20, 2, hops, steps)
        construction = construct_multi_hop(20, 2, hops, steps, d)
        assert construction.queries.n_passes == passes
        assert construction.config.n_ctx == g + 1


def test_chain_keys_enumerate_every_chain_once():
    for n_relations, g in [(1, 3), (2, 3), (3, 2), (4, 1)]:
        keys = chain_keys(n_relations, g)
        assert keys.shape == (chain_count(n_relations, g), g)
        assert chain_count(n_relations, g) == sum(n_relations**h for h in range(1, g + 1))
        chains = {tuple(int(r) for r in row if r != n_relations) for row in keys}
        expected = {
            chain
            for h in range(1, g + 1)
            for chain in itertools.product(range(n_relations), repeat=h)
        }
        assert chains == expected
        for row in keys:  # padding only at the end
            real = row[row != n_relations]
            assert (row[: real.size] == real).all()


def test_follow_matches_a_loop_and_treats_padding_as_identity():
    facts = random_facts(50, 3, seed=4)
    rng = np.random.default_rng(0)
    entities = rng.integers(0, 50, 200)
    chains = rng.integers(0, 4, (200, 5))  # 3 is the padding relation
    expected = [
        follow_by_hand(facts.permutations.tolist(), x, [r for r in chain if r != 3])
        for x, chain in zip(entities.tolist(), chains.tolist(), strict=True)
    ]
    assert facts.follow(entities, chains).tolist() == expected


# --- the attention's leakage bound, against the patterns it produces --------------------------


def attention_patterns(weights, config, tokens):
    """Softmax patterns of the last position, [batch, head, pos], recomputed from the weights."""
    resid = weights["embed.W_E"][tokens] + weights["pos_embed.W_pos"][: tokens.shape[1]]
    q = np.einsum("bd,hde->bhe", resid[:, -1], weights["blocks.0.attn.W_Q"])
    k = np.einsum("bpd,hde->bhpe", resid, weights["blocks.0.attn.W_K"])
    scores = np.einsum("bhe,bhpe->bhp", q, k) / math.sqrt(config.d_head)
    scores -= scores.max(axis=-1, keepdims=True)
    pattern = np.exp(scores)
    return pattern / pattern.sum(axis=-1, keepdims=True)


def weakened(construction, query_scale):
    """The same construction with its attention scores multiplied by ``query_scale``."""
    weights = dict(construction.weights)
    weights["blocks.0.attn.W_Q"] = weights["blocks.0.attn.W_Q"] * query_scale
    return dataclasses.replace(construction, weights=MappingProxyType(weights))


def leakage_for(score_gap, g):
    return g / (math.exp(score_gap) + g)


@pytest.mark.parametrize(("hops", "steps"), [(1, 1), (2, 1), (3, 1), (4, 2)])
@pytest.mark.parametrize("query_scale", [1.0, 0.1, 0.05])
def test_recorded_leakage_bound_holds_for_the_actual_attention(hops, steps, query_scale):
    construction = construct_multi_hop(40, 3, hops, steps, multi_hop_dimension(40, 3, hops, steps))
    g = construction.metadata.hops_per_pass
    gap = construction.metadata.attention_bound.score_gap * query_scale
    leakage = leakage_for(gap, g)
    if query_scale == 1.0:
        assert leakage == construction.metadata.attention_bound.leakage_bound
    model = weakened(construction, query_scale)
    rng = np.random.default_rng(1)
    chains = rng.integers(0, 3, (300, g))
    if g > 1:
        chains[:50, -1] = 3  # padded at the end, as the last pass of a query is
    entities = rng.integers(0, 40, len(chains))
    tokens = np.concatenate([chains + 40, entities[:, None]], axis=1)
    patterns = attention_patterns(model.weights, model.config, tokens)
    bound_weight = patterns[:, np.arange(g), np.arange(g)]  # head i on position i
    off_target = 1.0 - bound_weight
    assert off_target.max() <= leakage * (1 + 1e-9) + 1e-15
    # the bound is tight: g positions at score 0 besides the bound one
    assert off_target.max() >= leakage * (1 - 1e-6) - 1e-15

    # and what the leakage does to the selected code stays within the recorded error bound
    resid = residual_stream(model.weights, model.config, tokens, last_position_only=True)[:, -1]
    selected = resid[:, construction.residual["output"]]
    truth = construction.facts.follow(entities, chains)
    codes = construction.codebook.codes[truth]
    error = np.linalg.norm(selected - codes, axis=1).max()
    k = construction.codebook.code_length
    error_bound = 2 * math.sqrt(k) * g * leakage * construction.codebook.coordinate_bound
    assert error <= error_bound * (1 + 1e-9) + 1e-12
    if query_scale == 1.0:
        assert error_bound == pytest.approx(
            construction.metadata.attention_bound.output_error_bound
        )
        assert error_bound < construction.metadata.attention_bound.decoding_tolerance / 2


def test_a_too_small_score_gap_breaks_recall():
    """The gap matters: at a gap of 1 the leakage opens wrong keys and answers go wrong."""
    construction = construct_multi_hop(64, 3, 2, 1, multi_hop_dimension(64, 3, 2, 1))
    assert construction.recall().all_correct
    broken = weakened(construction, 1.0 / construction.metadata.attention_bound.score_gap)
    assert not broken.recall().all_correct


# --- reports that can fail --------------------------------------------------------------------


def test_recall_reports_the_pass_where_a_broken_model_goes_wrong():
    construction = construct_multi_hop(30, 2, 3, 3, multi_hop_dimension(30, 2, 3, 3), seed=5)
    weights = dict(construction.weights)
    embeddings = weights["embed.W_E"].copy()
    embeddings[[0, 1]] = embeddings[[1, 0]]  # entities 0 and 1 swap what they know
    weights["embed.W_E"] = embeddings
    broken = dataclasses.replace(construction, weights=MappingProxyType(weights))
    report = broken.recall(max_failures=1000)
    assert report.n_correct < report.n_queries
    assert report.pass_correct[0] == report.n_queries - 2 * 2**3  # the queries from 0 or 1
    permutations = construction.facts.permutations.tolist()
    for failure in report.failures:
        assert failure.expected == follow_by_hand(permutations, failure.entity, failure.chain)
        if failure.entity in (0, 1):
            assert failure.first_wrong_pass == 0
        else:
            assert failure.first_wrong_pass >= 1


def test_sampling_above_the_limit_is_seeded_and_reported():
    construction = construct_multi_hop(64, 3, 4, 4, multi_hop_dimension(64, 3, 4, 4))
    assert construction.total_queries == 64 * 81
    first = construction.recall(sample=700, seed=3)
    again = construction.recall(sample=700, seed=3)
    assert first.sampled and first.n_queries == 700 and first.total_queries == 64 * 81
    assert first == again
    exhaustive = construction.recall()
    assert not exhaustive.sampled and exhaustive.n_queries == 64 * 81


def test_same_seed_gives_bit_identical_weights():
    def digest(seed):
        d = multi_hop_dimension(100, 3, 2, 1, codebook="gaussian")
        construction = construct_multi_hop(100, 3, 2, 1, d, codebook="gaussian", seed=seed)
        return {
            name: hashlib.sha256(array.tobytes()).hexdigest()
            for name, array in construction.weights.items()
        }

    assert digest(7) == digest(7)
    assert digest(7)["embed.W_E"] != digest(8)["embed.W_E"]


def test_weights_have_transformer_lens_names_and_are_read_only():
    construction = construct_multi_hop(50, 2, 2, 1, multi_hop_dimension(50, 2, 2, 1) + 7)
    validate_weights(construction.weights, construction.config)
    assert construction.residual.unused.stop - construction.residual.unused.start >= 0
    for array in construction.weights.values():
        assert not array.flags.writeable
    # a larger d stores the same facts and still answers everything
    assert construction.recall().all_correct
    # the MLP depends on no fact: another set of facts gives the same MLP bit for bit
    other = construct_multi_hop(
        50, 2, 2, 1, construction.config.d_model, facts=random_facts(50, 2, seed=99)
    )
    for name in ("blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out"):
        assert np.array_equal(construction.weights[name], other.weights[name])


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "keywords", "error", "message"),
    [
        ((10, 2, 2, 3, 100), {}, ValueError, "steps must lie in 1..hops=2"),
        ((10, 2, 2, 0, 100), {}, ValueError, "steps must be an integer >= 1, got 0"),
        ((10, 2, 0, 1, 100), {}, ValueError, "hops must be an integer >= 1, got 0"),
        ((0, 2, 2, 1, 100), {}, ValueError, "n_entities must be an integer >= 1, got 0"),
        ((10, 2.5, 2, 1, 100), {}, TypeError, "n_relations must be an integer"),
        ((10, 2, 2, 1, 100), {"layout": "diagonal"}, ValueError, "layout must be one of"),
        ((10, 2, 2, 1, 100), {"layout": "superposed"}, ValueError, "superposed multi-hop layout"),
        ((10, 2, 2, 1, 100), {"codebook": "nope"}, ValueError, "nope"),
        ((10, 2, 2, 1, 100), {"dtype": "float16"}, ValueError, "dtype must be one of"),
        ((10, 2, 2, 1, 100), {"facts": random_facts(10, 3)}, ValueError, "expected N=10, R=2"),
    ],
)
def test_bad_arguments_raise_clear_errors(arguments, keywords, error, message):
    with pytest.raises(error, match=re.escape(message)):
        construct_multi_hop(*arguments, **keywords)


def test_over_budget_construction_fails_fast_without_allocating():
    tracemalloc.start()
    with pytest.raises(MemoryBudgetError, match=r"would need about [\d,]+ bytes"):
        construct_multi_hop(100_000, 4, 4, 1, 3000, memory_budget=2**30)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**20  # refused before anything large was allocated


def test_run_rejects_bad_queries():
    construction = construct_multi_hop(10, 2, 2, 1, multi_hop_dimension(10, 2, 2, 1))
    with pytest.raises(ValueError, match=r"chains must have shape \[2, 2\]"):
        construction.queries.run(construction, [0, 1], [[0, 1, 1], [1, 1, 0]])
    with pytest.raises(ValueError, match=r"chains must lie in \[0, 2\)"):
        construction.queries.run(construction, [0], [[0, 2]])
    with pytest.raises(ValueError, match=r"entities must lie in \[0, 10\)"):
        construction.queries.run(construction, [10], [[0, 1]])
    with pytest.raises(TypeError, match="integer ids"):
        construction.queries.run(construction, [0.5], [[0, 1]])


# --- the per-pass lower bound -----------------------------------------------------------------


def answer_tuples(n_entities, n_relations, g, start=0):
    """Every tuple (π_c(start))_c over all facts, by enumerating every permutation set."""
    chains = [
        chain for h in range(1, g + 1) for chain in itertools.product(range(n_relations), repeat=h)
    ]
    tuples = set()
    for permutations in itertools.product(
        itertools.permutations(range(n_entities)), repeat=n_relations
    ):
        tuples.add(tuple(follow_by_hand(permutations, start, chain) for chain in chains))
    return tuples, len(chains)


@pytest.mark.parametrize(
    ("n_entities", "n_relations", "g"), [(4, 1, 1), (4, 1, 3), (5, 1, 2), (4, 2, 1), (5, 2, 2)]
)
def test_per_pass_bound_against_a_brute_force_count(n_entities, n_relations, g):
    tuples, n_chains = answer_tuples(n_entities, n_relations, g)
    assert n_chains == chain_count(n_relations, g)
    distinct = [t for t in tuples if len(set(t)) == len(t) and 0 not in t]
    if n_chains < n_entities:
        # every assignment of distinct values (other than the start) is realised
        assert len(distinct) == math.perm(n_entities - 1, n_chains)
    assert math.log2(len(tuples)) >= per_pass_bits(n_entities, n_relations, g) - 1e-12


def test_random_facts_bound_ingredients():
    # each distinct tuple has probability ((N-m)!/N!)^R: N = 5, R = 1, g = 2, m = 2
    counts = {}
    for permutation in itertools.permutations(range(5)):
        key = (permutation[0], permutation[permutation[0]])
        counts[key] = counts.get(key, 0) + 1
    distinct = {key: count for key, count in counts.items() if len({0, *key}) == 3}
    assert set(distinct.values()) == {math.factorial(3)}  # (N-m)! of N! = 120 each
    # the collision probability stays below C = D(D+1) / (2(N-m+1)) (Monte Carlo, N = 64)
    n, n_relations, g = 64, 2, 2
    rng = np.random.default_rng(0)
    chains = chain_keys(n_relations, g)
    trials = 4000
    collisions = 0
    for _ in range(trials):
        facts = Facts(np.stack([rng.permutation(n) for _ in range(n_relations)]))
        answers = facts.follow(0, chains).tolist()
        collisions += len(set(answers) | {0}) < len(answers) + 1
    answers_count, inner = chain_count(n_relations, g), 1 + n_relations
    bound = answers_count * (answers_count + 1) / (2 * (n - inner + 1))
    assert collisions / trials <= bound
    main = n_relations * log2_falling_factorial(n, inner)
    assert per_pass_bits_random(n, n_relations, g) == pytest.approx(
        main + math.log2(1 - 0.01 - bound)
    )
    with pytest.raises(ValueError, match="vacuous"):
        per_pass_bits_random(4096, 4, 4)


def test_per_pass_bound_grows_exponentially_and_grid_codes_meet_it_up_to_rounding():
    n, n_relations, bits = 4096, 4, 8
    rounding = bits * math.ceil(math.log2(n) / bits) / math.log2(n)
    for g in range(1, 5):
        d_s = chain_count(n_relations, g) * GridCodes(bits=bits).min_code_length(n)
        bound = per_pass_min_dimension(n, n_relations, g, bits)
        assert 1.0 <= d_s / bound <= rounding * 1.01
    int4 = [
        chain_count(n_relations, g)
        * GridCodes(bits=4).min_code_length(n)
        / per_pass_min_dimension(n, n_relations, g, 4)
        for g in range(1, 4)
    ]
    assert all(ratio == pytest.approx(1.0, abs=0.01) for ratio in int4)


# --- the trade-off table ----------------------------------------------------------------------


def test_tradeoff_table_meets_the_per_pass_bound_up_to_rounding():
    rows = tradeoff_table(4096, 4, [1, 2, 3, 4], precision="int8", sample_size=2000)
    assert [(row.hops, row.steps) for row in rows] == [
        (h, steps) for h in range(1, 5) for steps in range(1, h + 1)
    ]
    for row in rows:
        assert row.hops_per_pass == -(-row.hops // row.steps)
        assert row.recall_accuracy == 1.0 and row.recall_checked == 2000
        assert row.exact_at_bits
        assert row.rounding == pytest.approx(16 / 12)
        assert 1.0 <= row.ratio_to_bound <= row.rounding * 1.01
        assert row.d == multi_hop_dimension(4096, 4, row.hops, row.steps)
    full_cot = {row.d for row in rows if row.steps == row.hops}
    assert len(full_cot) == 1
    for fmt in ("md", "csv", "latex"):
        assert "per-pass bound d_s" in render_table(rows, fmt).replace("\\_", "_")
    assert '"per_pass_bound_d_s": 508' in render_table(rows, "json")
