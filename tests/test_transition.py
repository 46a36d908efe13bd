"""The phase transition: accuracy and P(every fact) against d, and the law's d_50 and d_95."""

import json
import math

import numpy as np
import pytest

from geoconstruct import proven_dimension, required_dimension
from geoconstruct.analysis.measurement.dimension_search import measure_min_dimension
from geoconstruct.analysis.measurement.success_law import fit_success_law, success_interval
from geoconstruct.analysis.measurement.transition import transition, transition_table
from geoconstruct.analysis.theory.prediction import predicted_success_dimension
from geoconstruct.cli import main


def test_accuracy_climbs_from_chance_to_every_fact():
    n, r = 512, 3
    low = required_dimension(n, r, layout="superposed", codebook="gaussian")
    proven = proven_dimension(n, r, layout="superposed", codebook="gaussian")
    rows = transition(n, r, [low, proven], seeds=(0, 1, 2))
    first, last = rows
    assert first.d == low and first.accuracy_max < 0.1  # k = 1: near chance
    assert last.d == proven and last.accuracy_min == 1.0 and last.seeds_all_correct == 3
    for row in rows:
        assert row.r_log2_n == pytest.approx(r * math.log2(n))
        assert row.d_over_r_log2_n == pytest.approx(row.d / (r * math.log2(n)))
        assert row.accuracy_min <= row.accuracy_mean <= row.accuracy_max
        assert row.proven_d == proven and row.seeds == (0, 1, 2) and not row.sampled


def test_sampled_rows_carry_their_interval():
    (row,) = transition(300, 2, [40], seeds=(0, 1), sample=200)
    assert row.sampled and row.sample_low <= row.accuracy_min <= row.accuracy_max
    assert row.accuracy_max <= row.sample_high


def test_a_d_below_what_can_be_assembled_is_refused():
    low = required_dimension(100, 2, layout="superposed", codebook="gaussian")
    with pytest.raises(ValueError, match=f"d must be an integer >= {low}"):
        transition(100, 2, [low - 1])


def test_the_table_skips_cells_below_the_assembled_minimum():
    rows = transition_table([64, 128], [1, 3], [3, 5, 60], seeds=(0,))
    assert {(row.n_subjects, row.n_relations, row.d) for row in rows} == {
        (n, r, d)
        for n in (64, 128)
        for r in (1, 3)
        for d in (3, 5, 60)
        if d >= required_dimension(n, r, layout="superposed", codebook="gaussian")
    }


