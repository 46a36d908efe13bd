"""The associative memories at any d, with random keys: what they are (checked against their
formulas through an independent forward pass), what holds their facts, their predicted
transition, and the published law checked on fresh seeds by the independent pass."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cases import independent_argmax, independent_logits
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from geoconstruct.analysis.theory.memory_prediction import (
    key_value_accuracy,
    outer_product_accuracy,
    unit_inner_product_density,
)
from geoconstruct.analysis.theory.prediction import (
    MEDIAN_FAILURES,
    has_prediction,
    predict,
    predicted_min_dimension,
    predicted_success_dimension,
)
from geoconstruct.cli.commands import main
from geoconstruct.constructions.baselines import (
    KEY_VALUE_THRESHOLD,
    construct_baseline,
    memory_code_lengths,
)
from geoconstruct.facts import generator, random_facts
from geoconstruct.io import load, save

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "memories.json"
KINDS = ("outer_product", "key_value")


def _read_outs(construction):
    """What each memory's formula says the read-out y is, for every prompt [N·R, k] (query
    q = r·N + s), computed from the keys, codes and facts alone."""
    keys = construction.metadata.subject_keys
    codes = construction.codebook.codes
    overlaps = keys @ keys.T  # c_ts = ⟨x_t, x_s⟩
    if construction.kind == "key_value":
        overlaps = np.maximum(overlaps - KEY_VALUE_THRESHOLD, 0) / (1 - KEY_VALUE_THRESHOLD)
    return np.concatenate(
        [overlaps.T @ codes[permutation] for permutation in construction.facts.permutations]
    )


@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    n_subjects=st.integers(2, 60),
    n_relations=st.integers(1, 4),
    extra=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
def test_each_memory_reads_out_what_its_formula_says(kind, n_subjects, n_relations, extra, seed):
    d = n_relations + 4 + extra
    construction = construct_baseline(n_subjects, n_relations, kind, d, seed=seed)
    tokens, _ = construction.prompts()
    attributes = construction.vocabulary.attribute_offset + np.arange(n_subjects)
    logits = np.concatenate(list(independent_logits(construction.weights, tokens)))
    expected = _read_outs(construction) @ construction.codebook.codes.T  # ⟨u_a, y⟩
    np.testing.assert_allclose(logits[:, attributes], expected, atol=1e-9)
    assert (
        logits[:, attributes].min(axis=1) > np.delete(logits, attributes, axis=1).max(axis=1)
    ).all()


@pytest.mark.parametrize("kind", KINDS)
def test_the_fact_dependent_count_is_what_changes_with_the_facts(kind):
    """Built twice from one seed with two fact sets, the weights differ in at most the stated
    fact-dependent entries, and in all but those that happen to coincide."""
    n_subjects, n_relations, d = 200, 3, 40
    first = construct_baseline(n_subjects, n_relations, kind, d, seed=5)
    other = random_facts(n_subjects, n_relations, generator(77))
    second = construct_baseline(n_subjects, n_relations, kind, d, seed=5, facts=other)
    changed = sum(int((first.weights[n] != second.weights[n]).sum()) for n in first.weights)
    stated = first.parameter_count.fact_dependent
    assert changed <= stated
    same_answers = (first.facts.permutations == other.permutations).mean()
    assert changed >= stated * (1 - same_answers) * 0.99
    k = memory_code_lengths(kind, n_relations, d)[1]
    assert stated == (2 * n_relations * k * k if kind == "outer_product" else 200 * 3 * k)


@pytest.mark.parametrize("kind", KINDS)
def test_a_memory_at_d_is_reproducible_and_round_trips(kind, tmp_path):
    one = construct_baseline(128, 2, kind, 30, seed=4, dtype="float32")
    two = construct_baseline(128, 2, kind, 30, seed=4, dtype="float32")
    assert all(np.array_equal(one.weights[n], two.weights[n]) for n in one.weights)
    assert one.guarantee.scope == "none" and "measured" in one.guarantee.statement
    path = save(one, tmp_path / "memory.npz")
    loaded = load(path)
    assert loaded.metadata.keys == "random" and loaded.config == one.config
    assert all(np.array_equal(loaded.weights[n], one.weights[n]) for n in one.weights)


@pytest.mark.parametrize(
    ("arguments", "keywords", "error", "message"),
    [
        ((100, 2, "outer_product", 30), {"codebook": "grid"}, ValueError, "not random"),
        ((100, 2, "outer_product", 3), {}, ValueError, "requires d >= 4"),
        ((100, 2, "key_value", 5), {}, ValueError, "requires d >= 6"),
        ((100, 2, "key_value", 2.5), {}, TypeError, "d"),
        ((100, 2, "hopfield", 30), {}, ValueError, "kind"),
    ],
)
def test_bad_memory_requests_raise(arguments, keywords, error, message):
    with pytest.raises(error, match=message):
        construct_baseline(*arguments, **keywords)


@settings(max_examples=20, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    n_subjects=st.integers(2, 2**16),
    beyond=st.integers(0, 400),
)
def test_each_memory_estimate_is_a_probability_that_grows_with_k_in_its_regime(
    kind, n_subjects, beyond
):
    k = (math.isqrt(n_subjects - 1) + 1 if kind == "outer_product" else 2) + beyond
    d = k + 1 if kind == "outer_product" else 2 * k + 1
    assert predict(n_subjects, 1, d, memory=kind).in_regime

    def accuracy(length):
        if kind == "outer_product":
            return outer_product_accuracy(n_subjects, length)
        return key_value_accuracy(n_subjects, length, KEY_VALUE_THRESHOLD)

    here, further = accuracy(k), accuracy(k + 8)
    assert 0.0 <= here <= further * (1 + 1e-6) + 1e-9 and further <= 1.0


def test_the_inner_product_law_is_a_density_with_variance_one_over_k():
    grid = np.linspace(-1, 1, 200_001)
    for k in (3, 10, 100):
        density = unit_inner_product_density(k, grid)
        assert np.trapezoid(density, grid) == pytest.approx(1, abs=1e-4)
        assert np.trapezoid(grid**2 * density, grid) == pytest.approx(1 / k, rel=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_the_predicted_min_d_is_the_median_it_is_defined_as(kind):
    n_subjects, n_relations = 1024, 4
    d = predicted_min_dimension(n_subjects, n_relations, memory=kind, n_seeds=1)
    at, below = (predict(n_subjects, n_relations, x, memory=kind) for x in (d, d - 1))
    assert at.failing_facts <= MEDIAN_FAILURES < below.failing_facts
    assert predicted_success_dimension(n_subjects, n_relations, 0.5, memory=kind) == d


def test_the_outer_product_constant_is_near_two_at_half_accuracy():
    """Half the queries answered at k² ≈ c·N ln N, c below the asymptotic 2 (docs/design.md)."""
    for n in (2**10, 2**14, 2**18):
        k = next(k for k in range(2, 10**5) if outer_product_accuracy(n, k) >= 0.5)
        assert 1.6 < k * k / (n * math.log(n)) < 2.0


def test_only_random_unit_codes_are_predicted_for_the_memories():
    assert has_prediction(memory="outer_product") and has_prediction(
        codebook="rademacher", memory="key_value"
    )
    assert not has_prediction(codebook="grid", memory="outer_product")
    with pytest.raises(ValueError, match="random unit codes"):
        predicted_min_dimension(1024, 2, codebook="bch", memory="key_value")
    with pytest.raises(ValueError, match="memory"):
        predicted_min_dimension(1024, 2, memory="hopfield")


def test_the_transition_table_takes_the_memories_on_the_command_line(capsys):
    argv = ["table", "transition", "--subjects", "64", "--relations", "2", "--seeds", "0-3"]
    argv += ["--dims", "8,12,16,24,40,80"]
    argv += ["--memory", "outer_product,key_value", "--format", "json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["memory"] for row in rows} == set(KINDS)
    for row in rows:
        assert row["accuracy_basis"] == "every_fact" and row["predicted_d50"] is not None
        assert row["parameters"] > row["fact_dependent_parameters"] > 0
        assert {"d50", "d95"} <= set(row)
    assert main([*argv[:-4], "--memory", "hopfield"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _published():
    return json.loads(RESULTS.read_text())


def _fresh_seed_counts(row, d, n_seeds, first_seed):
    from geoconstruct.constructions.multi_hop import construct_multi_hop

    passing = 0
    for seed in range(first_seed, first_seed + n_seeds):
        n, r, memory = row["n_subjects"], row["n_relations"], row["memory"]
        if memory == "multi_hop":
            construction = construct_multi_hop(
                n,
                r,
                row["hops"],
                row["steps"],
                d,
                layout="superposed",
                codebook="gaussian",
                seed=seed,
                dtype="float32",
            )
            passing += bool(_independent_chains(construction).all())
            continue
        construction = construct_baseline(n, r, memory, d, seed=seed, dtype="float32")
        tokens, answers = construction.prompts()
        passing += bool((independent_argmax(construction.weights, tokens) == answers).all())
    return passing


LAW_CASES = [(memory, n, r, 1, 1) for memory in KINDS for n in (256, 1024) for r in (1, 4)]
LAW_CASES += [("multi_hop", n, r, 2, 2) for n in (256, 1024) for r in (2, 4)]
LAW_CASES += [("multi_hop", 256, r, 3, 3) for r in (2, 4)] + [("multi_hop", 256, 2, 2, 1)]
# Left out for the suite's time (docs/results/memories.md), each passed once by hand: the single
# pass with H = 3 at N = 2^8 (7 min), with H = 2 at N = 2^10 (1 min), and H = 3 by chain of
# thought at N = 2^10 (1 min; its constructions and lookups are H = 2's, which runs).


@pytest.mark.parametrize(
    ("memory", "n_subjects", "n_relations", "hops", "steps"),
    [
        pytest.param(*case, marks=pytest.mark.slow)
        if case[1] > 256 or case[4] < case[3] or (case[0] == "multi_hop" and case[2] > 2)
        else case
        for case in LAW_CASES
    ],
)
def test_the_published_law_holds_on_fresh_seeds(memory, n_subjects, n_relations, hops, steps):
    """At the published d_95 the independent pass recalls every fact on at least 85 % of fresh
    seeds, at d_50 on 25–75 %: refuted only by counts a binomial puts below 1e-6 under the claim."""
    wanted = (memory, n_subjects, n_relations, hops, steps)
    rows = [
        row
        for row in _published()
        if (row["memory"], row["n_subjects"], row["n_relations"], row["hops"], row["steps"])
        == wanted
    ]
    assert rows, "the published table has this row"
    n_seeds, false_alarm = 30, 1e-6
    d95, d50 = math.ceil(rows[0]["d95"]), round(rows[0]["d50"])
    at_95 = _fresh_seed_counts(rows[0], d95, n_seeds, first_seed=10_000)
    assert at_95 >= binom.ppf(false_alarm, n_seeds, 0.85)
    at_50 = _fresh_seed_counts(rows[0], d50, n_seeds, first_seed=20_000)
    assert binom.ppf(false_alarm, n_seeds, 0.25) <= at_50 <= binom.isf(false_alarm, n_seeds, 0.75)


def _independent_chains(construction):
    """Every chain of the multi-hop construction through the independent pass, pass by pass
    (each distinct prompt once): whether each query's last prediction is its answer."""
    queries = construction.queries
    n = construction.facts.n_subjects
    n_relations = construction.facts.n_relations
    entities, chains = queries.queries(construction)
    g, passes = queries.hops_per_pass, queries.n_passes
    padded = np.full((entities.size, passes * g), n_relations, dtype=np.int64)
    padded[:, : queries.hops] = chains
    current = entities
    for step in range(passes):
        tokens = np.concatenate([padded[:, step * g : (step + 1) * g] + n, current[:, None]], 1)
        distinct, inverse = np.unique(tokens, axis=0, return_inverse=True)
        current = independent_argmax(construction.weights, distinct)[inverse.reshape(-1)]
    return current == construction.facts.follow(entities, chains)


