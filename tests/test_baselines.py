"""Associative-memory baselines, the probes that tell them from the geometric construction, and
the comparison table."""

import dataclasses
import hashlib
import json
import re
from types import MappingProxyType

import numpy as np
import pytest
from cases import LAYOUT_CODEBOOKS
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import MemoryBudgetError, construct_single_hop, proven_dimension, random_facts
from geoconstruct.analysis.measurement.comparison import baselines_table
from geoconstruct.analysis.mechanism.probes import selector_profile, superposition_fit
from geoconstruct.analysis.mechanism.transfer import fit_superposition, reinitialize_weights
from geoconstruct.analysis.output.tables import render_table
from geoconstruct.cli import main
from geoconstruct.constructions.baselines import (
    BASELINE_KINDS,
    baseline_dimension,
    baseline_parameters,
    construct_baseline,
)
from geoconstruct.model.transformer import ParameterSplit, validate_weights

seeds = st.integers(0, 2**32 - 1)


@pytest.mark.parametrize("kind", BASELINE_KINDS)
@settings(max_examples=15)
@given(n_subjects=st.integers(1, 300), n_relations=st.integers(1, 5), seed=seeds)
def test_baselines_recall_every_fact(kind, n_subjects, n_relations, seed):
    memory = construct_baseline(n_subjects, n_relations, kind, seed=seed)
    validate_weights(memory.weights, memory.config)
    report = memory.recall()
    assert report.n_facts == n_subjects * n_relations
    assert report.n_correct == report.n_facts, report.failures
    assert report.min_margin >= 0.5 - 1e-9  # the MLP writes the clean grid code
    assert memory.config.d_model == baseline_dimension(n_subjects, n_relations, kind)
    assert memory.config.d_mlp == n_subjects * n_relations  # a unit per fact
    assert ParameterSplit.of(memory.config) == baseline_parameters(n_subjects, n_relations, kind)


@pytest.mark.parametrize("kind", BASELINE_KINDS)
@pytest.mark.parametrize("codebook", ["gaussian", "rademacher", "bch"])
def test_baselines_recall_with_unit_codes_in_float32(kind, codebook):
    memory = construct_baseline(400, 3, kind, codebook=codebook, dtype="float32", seed=3)
    assert memory.recall().all_correct


def test_key_value_units_fire_for_exactly_their_fact():
    memory = construct_baseline(64, 3, "key_value", seed=1)
    profile = selector_profile(memory.weights, memory.config, memory.facts)
    assert profile.n_prompts == 64 * 3
    assert (profile.fires == 1).all()
    assert (profile.opens_for.sum(axis=1) == 1).all()


def test_baselines_store_the_same_facts_as_the_geometric_construction():
    geometric = construct_single_hop(200, 3, proven_dimension(200, 3), seed=5)
    for kind in BASELINE_KINDS:
        assert construct_baseline(200, 3, kind, seed=5).facts == geometric.facts


def test_baseline_mlps_grow_with_the_facts_and_the_geometric_one_does_not():
    def geometric_mlp(n, r):  # grid codes: k = ⌈log2 N / 8⌉ digits
        d = proven_dimension(n, r, layout="block", codebook="grid")
        construction = construct_single_hop(n, r, d, layout="block", codebook="grid")
        return ParameterSplit.of(construction.config).mlp

    for kind in BASELINE_KINDS:
        mlp = {(n, r): baseline_parameters(n, r, kind).mlp for n in (256, 4096) for r in (1, 16)}
        assert mlp[(4096, 16)] > 16 * mlp[(256, 16)] and mlp[(4096, 16)] > 16 * mlp[(4096, 1)]
    # the selector: 2·R·k units; k = 1 digit of 8 bits up to N = 256 and 2 up to 65536
    assert geometric_mlp(200, 4) == geometric_mlp(250, 4)
    assert geometric_mlp(4096, 4) == geometric_mlp(60_000, 4)


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_baselines_do_not_transfer_with_grid_codes(kind):
    memory = construct_baseline(500, 3, kind, seed=2)
    fit = fit_superposition(memory.weights, memory.facts)
    assert fit.r2 < 0.05
    new_facts = random_facts(500, 3, seed=77)
    moved = dataclasses.replace(
        memory,
        weights=MappingProxyType(dict(reinitialize_weights(memory.weights, fit, new_facts))),
        facts=new_facts,
    )
    # every array but W_E is the very same object; the new facts are recalled near chance (1/N)
    for name in memory.weights:
        if name != "embed.W_E":
            assert moved.weights[name] is memory.weights[name]
    assert moved.recall().accuracy < 0.05


def test_the_outer_product_memory_transfers_with_unit_codes():
    """Least squares inverts a linear memory over orthonormal keys (proofs/baselines.md)."""
    memory = construct_baseline(700, 3, "outer_product", codebook="gaussian", seed=2)
    fit = fit_superposition(memory.weights, memory.facts)
    new_facts = random_facts(700, 3, seed=9)
    weights = MappingProxyType(dict(reinitialize_weights(memory.weights, fit, new_facts)))
    moved = dataclasses.replace(memory, weights=weights, facts=new_facts)
    assert moved.recall().accuracy > 0.99


# --- the probes tell them apart ---------------------------------------------------------------


