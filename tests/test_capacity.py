"""Measured minimum dimension and capacity, judged by the forward pass, and the tables they fill."""

import csv
import io
import json
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from cases import independent_argmax
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct import construct_single_hop, proven_dimension, required_dimension
from geoconstruct.analysis.measurement.capacity import (
    CapacityRow,
    capacity_table,
    dimension_table,
    render_table,
)
from geoconstruct.analysis.measurement.dimension_search import (
    MAX_CODE_STEPS,
    capacity,
    measure_min_dimension,
    min_dimension,
    recalls_at,
)
from geoconstruct.analysis.theory.prediction import predicted_min_dimension
from geoconstruct.cli import main
from geoconstruct.constructions.single_hop_sizes import code_length_for

GRID = {"layout": "block", "codebook": "grid"}


def _every_fact(construction):
    """Whether an independent forward pass answers every query."""
    tokens, answers = construction.prompts()
    return bool(np.array_equal(independent_argmax(construction.weights, tokens), answers))


@settings(max_examples=12, deadline=None)
@given(
    n_subjects=st.integers(2, 3000),
    n_relations=st.integers(1, 4),
    bits=st.integers(2, 8),
    seed=st.integers(0, 2**16),
)
def test_grid_min_dimension_recalls_and_one_less_does_not(n_subjects, n_relations, bits, seed):
    precision = f"int{bits}"
    d = min_dimension(n_subjects, n_relations, precision=precision, seeds=(seed,), **GRID)
    assert recalls_at(n_subjects, n_relations, d, precision=precision, seeds=(seed,), **GRID)
    assert not recalls_at(
        n_subjects, n_relations, d - 1, precision=precision, seeds=(seed,), **GRID
    )


@settings(max_examples=6, deadline=None)
@given(
    n_subjects=st.integers(16, 400),
    n_relations=st.integers(1, 4),
    first_seed=st.integers(0, 2**16),
)
def test_random_code_min_dimension_is_minimal(n_subjects, n_relations, first_seed):
    seeds = (first_seed, first_seed + 1, first_seed + 2)
    # float64 throughout, so that the forward pass written here rounds as the library's does
    found = measure_min_dimension(n_subjects, n_relations, seeds=seeds, precision="float64")
    assert found.d <= found.proven_d == proven_dimension(n_subjects, n_relations)
    # one relation: a clean read-out, which the certificate proves; more: random superposed codes
    assert found.basis == ("certified" if n_relations == 1 else "every_fact")
    assert found.failing_fraction_upper == 0.0
    for seed in seeds:  # every seed recalls every fact at min d, by an independent forward pass
        assert _every_fact(construct_single_hop(n_subjects, n_relations, found.d, seed=seed))
    shorter = found.d - 1  # the superposed layout: one code length shorter is one d less
    if shorter >= required_dimension(n_subjects, n_relations):
        assert (
            found.failed_below is not None
            and found.failed_below.code_length == shorter - n_relations
        )
        assert not all(
            _every_fact(construct_single_hop(n_subjects, n_relations, shorter, seed=seed))
            for seed in seeds
        )
    else:
        assert found.failed_below is None


@settings(max_examples=8, deadline=None)
@given(k=st.integers(1, 3), n_relations=st.integers(1, 3), bits=st.sampled_from([2, 4, 8]))
def test_capacity_and_min_dimension_agree(k, n_relations, bits):
    d = n_relations * (k + 1)  # the block layout's d for k digits, read in place
    precision = f"int{bits}"
    largest = capacity(d, n_relations, precision=precision, max_subjects=2**14, seeds=(0,), **GRID)
    assert largest >= 1
    assert min_dimension(largest, n_relations, precision=precision, seeds=(0,), **GRID) <= d
    if largest < 2**14:
        assert min_dimension(largest + 1, n_relations, precision=precision, seeds=(0,), **GRID) > d


def test_capacity_of_random_codes_is_measured_below_the_proof():
    d = 60
    largest = capacity(d, 2, seeds=(0, 1))
    assert proven_dimension(largest, 2) > d  # the proof would not admit this N at d
    assert recalls_at(largest, 2, d, seeds=(0, 1))
    assert not recalls_at(largest + 1, 2, d, seeds=(0, 1))  # bisection: the next N fails


