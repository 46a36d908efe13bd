"""Dimension search and capacity against the forward pass, and the tables they fill."""

import csv
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geoconstruct.analysis.capacity import (
    CapacityRow,
    capacity,
    capacity_table,
    dimension_table,
    min_dimension,
    recalls_at,
    render_table,
)


@settings(max_examples=15)
@given(
    n_subjects=st.integers(2, 3000),
    n_relations=st.integers(1, 4),
    bits=st.integers(2, 8),
    seed=st.integers(0, 2**16),
)
def test_min_dimension_recalls_and_one_less_does_not(n_subjects, n_relations, bits, seed):
    precision = f"int{bits}"
    d = min_dimension(n_subjects, n_relations, precision=precision, seeds=(seed,))
    assert recalls_at(n_subjects, n_relations, d, precision=precision, seeds=(seed,))
    assert not recalls_at(n_subjects, n_relations, d - 1, precision=precision, seeds=(seed,))


@settings(max_examples=10)
@given(k=st.integers(1, 3), n_relations=st.integers(1, 3), bits=st.sampled_from([2, 4, 8]))
def test_capacity_and_min_dimension_agree(k, n_relations, bits):
    d = (n_relations + 1) * k + n_relations  # the block layout's d for k digits
    precision = f"int{bits}"
    largest = capacity(d, n_relations, precision=precision, max_subjects=2**14)
    assert largest >= 1
    assert min_dimension(largest, n_relations, precision=precision) <= d
    if largest < 2**14:
        assert min_dimension(largest + 1, n_relations, precision=precision) > d


def test_capacity_is_zero_when_nothing_fits():
    assert capacity(1, 4) == 0


def test_a_lossy_format_needs_longer_codes_for_unit_codes():
    # gaussian codes rounded to int2 lose their margin at the shortest code length
    coarse = min_dimension(200, 2, codebook="gaussian", precision="int2")
    fine = min_dimension(200, 2, codebook="gaussian", precision="float32")
    assert coarse > fine


def test_dimension_table_rows_and_bounds():
    with ThreadPoolExecutor(2) as pool:
        finished = []
        rows = dimension_table(
            [256, 4096],
            [1, 4],
            codebooks=["grid"],
            precisions=["int8", "int4"],
            executor=pool,
            progress=finished.append,
        )
    assert len(rows) == len(finished) == 8
    for row in rows:
        assert row.error is None
        assert row.min_d is not None and row.d_s is not None
        assert row.d_s >= row.per_subject_bound_d >= row.global_bound_d
        assert row.construction_bound_d == row.min_d  # grid codes: the formula is the minimum
    by_key = {(r.n_subjects, r.n_relations, r.precision): r for r in rows}
    assert by_key[(256, 4, "int8")].storage_efficiency == pytest.approx(1.0)
    assert by_key[(4096, 4, "int4")].storage_efficiency == pytest.approx(1.0)
    assert by_key[(4096, 1, "int8")].storage_efficiency == pytest.approx(0.75)


def test_dimension_table_runs_on_the_default_process_pool():
    rows = dimension_table([300], [2], codebooks=["grid", "gaussian"], precisions=["float32"])
    assert [row.codebook for row in rows] == ["grid", "gaussian"]
    assert all(row.min_d is not None for row in rows)


def test_a_cell_over_the_memory_budget_reports_an_error():
    rows = dimension_table(
        [2**12], [2], codebooks=["gaussian"], memory_budget=2**20, executor=ThreadPoolExecutor(1)
    )
    assert rows[0].min_d is None
    assert "MemoryBudgetError" in rows[0].error and "bytes" in rows[0].error


def test_capacity_table():
    rows = capacity_table([14], [4], precisions=["int8", "int4"], executor=ThreadPoolExecutor(1))
    assert [row.capacity for row in rows] == [2**16, 2**8]
    assert all(row.capacity <= row.per_subject_bound_capacity for row in rows)


def test_render_table_in_every_format():
    rows = dimension_table([256], [2], precisions=["int8"], executor=ThreadPoolExecutor(1))
    markdown = render_table(rows, "md")
    assert markdown.splitlines()[0].startswith("| N | R | codebook | precision | min d |")
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
        "per_subject_bound_d",
        "global_bound_d",
        "storage_efficiency",
    } <= set(records[0])
    latex = render_table(rows, "latex")
    assert latex.startswith(r"\begin{tabular}") and r"min d & d\_s" in latex
    with pytest.raises(ValueError, match="format must be one of"):
        render_table(rows, "html")
    capacity_rows = [CapacityRow(14, 4, "block", "grid", "int8", 8, None, 2**28, 0.0, "X")]
    assert "| — |" in render_table(capacity_rows, "md") and "X" in render_table(capacity_rows)


def test_a_cell_that_cannot_be_verified_in_time_reports_an_error(monkeypatch):
    import geoconstruct.analysis.capacity as capacity_module
    import geoconstruct.verification.certificate as certificate_module

    monkeypatch.setattr(certificate_module, "COHERENCE_WORK_LIMIT", 10)  # no coherence check
    monkeypatch.setattr(capacity_module, "FALLBACK_LOGITS", 1000)
    rows = dimension_table([400], [2], codebooks=["gaussian"], executor=ThreadPoolExecutor(1))
    assert rows[0].min_d is None
    assert "max_fallback" in rows[0].error and "coherence" in rows[0].error


def test_a_random_codebook_over_the_gram_limit_is_not_run(monkeypatch):
    import geoconstruct.analysis.capacity as capacity_module

    monkeypatch.setattr(capacity_module, "GRAM_WORK_LIMIT", 300**2 * 100)
    rows = dimension_table(
        [300, 400],
        [2],
        codebooks=["gaussian", "rademacher", "grid", "bch"],
        executor=ThreadPoolExecutor(1),
    )
    refused = {(row.n_subjects, row.codebook) for row in rows if row.error}
    assert refused == {(400, "gaussian"), (400, "rademacher")}  # k >= 100 at N = 400
    for row in rows:
        if row.error:
            assert row.error.startswith("RuntimeError: not run: the Gram matrix of 400 random")
            assert row.seconds < 0.5 and row.construction_bound_d is not None
        else:
            assert row.min_d is not None


def test_dimension_table_on_a_dask_cluster():
    import distributed  # the 'dask' extra, which the test extra installs: a must, not a skip

    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        distributed.Client(cluster) as client,
    ):
        rows = dimension_table(
            [256, 1024], [2], precisions=["int8"], executor=client.get_executor()
        )
    assert [row.min_d for row in rows] == [
        min_dimension(256, 2, precision="int8"),
        min_dimension(1024, 2, precision="int8"),
    ]


def test_plot_of_the_dimension_table(tmp_path):
    from geoconstruct.analysis.plotting import (
        plot_dimension_table,  # needs the 'plot' extra (in CI)
    )

    rows = dimension_table([256, 4096], [1, 2], precisions=["int8"], executor=ThreadPoolExecutor(1))
    path = plot_dimension_table(rows, tmp_path / "dimension.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
