"""The README's and the docs' Python blocks run as written, the README's quick start has exactly
two commands, and the generated blocks are current."""

import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
DOC_PAGES = ["docs/guide.md", "docs/results/multi_hop.md", "docs/results/transfer.md"]
DOC_PAGES += ["docs/results/baselines.md", "docs/results/disjoint.md"]


def run_blocks(pages, namespace):
    """Run every Python block of ``pages``, in order, as one session."""
    count = 0
    for page in pages:
        text = (ROOT / page).read_text()
        for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL):
            exec(compile(block, page, "exec"), namespace)
            count += 1
    return count


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    assert run_blocks(["README.md"], namespace) >= 1
    assert namespace["report"].n_correct == namespace["report"].n_queries == 8000
    assert namespace["c"].guarantee.scope == "with_probability"
    assert 0.0 < namespace["sampled"].accuracy_interval[0] <= namespace["sampled"].accuracy
    assert namespace["exact"].config.d_model == 24


@pytest.mark.slow  # the guide's and results pages' code at their full sizes: about a minute
def test_docs_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    assert run_blocks(DOC_PAGES, namespace) >= 5
    assert namespace["report"].n_correct == 80_000
    assert namespace["d"] == 24
    assert namespace["hop_report"].n_correct == 27_000
    assert namespace["d_one_pass"] == 100
    assert namespace["d_disjoint"] == 12 and namespace["disjoint_report"].accuracy == 1.0
    assert namespace["predicted_d"] == 211
    assert abs(namespace["measured_accuracy"] - namespace["predicted_at_150"]) < 0.001


def test_readme_is_the_front_door():
    assert len(README.splitlines()) <= 250
    assert "## The paper's claims, one command each" in README and "2605.12426" in README


