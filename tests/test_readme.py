"""The README's and the docs' Python blocks run as written, the README's quick start has exactly
two commands, and the generated blocks are current."""

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
    rendered = set(re.findall(r"^::: (\S+)$", (ROOT / "docs" / "api.md").read_text(), re.M))
    assert modules == rendered


SMALLER = {"--subjects": 300, "--entities": 256, "--relations": 2, "--hops": 2}
"""Each README command runs here with its sizes capped at these (the options and the code path
stay as written; the full sizes are the results pages' measurements)."""


def readme_commands():
    commands = re.findall(r"`(?:\$ )?geoconstruct ([^`]*)`", README)
    assert len(commands) >= 9
    return sorted(set(commands))


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
    assert out.strip(), argv