def test_the_command_prints_the_keys_the_issue_asks_for(capsys):
    argv = ["table", "transition", "--subjects", "64", "--relations", "2", "--dims", "6,20,26,200"]
    assert main([*argv, "--seeds", ",".join(map(str, range(10))), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["d"] for row in rows] == [6, 20, 26, 200]
    keys = ("d50", "d50_low", "d50_high", "d95", "d95_low", "d95_high")
    for row in rows:
        for key in (*keys, "predicted_d50", "predicted_d95", "p_every_fact", "p_low", "p_high"):
            assert key in row
        assert row["accuracy_basis"] == "every_fact"
        # the share and its exact interval, from the seeds' outcomes
        assert row["p_every_fact"] == row["seeds_all_correct"] / 10
        assert row["p_low"] <= row["p_every_fact"] <= row["p_high"]
        assert row["predicted_d50"] == predicted_success_dimension(64, 2, 0.5)
        assert row["predicted_d95"] == predicted_success_dimension(64, 2, 0.95)
        # one law per (N, R): every row of it carries the same fit
        assert [row[key] for key in keys] == [rows[0][key] for key in keys]
    assert rows[0]["seeds_all_correct"] == 0 and rows[-1]["seeds_all_correct"] == 10
    assert rows[0]["d50"] is not None and 6 < rows[0]["d50"] <= rows[0]["d95"] < 200


def _simulated(a, b, dims, n_seeds, rng):
    """Seeds' outcomes under P(d) = exp(-e^(a - b·d)), and that law's d_50 and d_95."""
    wins = rng.binomial(n_seeds, np.exp(-np.exp(a - b * np.asarray(dims, float))))
    return wins, (a - math.log(math.log(2))) / b, (a - math.log(-math.log(0.95))) / b


@pytest.mark.slow
def test_the_law_s_intervals_cover_at_their_level():
    """Over 400 simulated tables the 95 % intervals of d_50 and d_95 each cover the true value
    between 92 % and 98 % of the time (a binomial tolerance of about 3 σ at 400 draws)."""
    rng = np.random.default_rng(20261206)
    dims = list(range(180, 261, 10))
    covered = {"d50": 0, "d95": 0}
    for _ in range(400):
        wins, d50, d95 = _simulated(16.0, 0.075, dims, 50, rng)
        law = fit_success_law(dims, wins, [50] * len(dims))
        for name, truth in (("d50", d50), ("d95", d95)):
            low, high = getattr(law, f"{name}_low"), getattr(law, f"{name}_high")
            covered[name] += low is not None and high is not None and low <= truth <= high
    assert 0.92 <= covered["d50"] / 400 <= 0.98, covered
    assert 0.92 <= covered["d95"] / 400 <= 0.98, covered


def test_a_law_without_a_crossing_says_so():
    every = fit_success_law([50, 60], [20, 20], [20, 20])
    assert every.d50 is None and "every seed recalled every fact" in every.note
    assert fit_success_law([50, 60], [0, 0], [5, 5]).note.startswith("no seed did")
    with pytest.raises(ValueError, match="trials"):
        fit_success_law([50], [3], [2])


def test_the_exact_interval_is_clopper_pearson():
    # 0 of n: [0, 1 - (α/2)^(1/n)]; n of n: [(α/2)^(1/n), 1]
    for n in (5, 50):
        low, high = success_interval(0, n)
        assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / n))
        low, high = success_interval(n, n)
        assert high == 1 and low == pytest.approx(0.025 ** (1 / n))


def test_the_plot_is_drawn(tmp_path):
    from geoconstruct.analysis.output.plotting import plot_transition_table

    rows = transition_table([64, 128], [2], [6, 30, 200], seeds=(0, 1))
    target = plot_transition_table(rows, tmp_path / "transition.png")
    assert target.stat().st_size > 10_000


def test_dims_and_ratios_together_are_refused(capsys):
    argv = ["table", "transition", "--subjects", "64", "--relations", "2"]
    assert main([*argv, "--dims", "6,40", "--ratios", "1,2"]) == 2
    assert "--dims and --ratios" in capsys.readouterr().err


def test_the_torch_backend_and_an_executor_measure_the_same_rows(capsys):
    from concurrent.futures import ThreadPoolExecutor

    argv = ["table", "transition", "--subjects", "128", "--relations", "2", "--dims", "8,40"]
    assert main([*argv, "--seeds", "0,1", "--format", "json"]) == 0
    numpy_rows = json.loads(capsys.readouterr().out)
    assert main([*argv, "--seeds", "0,1", "--format", "json", "--backend", "torch"]) == 0
    torch_rows = json.loads(capsys.readouterr().out)
    for ours, theirs in zip(numpy_rows, torch_rows, strict=True):
        assert ours["seeds_all_correct"] == theirs["seeds_all_correct"]
        assert ours["accuracy_mean"] == pytest.approx(theirs["accuracy_mean"], abs=2 / 256)
    with ThreadPoolExecutor(2) as pool:  # each cell as a task of the executor
        rows = transition_table([128], [2], [8, 40], seeds=(0, 1), executor=pool)
    assert [row.seeds_all_correct for row in rows] == [r["seeds_all_correct"] for r in numpy_rows]


def test_a_search_prints_in_one_line_and_runs_serially_when_asked():
    found = measure_min_dimension(128, 2, seeds=(0, 1), executor="serial", progress=False)
    assert "\n" not in repr(found) and len(repr(found)) < 200
    assert repr(found).startswith(f"MinDimension(d={found.d}, basis='every_fact'")
