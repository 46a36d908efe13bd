import json

import pytest

from geoconstruct.analysis.measurement.bench import bench_size
from geoconstruct.analysis.measurement.dimension_search import measure_min_dimension
from geoconstruct.analysis.theory.prediction import predicted_min_dimension
from geoconstruct.cli import commands, main
from geoconstruct.constructions.single_hop_sizes import proven_dimension


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_construct_prints_the_report(capsys):
    status, out, _ = run(capsys, "construct", "--subjects", "500", "--relations", "3")
    assert status == 0
    d = proven_dimension(500, 3)
    assert f"d_model          {d}" in out
    assert "recall           1,500 / 1,500 facts (accuracy 1.000000)" in out
    assert "fact-dependent" in out and "generic" in out and "min margin" in out
    assert "wall time" in out


def test_construct_announces_a_long_exact_pass_before_it_runs(capsys, monkeypatch):
    monkeypatch.setattr(commands, "LONG_PASS_SECONDS", 0.0)  # every pass counts as long
    size = ["construct", "--subjects", "3000", "--relations", "2", "--layout", "block"]
    status, out, err = run(capsys, *size, "--codebook", "grid")
    assert status == 0 and "recall           6,000 / 6,000" in out
    assert "the pass over every fact will take about" in err
    assert "--method certified" in err and "--sample-size" in err
    _, _, quiet_err = run(capsys, *size, "--codebook", "grid", "--quiet")
    assert "will take" not in quiet_err
    _, _, sampled_err = run(capsys, *size, "--codebook", "grid", "--sample-size", "100")
    assert "will take" not in sampled_err  # a sample is not announced