def test_superposed_chains_embed_every_chain_through_its_own_map():
    from geoconstruct.constructions.multi_hop import chain_keys, construct_multi_hop

    construction = construct_multi_hop(
        40, 2, 2, 1, 60, layout="superposed", codebook="gaussian", seed=3
    )
    keys, maps = chain_keys(2, 2), construction.metadata.read_maps
    answers = construction.facts.follow(np.arange(40)[:, None], keys)
    expected = sum(construction.codebook.codes[answers[:, c]] @ maps[c].T for c in range(len(keys)))
    np.testing.assert_allclose(construction.subject_embeddings, expected, atol=1e-12)
    assert construction.guarantee.scope == "none"
    report = construction.recall()
    assert report.all_correct == bool(_independent_chains(construction).all())


def test_superposed_chains_refuse_codes_that_are_not_random():
    from geoconstruct.constructions.multi_hop import construct_multi_hop

    with pytest.raises(ValueError, match="superposed multi-hop layout"):
        construct_multi_hop(40, 2, 2, 1, 60, layout="superposed", codebook="grid")


def test_the_parameters_figure_is_drawn(tmp_path):
    """From the published rows: a point for every memory whose law has a d_50 in its grid."""
    import dataclasses

    from geoconstruct.analysis.measurement.transition import TransitionRow
    from geoconstruct.analysis.output.plotting import plot_memory_parameters

    names = {field.name for field in dataclasses.fields(TransitionRow)}
    rows = [
        TransitionRow(**{key: value for key, value in row.items() if key in names})
        for row in _published()
    ]
    target = plot_memory_parameters(rows, tmp_path / "parameters.png")
    assert target.stat().st_size > 10_000