@pytest.mark.parametrize(("layout", "codebook"), LAYOUT_CODEBOOKS)
def test_probes_call_a_geometric_construction_a_selector(layout, codebook):
    n_subjects = 300 if layout.startswith("block") else 3000
    d = proven_dimension(n_subjects, 2, layout=layout, codebook=codebook)
    construction = construct_single_hop(
        n_subjects, 2, d, layout=layout, codebook=codebook, seed=4, dtype="float32"
    )
    profile = selector_profile(
        construction.weights, construction.config, construction.facts, max_prompts=6000
    )
    assert profile.verdict == "selector"
    assert profile.count("fact") == 0 and profile.count("other") == 0
    live = np.array([kind == "selector" for kind in profile.kinds])
    assert (profile.opens_for[live].sum(axis=1) == 1).all()
    assert (profile.attribute_r2[live] > 0.99).all()
    # block, separate output: the unit reads the selected attribute only; superposed: others leak
    # in (crosstalk); in place: the unit reads the selected code minus the one held in place
    if layout == "block_separate":
        assert (profile.selected_r2[live] > 0.99).all()
    else:
        assert np.nanmean(profile.selected_r2[live]) < 0.9
    if construction.facts.n_subjects > 2 * construction.codebook.code_length + 1:
        assert superposition_fit(construction.weights, construction.facts).adjusted_r2 > 0.999


@pytest.mark.parametrize("kind", BASELINE_KINDS)
@pytest.mark.parametrize("codebook", ["grid", "gaussian"])
def test_probes_call_a_baseline_a_key_value_memory(kind, codebook):
    memory = construct_baseline(400, 2, kind, codebook=codebook, seed=6)
    profile = selector_profile(memory.weights, memory.config, memory.facts)
    assert profile.verdict == "key_value"
    assert profile.count("fact") == memory.config.d_mlp and profile.count("selector") == 0
    probe = superposition_fit(memory.weights, memory.facts)
    assert probe.adjusted_r2 < 0.2


def test_probe_errors_are_clear():
    construction = construct_single_hop(50, 2, proven_dimension(50, 2))
    with pytest.raises(ValueError, match="need 104"):
        selector_profile(construction.weights, construction.config, random_facts(51, 2))
    with pytest.raises(MemoryBudgetError, match="this profile would need"):
        selector_profile(
            construction.weights, construction.config, construction.facts, memory_budget=1000
        )


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "keywords", "error", "message"),
    [
        ((10, 2, "hash_table"), {}, ValueError, "kind must be one of"),
        ((0, 2, "key_value"), {}, ValueError, "n_subjects must be an integer >= 1"),
        ((10, 2.0, "key_value"), {}, TypeError, "n_relations must be an integer"),
        ((10, 2, "key_value"), {"dtype": "int8"}, ValueError, "dtype must be one of"),
        ((10, 2, "key_value"), {"facts": random_facts(10, 3)}, ValueError, "expected N=10, R=2"),
    ],
)
def test_bad_baseline_requests_raise(arguments, keywords, error, message):
    with pytest.raises(error, match=re.escape(message)):
        construct_baseline(*arguments, **keywords)


def test_an_outer_product_memory_over_budget_is_refused_before_allocating():
    with pytest.raises(MemoryBudgetError, match=r"this construction would need about [\d,]+ bytes"):
        construct_baseline(2**16, 16, "outer_product")


# --- the comparison table ---------------------------------------------------------------------


def test_baselines_table_rows():
    rows = baselines_table([256, 1024], [1, 4], max_checked=2000)
    assert [(row.n_subjects, row.n_relations, row.model) for row in rows] == [
        (n, r, model)
        for n in (256, 1024)
        for r in (1, 4)
        for model in ("geometric", "key_value", "outer_product")
    ]
    for row in rows:
        assert row.error is None and row.recall == 1.0
        assert row.checked == min(2000, row.n_subjects * row.n_relations)
        if row.model == "geometric":
            assert row.transfer == 1.0 and row.superposition_r2 > 0.999
        else:
            assert row.transfer < 0.05 and row.superposition_r2 < 0.1
    mlp = {(row.n_subjects, row.n_relations, row.model): row.mlp_params for row in rows}
    for kind in ("key_value", "outer_product"):
        assert mlp[(1024, 4, kind)] > 10 * mlp[(1024, 4, "geometric")]
    text = render_table(rows, "md")
    assert "| N | R | model |" in text and "transfer (new facts)" in text


def test_baselines_table_reports_an_over_budget_model_with_its_parameters():
    (row,) = baselines_table([2**12], [16], models=["outer_product"], memory_budget=2**28)
    assert row.recall is None and row.error.startswith("not built: needs about ")
    assert row.embedding_params == (2 * 2**12 + 16) * (2**12 + 16 + 2)


def test_cli_table_baselines_and_transfer(capsys):
    status = main(
        ["table", "baselines", "--subjects", "256", "--relations", "2", "--format", "json"]
    )
    rows = json.loads(capsys.readouterr().out)
    assert status == 0 and len(rows) == 3
    assert {row["model"] for row in rows} == {"geometric", "key_value", "outer_product"}
    status = main(["transfer", "--subjects", "300", "--relations", "3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "new facts recalled     900 / 900" in out
    assert "unchanged bit for bit: attention, MLP, unembedding" in out


def test_same_seed_same_baseline():
    def digest(seed):
        memory = construct_baseline(100, 2, "key_value", seed=seed)
        return hashlib.sha256(memory.weights["blocks.0.mlp.W_out"].tobytes()).hexdigest()

    assert digest(1) == digest(1) != digest(2)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "n_subjects"), [("key_value", 4096), ("outer_product", 1024)])
def test_baselines_recall_every_fact_at_sixteen_relations(kind, n_subjects):
    """Every one of N·16 facts through the forward pass (the table checks samples beyond 2000)."""
    memory = construct_baseline(n_subjects, 16, kind, seed=11, dtype="float32")
    report = memory.recall()
    assert report.n_facts == n_subjects * 16 and report.all_correct