def test_capacity_is_zero_when_nothing_fits():
    assert capacity(1, 4) == 0


def test_a_lossy_format_needs_longer_codes_for_unit_codes():
    # superposed embeddings rounded to int4 lose some of their margin
    coarse = min_dimension(200, 2, precision="int4", seeds=(0,))
    fine = min_dimension(200, 2, precision="float32", seeds=(0,))
    assert coarse > fine


@pytest.mark.slow
def test_a_format_too_coarse_for_every_code_length_is_refused():
    # the search walks up from the prediction to MAX_CODE_STEPS past the proof's code length
    last = code_length_for(200, 2) + MAX_CODE_STEPS - 1
    with pytest.raises(
        RuntimeError, match=rf"no construction with code length \d+\.\.{last} recalls"
    ):
        min_dimension(200, 2, precision="int2", seeds=(0,))


def test_dimension_table_rows_and_bounds():
    with ThreadPoolExecutor(2) as pool:
        finished = []
        rows = dimension_table(
            [256, 4096],
            [1, 4],
            codebooks=["grid"],
            precisions=["int8", "int4"],
            seeds=(0,),
            executor=pool,
            progress=finished.append,
        )
    assert len(rows) == len(finished) == 8
    for row in rows:
        assert row.error is None and row.layout == "block"  # grid codes take the block layout
        assert row.min_d is not None and row.d_s is not None
        assert row.d_s >= row.per_subject_bound_d >= row.global_bound_d
        assert row.proven_d == row.min_d  # grid codes: the proved minimum is the measured one
        assert row.min_d_over_r_log2_n == pytest.approx(
            row.min_d / (row.n_relations * math.log2(row.n_subjects))
        )
        assert row.packing_bound_k is None and row.sampled_queries is None
    by_key = {(r.n_subjects, r.n_relations, r.precision): r for r in rows}
    assert by_key[(256, 4, "int8")].storage_efficiency == pytest.approx(1.0)
    assert by_key[(4096, 4, "int4")].storage_efficiency == pytest.approx(1.0)
    assert by_key[(4096, 1, "int8")].storage_efficiency == pytest.approx(0.75)


def test_random_code_rows_beside_the_proof_and_the_packing_bound():
    (row,) = dimension_table([512], [2], seeds=(0, 1), executor=ThreadPoolExecutor(1))
    assert row.error is None and (row.layout, row.codebook) == ("superposed", "gaussian")
    assert row.min_d < row.proven_d == proven_dimension(512, 2)
    assert row.seeds == (0, 1) and row.min_d_basis == "every_fact"
    assert row.predicted_min_d == predicted_min_dimension(512, 2, n_seeds=2)
    assert 0.0 < row.measured_coherence < 1.0
    assert 1 <= row.packing_bound_k <= row.code_length


def test_rows_past_the_work_limit_are_sampled_with_their_bounds():
    (row,) = dimension_table(
        [400], [2], seeds=(0,), sample_size=300, exact_work_limit=0, executor=ThreadPoolExecutor(1)
    )
    assert row.sampled_queries == 300 and row.min_d is not None and row.min_d_basis == "sampled"
    # 300 of 800 sampled and all answered: the exact 95 % bound on the failing share, and facts
    assert 0.0 < row.failing_fraction_upper < 0.03
    assert row.failing_facts_upper == pytest.approx(row.failing_fraction_upper * 800)


def test_dimension_table_runs_on_the_default_process_pool():
    rows = dimension_table([300], [2], codebooks=["grid", "gaussian"], seeds=(0,))
    assert [row.codebook for row in rows] == ["grid", "gaussian"]
    assert all(row.min_d is not None for row in rows)


def test_a_cell_over_the_memory_budget_reports_an_error():
    rows = dimension_table([2**12], [2], memory_budget=2**20, executor=ThreadPoolExecutor(1))
    assert rows[0].min_d is None
    assert "MemoryBudgetError" in rows[0].error and "bytes" in rows[0].error