def test_quick_start_commands_match_ci():
    quick_start = README.split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick_start, flags=re.DOTALL)
    assert len(commands) == 2
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_generated_blocks_are_up_to_date():
    import subprocess
    import sys

    tool = Path(__file__).parent.parent / "tools" / "render_docs.py"
    result = subprocess.run(
        [sys.executable, str(tool), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_api_reference_renders_every_public_module():
    package = ROOT / "geoconstruct"
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if path.name != "__main__.py"
        and not any(part.startswith("_") for part in path.relative_to(package).parts[:-1])
        and not (path.name.startswith("_") and path.name != "__init__.py")
    }
    pages = (ROOT / "docs" / "api").glob("*.md")
    rendered = {
        name for page in pages for name in re.findall(r"^::: (\S+)$", page.read_text(), re.M)
    }
    assert modules == rendered


SMALLER = {"--subjects": 300, "--entities": 256, "--relations": 2, "--hops": 2}
"""Each README command runs here with its sizes capped at these (the options and the code path
stay as written; the full sizes are the results pages' measurements)."""


CLAIMS_SECTION = README.split("## The paper's claims, one command each")[1].split("\n## ")[0]


def readme_commands():
    """The README's commands outside the claims table (whose rows have their own test below)."""
    commands = set(re.findall(r"`(?:\$ )?geoconstruct ([^`]*)`", README))
    claims = set(re.findall(r"`geoconstruct ([^`]*)`", CLAIMS_SECTION))
    assert len(commands) >= 9 and len(claims) >= 9
    return sorted(commands - claims)


def _smaller(argv, tmp_path):
    out = list(argv)
    for index, word in enumerate(out[:-1]):
        if word in SMALLER:
            values = sorted({min(int(value), SMALLER[word]) for value in out[index + 1].split(",")})
            out[index + 1] = ",".join(str(value) for value in values)
        if word in ("--plot", "--save"):
            out[index + 1] = str(tmp_path / Path(out[index + 1]).name)
    return out + (["--quiet"] if argv[0] in ("construct", "table", "demo", "transfer") else [])


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_command_runs(command, tmp_path, capsys):
    from geoconstruct.cli import main

    argv = _smaller(command.split(), tmp_path)
    if argv[0] == "demo":  # its sizes are fixed: run it at the capped ones
        argv += ["--subjects", "300", "--relations", "2"]
    assert main(argv) == 0, argv
    out, _ = capsys.readouterr()
    if argv[0] == "demo":  # every fact of the construction, then of every row of its table
        _every_fact_recalled(out, 600)
        for row in _table(out):
            recalled, queries = row["recalled"].split("/")
            assert recalled == queries, row
    else:  # the transition tables whose JSON makes the README's summary block
        assert argv[:2] == ["table", "transition"], argv
        first, last = argv[argv.index("--seeds") + 1].split("-")
        _transition(out, n_seeds=int(last) - int(first) + 1)
        assert Path(argv[argv.index("--save") + 1] + ".json").is_file()


def _table(out):
    """The rows of the first Markdown table in ``out``, as dicts keyed by its header."""
    lines = [line for line in out.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def _every_fact_recalled(out, n_facts):
    assert f"recall           {n_facts:,} / {n_facts:,} facts (accuracy 1.000000)" in out
    assert "the forward pass on every prompt" in out and "guarantee        every fact" in out
    assert float(re.search(r"min margin\s+(\S+)", out).group(1)) > 0


def _sampled_with_interval(out):
    sample = re.search(r"recall\s+([\d,]+) / 10,000 facts \(a seeded sample of ([\d,]+);", out)
    assert sample and int(sample.group(2).replace(",", "")) > 10_000
    assert "95 % interval [" in out and "the forward pass on every prompt of the sample" in out


def _memories(out):
    rows = _table(out)
    assert {row["memory"] for row in rows} == {"geometric", "outer_product", "key_value"}
    for row in rows:  # every query of every seed, and the estimate within 10 % of the law
        assert row["basis"] in ("every_fact", "certified")
        measured = int(re.fullmatch(r"(\d+) \[\d+, \d+\]", row["d_50 [95 %]"]).group(1))
        assert abs(int(row["predicted d_50"]) - measured) <= 0.1 * measured


def _transition(out, n_seeds=50):
    rows = _table(out)
    for row in rows:  # every query of every seed at these sizes (below the work limit)
        assert row["basis"] == "every_fact"
    assert min(float(row["P(every fact)"]) for row in rows) < 0.5  # below the transition
    assert max(float(row["P(every fact)"]) for row in rows) == 1.0  # and above it
    for row in rows:  # the share of the seeds, its exact interval, and the fitted law's quantiles
        share = int(row["all facts, seeds"]) / n_seeds
        assert share == pytest.approx(float(row["P(every fact)"]), abs=0.005)
        low, high = (float(end) for end in row["95 % interval"].split("-"))
        assert low <= float(row["P(every fact)"]) <= high
        for name in ("d_50 [95 %]", "d_95 [95 %]"):
            value, low, high = re.fullmatch(r"(\d+) \[(\d+), (\d+)\]", row[name]).groups()
            assert int(low) <= int(value) <= int(high)
        assert int(row["predicted d_50"]) <= int(row["predicted d_95"]) <= int(row["proven d"])


def _precision(out):
    rows = _table(out)
    formats = ["float32", "float16", "bfloat16", "int8"]  # one row each, for every N
    assert rows and [row["precision"] for row in rows] == formats * (len(rows) // 4)
    for row in rows:
        assert row["min d basis"] == "every_fact" and int(row["min d"]) <= int(row["proven d"])
        for column in ("R·log2 N", "per-subject bound d_s", "global bound d_s", "packing bound k"):
            assert float(row[column]) > 0
        assert float(row["fact bits / parameter"]) > 0


def _bounds(out):
    assert "per-subject bound   R·log2 N = 64.00 bits -> d_s >= 8" in out
    rows = {(row["layout"], row["codebook"]): row for row in _table(out)}
    assert rows["block", "grid"]["d_s / per-subject bound"] == "1.00"  # meets the bound
    assert ("superposed", "gaussian") in rows


def _transfer(out):
    assert "new facts recalled     8,000 / 8,000  after rewriting" in out
    assert re.search(r"fitted from weights\s+R² = [\d.]+; new facts recalled 8,000 / 8,000", out)
    assert "unchanged bit for bit: attention, MLP, unembedding" in out


def _tradeoff(out):
    rows = _table(out)
    assert len(rows) == 10  # every (H, L) with L <= H <= 4
    for row in rows:
        assert 1.333 <= float(row["d_s / bound"]) <= 1.34 and row["recall"] == "1.0000"


def _baselines(out):
    sizes = {}
    for row in _table(out):
        sizes.setdefault((row["N"], row["R"]), {})[row["model"]] = row
    for models in sizes.values():  # each model at each size
        assert set(models) == {"geometric", "key_value", "outer_product"}
        assert float(models["geometric"]["transfer (new facts)"]) == 1.0
        geometric, key_value = models["geometric"], models["key_value"]
        assert float(geometric["params / fact"]) < float(key_value["params / fact"])
        for row in models.values():
            assert row["recall"] == "1.0000" and float(row["superposition R²"]) >= 0


def _train(out):
    for probe in ("recall", "superposition R²", "MLP verdict", "intervention", "transfer"):
        assert out.count(f"\n{probe} ") == 2  # the trained model and the control
    assert "trained, frozen embeddings: N=256" in out
    assert re.search(r"^control: with W_E frozen .* against [\d.]+ trained", out, re.M)


def _certified(out):
    assert "600 facts certified, 0 left to the forward pass" in out
    assert "(a certified lower bound)" in out


CLAIM_CHECKS = {
    "construct --subjects 10000 --relations 4": (
        {"--subjects": "300", "--relations": "2"},
        lambda out: _every_fact_recalled(out, 600),
    ),
    "construct --subjects 1048576 --relations 4 --dtype float32 --sample-size 10000 "
    "--memory-budget 24G": (
        {"--subjects": "4096", "--memory-budget": "2G"},
        _sampled_with_interval,
    ),
    "table transition --subjects 256,1024,4096 --relations 2,4,8 --seeds 0-49": (
        {"--subjects": "256", "--relations": "2"},
        _transition,
    ),
    "table transition --memory geometric,outer_product,key_value --subjects 256,1024,4096 "
    "--relations 1,4 --seeds 0-19": ({"--subjects": "256", "--relations": "4"}, _memories),
    "table dimension --subjects 1024,16384 --relations 4 --precision "
    "float32,float16,bfloat16,int8": ({"--subjects": "256"}, _precision),
    "bounds --subjects 65536 --relations 4": ({}, _bounds),
    "transfer --subjects 2000 --relations 4": ({}, _transfer),
    "table tradeoff --entities 4096 --relations 4 --hops 1,2,3,4 --codebook grid "
    "--precision int8": ({}, _tradeoff),
    "table baselines --subjects 256,4096 --relations 1,4": (
        {"--subjects": "256", "--relations": "1"},
        _baselines,
    ),
    "train --subjects 256 --relations 2 --dim 32": ({"--steps": "100"}, _train),
    "construct --subjects 100000 --relations 16 --codebook grid --layout block --method "
    "certified": ({"--subjects": "300", "--relations": "2"}, _certified),
}
"""Each claims-table row's command, the sizes it runs at here (capped where the full size takes
minutes; docs/results and the issue's closing note give the full-size runs), and what its output
must show: the figure or the word the row promises."""


def claim_commands():
    return re.findall(r"^\| [^|]+ \| `geoconstruct ([^`]*)` \|", CLAIMS_SECTION, flags=re.M)


def test_every_claim_row_has_a_check():
    assert sorted(claim_commands()) == sorted(CLAIM_CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(CLAIM_CHECKS))
def test_each_claim_command_prints_its_claim(command, capsys):
    from geoconstruct.cli import main

    caps, check = CLAIM_CHECKS[command]
    argv = command.split()
    for option, value in caps.items():
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    quiet = ["--quiet"] if argv[0] != "bounds" else []
    assert main(argv + quiet) == 0, argv
    out, _ = capsys.readouterr()
    check(out)


def test_the_claimed_proof_range_is_the_code_s():
    """The claims row's "proved from A–B·R·log2 N" is proven_dimension's range over the sizes the
    results pages measure (N = 2^8 … 2^14, R = 2, 4, 8), as the code gives it now."""
    from geoconstruct import proven_dimension

    row = next(line for line in CLAIMS_SECTION.splitlines() if "logarithmic dimension" in line)
    low, high = (
        float(v) for v in re.search(r"proved from ([\d.]+)\u2013([\d.]+)·R·log2 N", row).groups()
    )
    ratios = [
        proven_dimension(n, r) / (r * math.log2(n))
        for n in (256, 1024, 4096, 16384)
        for r in (2, 4, 8)
    ]
    assert (low, high) == (round(min(ratios), 2), round(max(ratios), 2))


def test_the_mutation_count_is_the_mutation_test_s():
    import sys

    sys.path.insert(0, str(ROOT / "proofs"))
    import test_sympy_checks

    stated = re.search(r"each\s+of (\d+) planted errors", README)
    assert stated and int(stated.group(1)) == len(test_sympy_checks.MUTATIONS)