def test_construct_checks_a_seeded_sample(capsys):
    argv = ["construct", "--subjects", "2000", "--relations", "2", "--sample-size", "300"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "recall           300 / 300 facts (a seeded sample of 4,000; accuracy 1.000000" in out
    assert "the forward pass on every prompt of the sample" in out
    _, again, _ = run(capsys, *argv)
    assert again.split("wall time")[0] == out.split("wall time")[0]  # the same sample


def test_construct_json_has_every_field(capsys):
    status, out, _ = run(
        capsys,
        "construct",
        "--subjects",
        "200",
        "--relations",
        "2",
        "--layout",
        "superposed",
        "--codebook",
        "rademacher",
        "--seed",
        "3",
        "--json",
    )
    assert status == 0
    summary = json.loads(out)
    assert summary["d_model"] == proven_dimension(
        200, 2, layout="superposed", codebook="rademacher"
    )
    assert summary["n_facts"] == summary["n_correct"] == 400
    assert summary["accuracy"] == 1.0 and summary["min_margin"] > 0
    assert summary["params_fact_dependent"] + summary["params_generic"] == summary["params_total"]
    assert summary["failures"] == []
    for key in ("construct_seconds", "recall_seconds", "residual_layout", "d_mlp", "seed"):
        assert key in summary


def test_construct_with_larger_dim_and_bits(capsys):
    status, out, _ = run(
        capsys,
        "construct",
        "--subjects",
        "300",
        "--relations",
        "2",
        "--layout",
        "block",
        "--codebook",
        "grid",
        "--bits",
        "3",
        "--dim",
        "40",
        "--json",
    )
    summary = json.loads(out)
    assert status == 0 and summary["d_model"] == 40
    assert summary["codebook_parameters"] == {"bits": 3}


def test_dimension_says_which_d_it_prints(capsys):
    status, out, _ = run(capsys, "dimension", "--subjects", "10000", "--relations", "8")
    lines = out.splitlines()
    assert status == 0 and lines[0].split()[:3] == ["proved", "d", str(proven_dimension(10_000, 8))]
    assert lines[1].split()[:3] == ["predicted", "d", str(predicted_min_dimension(10_000, 8))]
    assert len(lines) == 2  # nothing measured unless asked
    status, out, _ = run(capsys, "dimension", "--subjects", "300", "--relations", "2", "--measure")
    measured = out.splitlines()[2].split()
    found = measure_min_dimension(300, 2)
    assert status == 0 and measured[:4] == ["measured", "d", str(found.d), "(every_fact"]
    grid = ["--layout", "block", "--codebook", "grid"]
    _, out, _ = run(capsys, "dimension", "--subjects", "300", "--relations", "2", *grid)
    assert len(out.splitlines()) == 1  # no estimate covers grid codes: no predicted line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["construct", "--subjects", "10", "--relations", "4", "--dim", "4"], "requires d >= 5"),
        (["construct", "--subjects", "0", "--relations", "4"], "n_subjects must be"),
        (["construct", "--subjects", "10", "--relations", "0"], "n_relations must be"),
        (
            ["dimension", "--subjects", "10", "--relations", "2", "--codebook", "grid"],
            "unit-norm",
        ),
        (["construct", "--subjects", "10", "--relations", "2", "--bits", "8"], "--bits applies"),
        (
            [
                *("construct", "--subjects", "10", "--relations", "2"),
                *("--codebook", "grid", "--layout", "block", "--bits", "0"),
            ],
            "bits",
        ),
        (
            [
                *("construct", "--subjects", "10", "--relations", "2"),
                *("--codebook", "grid", "--max-coherence", "0.3"),
            ],
            "--max-coherence applies to gaussian",
        ),
        (
            [
                *("construct", "--subjects", "10", "--relations", "2"),
                *("--codebook", "bch", "--max-coherence", "1.5"),
            ],
            "max_coherence must lie in (0, 1)",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err and err.count("\n") == 1
    assert out == ""


def test_argparse_rejects_non_integers(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["construct", "--subjects", "ten", "--relations", "2"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'ten'" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_runs_small(capsys):
    status, out, _ = run(capsys, "demo", "--subjects", "300", "--relations", "2")
    assert status == 0
    assert "recall           600 / 600 facts" in out
    table = [line for line in out.splitlines() if line.startswith("| ") and "layout" not in line]
    assert len(table) == 12
    for line in table:
        recalled = line.split("|")[9].strip()
        done, total = recalled.split("/")
        assert done == total


def test_bounds_prints_the_lower_bounds_beside_the_constructions(capsys):
    status, out, _ = run(
        capsys, "bounds", "--subjects", "65536", "--relations", "4", "--bits", "8", "--json"
    )
    assert status == 0
    summary = json.loads(out)
    assert summary["per_subject_bits"] == 64.0 and summary["per_subject_min_d_s"] == 8
    grid = summary["constructions"][0]
    assert (grid["layout"], grid["codebook"], grid["d_s"]) == ("block", "grid", 8)
    status, out, _ = run(capsys, "bounds", "--subjects", "65536", "--relations", "4")
    assert status == 0 and "| block | grid | 8 | 1.00 | 12 |" in out


def test_over_budget_requests_exit_2_with_the_bytes_needed(capsys):
    status, _, err = run(
        capsys,
        "construct",
        "--subjects",
        "10000000",
        "--relations",
        "16",
        "--codebook",
        "gaussian",
    )
    assert status == 2 and "this construction would need about" in err and "8.00 GiB" in err
    status, _, err = run(
        capsys, "construct", "--subjects", "1000", "--relations", "2", "--memory-budget", "64K"
    )
    assert status == 2 and "memory budget of 65,536 bytes" in err


def test_memory_budget_must_be_a_byte_count(capsys):
    with pytest.raises(SystemExit):
        main(["construct", "--subjects", "10", "--relations", "2", "--memory-budget", "lots"])
    assert "not a byte count: 'lots'" in capsys.readouterr().err


def test_bench_json_rows_recall_everything(capsys):
    assert main(["bench", "--subjects", "300,600", "--relations", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["n_subjects"], row["n_relations"]) for row in rows] == [(300, 2), (600, 2)]
    for row in rows:
        assert row["n_facts"] == row["n_subjects"] * row["n_relations"]
        assert row["n_certified_correct"] == row["n_exact_correct"] == row["n_facts"]
        assert row["n_fallback"] == 0
        assert row["certified_seconds"] > 0 and row["table_read_seconds"] > 0
        assert row["reference_seconds"] > 0 and row["exact_throughput_to_reference"] > 0
        assert row["peak_rss_mib"] > 0


def test_bench_table_and_exact_limit(capsys):
    assert main(["bench", "--subjects", "400", "--relations", "3", "--exact-limit", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| N | R | layout | codebook | dtype | d |") and len(lines) == 3
    cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert cells[:2] == ["400", "3"]
    assert cells[2:5] == ["block", "grid", "float64"] and cells[6] == "1,200"
    assert cells[13] == "—"  # exact recall skipped: over the limit


@pytest.mark.slow
def test_bench_exact_path_keeps_pace_with_the_matrix_product():
    # a ratio, not a timing: exact recall does the unembedding product plus O(1) passes over
    # cache-resident logits (measured 0.44-0.76 on 2 cores); a 3x slack
    row = bench_size(20_000, 4, repeats=2)
    assert row.n_exact_correct == row.n_facts
    assert row.exact_throughput_to_reference > 0.15, row


def test_construct_certified_with_bch_codes(capsys):
    argv = ["construct", "--subjects", "300", "--relations", "3", "--layout", "superposed"]
    argv += ["--codebook", "bch", "--max-coherence", "0.875", "--method", "certified", "--json"]
    status, out, _ = run(capsys, *argv)
    summary = json.loads(out)
    assert status == 0
    assert summary["method"] == "certified" and summary["n_fallback"] == 0
    assert summary["basis"] == "certified"  # every fact proved: the verdict says so
    assert summary["n_correct"] == summary["n_facts"] == 900
    assert summary["codebook"] == "bch"
    assert summary["codebook_parameters"] == {"max_coherence": 0.875}
    assert summary["min_margin"] > 0


def test_construct_with_precision_reports_storage_efficiency(capsys):
    argv = ["construct", "--subjects", "4096", "--relations", "2", "--layout", "block"]
    argv += ["--codebook", "grid", "--bits", "4"]
    argv += ["--precision", "int4", "--method", "certified", "--json"]
    status, out, _ = run(capsys, *argv)
    summary = json.loads(out)
    assert status == 0 and summary["n_correct"] == summary["n_facts"] == 8192
    assert summary["precision"] == "int4"
    assert summary["storage_efficiency_per_subject"] == pytest.approx(1.0)  # 12 bits = 3 digits
    status, _, err = run(
        capsys, "construct", "--subjects", "10", "--relations", "2", "--precision", "int99"
    )
    assert status == 2 and "format must be one of" in err


def test_multihop_prints_the_report_beside_the_bound(capsys):
    argv = ["multihop", "--entities", "300", "--relations", "3", "--hops", "3", "--steps", "1"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "H=3 hops in L=1 steps (g=3 hops a pass, 1 pass)" in out
    assert "entity d_s       78 = 39 chains x k=2" in out  # D_3 = 3 + 9 + 27, 300 > 2^8
    assert "recall           8,100 / 8,100 (accuracy 1.000000) over all 8,100 queries" in out
    assert "per-pass bound   d_s >= " in out and "leakage <= " in out


def test_multihop_runs_with_unit_codes(capsys):
    """Regression: ``--bits`` defaulted to 8 and unit codes refuse it, so this always exited 2."""
    argv = ["multihop", "--entities", "60", "--relations", "2", "--hops", "2", "--steps", "1"]
    status, out, err = run(capsys, *argv, "--codebook", "gaussian", "--json")
    assert status == 0, err
    summary = json.loads(out)
    assert summary["n_correct"] == summary["n_queries"] == 60 * 4
    status, _, err = run(capsys, *argv, "--codebook", "gaussian", "--bits", "8")
    assert status == 2 and "--bits applies to grid codes" in err


def test_multihop_json_samples_above_the_limit(capsys):
    argv = [
        *("multihop", "--entities", "100", "--relations", "2", "--hops", "4", "--steps", "4"),
        *("--max-queries", "500", "--sample-size", "300", "--json"),
    ]
    status, out, _ = run(capsys, *argv)
    summary = json.loads(out)
    assert status == 0
    assert summary["sampled"] and summary["n_queries"] == 300 and summary["total_queries"] == 1600
    assert summary["pass_correct"] == [300, 300, 300, 300]
    assert summary["passes"] == 4 and summary["hops_per_pass"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--hops", "2", "--steps", "3"], "steps must lie in 1..hops=2"),
        (["--hops", "2", "--steps", "1", "--dim", "10"], "requires d >= "),
        (["--hops", "0", "--steps", "1"], "hops must be an integer >= 1"),
    ],
)
def test_multihop_bad_arguments_exit_2(capsys, argv, message):
    status, out, err = run(capsys, "multihop", "--entities", "50", "--relations", "2", *argv)
    assert status == 2 and message in err and out == ""


def test_table_tradeoff_in_every_format_with_a_plot(capsys, tmp_path):
    argv = ["table", "tradeoff", "--entities", "512", "--relations", "3", "--hops", "1,2,3"]
    status, out, _ = run(capsys, *argv, "--format", "json", "--plot", str(tmp_path / "t.png"))
    rows = json.loads(out)
    assert status == 0 and len(rows) == 6
    assert {row["recall_accuracy"] for row in rows} == {1.0}
    assert (tmp_path / "t.png").stat().st_size > 10_000
    status, out, _ = run(capsys, *argv, "--save", str(tmp_path / "t"))
    assert status == 0 and "| H | L | hops/pass g |" in out and "6 rows in" in out
    for suffix in ("md", "csv", "json", "tex"):
        assert (tmp_path / f"t.{suffix}").read_text()


def test_multihop_report_lists_failures(capsys):
    import dataclasses
    import io

    from geoconstruct.cli.printing import print_multi_hop
    from geoconstruct.cli.reports import MultiHopSummary
    from geoconstruct.verification.report import ChainFailure

    argv = ["multihop", "--entities", "40", "--relations", "2", "--hops", "2", "--steps", "2"]
    assert main([*argv, "--json"]) == 0
    summary = MultiHopSummary(**json.loads(capsys.readouterr().out))
    summary = dataclasses.replace(summary, failures=[ChainFailure(3, (0, 1), 7, 9, 1)._asdict()])
    out = io.StringIO()
    print_multi_hop(summary, out)
    assert "failed: entity 3, chain (0, 1): expected 7, predicted 9 (first wrong at pass 1)" in (
        out.getvalue()
    )


def test_train_reads_the_trained_model_with_every_probe(capsys):
    size = ["train", "--subjects", "40", "--relations", "2", "--dim", "8", "--steps", "200"]
    status, out, _ = run(capsys, *size, "--no-control", "--json")
    assert status == 0
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["model"] == "trained" and row["d_model"] == 8 and row["d_mlp"] == 32
    for key in ("accuracy", "superposition_r2", "selector_verdict", "intervention_success"):
        assert key in row
    assert 0 <= row["transfer"] <= 1 and row["transfer_seeds"] == [1, 2, 3]
    status, out, _ = run(capsys, *size, "--freeze-embeddings")
    assert status == 0
    assert out.startswith("trained, frozen embeddings: N=40 subjects, R=2 relations, d_model=8")
    assert "superposition R²" in out and "intervention" in out and "transfer" in out


def test_train_trains_the_frozen_embedding_control_beside_the_model(capsys):
    """The README's claim row promises the control: by default both are trained and compared."""
    size = ["train", "--subjects", "40", "--relations", "2", "--dim", "8", "--steps", "100"]
    status, out, _ = run(capsys, *size, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [row["model"] for row in rows] == [
        "trained",
        "trained, frozen embeddings",
    ]
    status, out, _ = run(capsys, *size)
    trained, control = out.split("trained, frozen embeddings: ")
    assert trained.startswith("trained: N=40") and "final loss" in control
    r2 = [f"{row['superposition_r2']:.3f}" for row in rows]
    assert f"superposition R² {r2[1]} against {r2[0]} trained" in out.splitlines()[-1]
    status, _, err = run(capsys, *size, "--freeze-embeddings", "--no-control")
    assert status == 2 and "give one of them" in err


def test_certified_says_what_it_certified(capsys):
    """Regression: on random codes below the proof nothing is certified, and the margin printed
    is the forward pass's, not "a certified lower bound"."""
    argv = ["construct", "--subjects", "300", "--relations", "2", "--dim", "40"]
    status, out, _ = run(capsys, *argv, "--method", "certified")
    assert "a certified lower bound" not in out and "lower bound" not in out
    assert "0 facts certified, 600 left to the forward pass (nothing certified: " in out
    grid = ["--layout", "block", "--codebook", "grid", "--method", "certified"]
    status, out, _ = run(capsys, "construct", "--subjects", "300", "--relations", "2", *grid)
    assert status == 0 and "(a certified lower bound)" in out
    assert "600 facts certified, 0 left to the forward pass" in out


def test_a_bad_sample_size_is_refused_before_the_build(capsys, monkeypatch):
    """Regression: ``--sample-size 0`` was refused only after the build, naming ``sample``."""
    import geoconstruct.cli.reports as reports

    def no_build(*args, **kwargs):
        raise AssertionError("built before the arguments were checked")

    monkeypatch.setattr(reports, "construct_single_hop", no_build)
    status, out, err = run(
        capsys, "construct", "--subjects", "300", "--relations", "2", "--sample-size", "0"
    )
    assert status == 2 and out == "" and "--sample-size must be an integer >= 1" in err


def test_a_quantised_construction_does_not_keep_a_guarantee_it_lost(capsys):
    """Regression: ``--precision int2`` printed "every fact with probability >= 0.99" beside
    376/600 recalled."""
    argv = ["construct", "--subjects", "300", "--relations", "2", "--precision", "int2"]
    status, out, _ = run(capsys, *argv, "--json")
    summary = json.loads(out)
    assert summary["n_correct"] < summary["n_facts"]
    assert summary["guarantee"].startswith("none: rounding to int2 rewrote the subject embeddings")
    lossless = ["--layout", "block", "--codebook", "grid", "--precision", "int8", "--json"]
    status, out, _ = run(capsys, "construct", "--subjects", "300", "--relations", "2", *lossless)
    assert status == 0 and json.loads(out)["guarantee"].startswith("every fact")


def test_table_save_survives_nnsight_in_the_same_process(tmp_path):
    """nnsight gives every object a ``save`` method once imported; argparse then took ``--save``
    for set and never wrote its default, and ``table`` failed with an internal error."""
    import subprocess
    import sys

    prefix = tmp_path / "rows"
    script = (
        "import nnsight\nfrom geoconstruct.cli import main\n"
        "raise SystemExit(main(['table', 'baselines', '--subjects', '64', '--relations', '1', "
        f"'--quiet', '--save', {str(prefix)!r}]))\n"
    )
    path = tmp_path / "with_nnsight.py"
    path.write_text(script)
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rows.json").exists()


def test_construct_prints_the_accuracy_of_each_relation(capsys):
    """The per-relation figures the report gives, on the command line, against ``predict``."""
    import numpy as np

    from geoconstruct import construct_single_hop

    argv = ["construct", "--subjects", "300", "--relations", "3", "--dim", "40", "--quiet"]
    status, out, _ = run(capsys, *argv)
    construction = construct_single_hop(300, 3, 40, seed=0)
    subjects = np.arange(300)
    shares = [
        float(np.mean(construction.predict(subjects, r) == construction.facts.answer(subjects, r)))
        for r in range(3)
    ]
    assert status == 1 and min(shares) < 1.0  # below the proof: some facts are missed
    expected = ", ".join(f"{share:.4f}" for share in shares)
    assert f"by relation      {expected}  (r = 0..2)" in out
    status, out, _ = run(capsys, *argv, "--json")
    assert json.loads(out)["relation_accuracy"] == pytest.approx(shares, abs=1e-12)