def test_the_packing_column_is_left_empty_past_the_gram_limit(monkeypatch):
    import geoconstruct.analysis.measurement.capacity as capacity_module

    monkeypatch.setattr(capacity_module, "GRAM_WORK_LIMIT", 10)
    (row,) = dimension_table([300], [2], seeds=(0,), executor=ThreadPoolExecutor(1))
    assert row.min_d is not None and row.packing_bound_k is None


def test_capacity_table():
    rows = capacity_table(
        [12],
        [4],
        precisions=["int8", "int4"],
        seeds=(0,),
        max_subjects=2**12,  # every check is a forward pass over every fact: keep N small
        executor=ThreadPoolExecutor(1),
        **{"codebooks": ["grid"], "layout": "block"},
    )
    assert [row.capacity for row in rows] == [2**12, 2**8]  # 2^16 codes fit; the search stops
    for row in rows:  # k = 2 digits: the per-subject bound R·log2 N <= d_s·p
        assert row.log2_capacity <= row.per_subject_bound_log2_n == 2 * 4 * row.bits / 4


def test_render_table_in_every_format():
    rows = dimension_table(
        [256], [2], precisions=["int8"], seeds=(0,), executor=ThreadPoolExecutor(1)
    )
    markdown = render_table(rows, "md")
    assert markdown.splitlines()[0].startswith("| N | R | layout | codebook | precision | min d |")
    parsed = list(csv.DictReader(io.StringIO(render_table(rows, "csv"))))
    assert parsed[0]["min d"] == str(rows[0].min_d) and parsed[0]["N"] == "256"
    records = json.loads(render_table(rows, "json"))
    assert records[0]["min_d"] == rows[0].min_d
    assert {
        "n_subjects",
        "n_relations",
        "codebook",
        "precision",
        "min_d",
        "proven_d",
        "seeds",
        "min_d_over_r_log2_n",
        "per_subject_bound_d",
        "global_bound_d",
        "storage_efficiency",
    } <= set(records[0])
    latex = render_table(rows, "latex")
    assert latex.startswith(r"\begin{tabular}") and r"min d & proven d" in latex
    with pytest.raises(ValueError, match="format must be one of"):
        render_table(rows, "html")
    capacity_rows = [CapacityRow(12, 4, "block", "grid", "int8", 8, (0,), 32.0, error="X")]
    assert "| — |" in render_table(capacity_rows, "md") and "X" in render_table(capacity_rows)


def test_the_dimension_command_prints_the_fields_the_issue_asks_for(capsys):
    argv = ["table", "dimension", "--subjects", "128,256", "--relations", "2", "--layout"]
    argv += ["superposed", "--codebook", "gaussian", "--seeds", "0,1", "--format", "json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["n_subjects"] for row in rows] == [128, 256]
    for row in rows:
        assert row["n_relations"] == 2 and row["seeds"] == [0, 1]
        assert row["min_d"] <= row["proven_d"]
        assert row["min_d_over_r_log2_n"] == pytest.approx(
            row["min_d"] / (2 * math.log2(row["n_subjects"]))
        )


def test_dimension_table_on_a_dask_cluster():
    import distributed  # the 'dask' extra, which the test extra installs: a must, not a skip

    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        distributed.Client(cluster) as client,
    ):
        rows = dimension_table(
            [256, 1024],
            [2],
            precisions=["int8"],
            codebooks=["grid"],
            seeds=(0,),
            executor=client.get_executor(),
        )
    assert [row.min_d for row in rows] == [
        min_dimension(256, 2, precision="int8", seeds=(0,), **GRID),
        min_dimension(1024, 2, precision="int8", seeds=(0,), **GRID),
    ]


def test_plot_of_the_dimension_table(tmp_path):
    from geoconstruct.analysis.output.plotting import (
        plot_dimension_table,  # needs the 'plot' extra (in CI)
    )

    rows = dimension_table(
        [256, 4096],
        [1, 2],
        precisions=["int8"],
        codebooks=["grid"],
        seeds=(0,),
        executor=ThreadPoolExecutor(1),
    )
    path = plot_dimension_table(rows, tmp_path / "dimension.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
