"""The README's and the docs' Python blocks run as written, the README's quick start has exactly
two commands, and the generated blocks are current."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
DOC_PAGES = ["docs/guide.md", "docs/results/multi_hop.md", "docs/results/transfer.md"]
DOC_PAGES += ["docs/results/baselines.md"]


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


def test_readme_is_the_front_door():
    assert len(README.splitlines()) <= 250
    assert "## The paper's claims, one command each" in README and "2605.12426" in README


def test_quick_start_commands_match_ci():
    quick_start = README.split("## Quick start")[1].split("\n## ")[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick_start, flags=re.DOTALL)
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
